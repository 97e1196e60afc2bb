//! The unique-key file a checkpoint writes per shard: the committed keys of the UNIQUE
//! constraints the shard owns, which until the checkpoint only the WAL's key records held.

use super::envelope::{open_envelope, seal_envelope};
use crate::io::{ByteReader, ByteWriter, IoFormatError};

const MAGIC: &[u8; 8] = b"OMENUNIQ";
const VERSION: u32 = 1;

/// Encode (constraint id, encoded key) pairs.
pub fn encode_unique_keys(keys: Vec<(u64, Box<[u8]>)>) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.u64(keys.len() as u64);
    for (constraint, key) in &keys {
        w.u64(*constraint);
        w.bytes(key);
    }
    seal_envelope(MAGIC, VERSION, &w.buf)
}

/// Decode and validate a unique-key file.
pub fn decode_unique_keys(data: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, IoFormatError> {
    let body = open_envelope(data, MAGIC, "unique-key file", VERSION)?;
    let mut r = ByteReader::new(body);
    let n = r.u64()?;
    // Every entry takes at least 12 bytes: a count beyond that is corruption, not a reason
    // to allocate.
    let mut keys = Vec::with_capacity((n as usize).min(r.remaining() / 12));
    for _ in 0..n {
        let constraint = r.u64()?;
        keys.push((constraint, r.bytes()?.to_vec()));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let keys = vec![(1u64, Box::from(&b"abc"[..])), (7, Box::from(&b""[..]))];
        let bytes = encode_unique_keys(keys);
        let back = decode_unique_keys(&bytes).unwrap();
        assert_eq!(back, vec![(1, b"abc".to_vec()), (7, Vec::new())]);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode_unique_keys(&bad).is_err(), "byte {i}");
        }
    }
}
