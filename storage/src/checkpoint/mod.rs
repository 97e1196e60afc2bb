//! What a checkpoint leaves on disk besides segments: the catalog image (schemas, sequences,
//! id counters) and the manifest that names the live segment and WAL files.
//!
//! Both are small files replaced atomically (write, fsync, rename, fsync the directory) by the
//! engine; this module only encodes and validates them. A file that fails validation is an error
//! naming what is wrong: start-up must stop rather than serve wrong data.

mod catalog;
mod envelope;
pub mod manifest;
mod unique;

pub use catalog::{CatalogImage, decode_catalog, encode_catalog};
pub(crate) use catalog::{decode_type, encode_type};
pub use envelope::{open_envelope, seal_envelope};
pub use manifest::{Manifest, SegmentEntry, TableSegments, decode_manifest, encode_manifest};
pub use unique::{decode_unique_keys, encode_unique_keys};
