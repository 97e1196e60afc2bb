//! What one shard owns: its partition of every table.
#![allow(dead_code)]

use crate::runtime::Shard;
use std::rc::Rc;
use std::sync::Arc;

/// Process-wide engine state shared by all shards: the catalog snapshot and the commit clock.
pub struct Engine {}

impl Engine {
    /// Open the engine over a data directory with `shards` shards.
    pub fn new(shards: usize) -> Arc<Engine> {
        let _ = shards;
        Arc::new(Engine {})
    }

    /// The state a new shard starts with.
    pub fn shard_state(self: &Arc<Engine>, id: usize) -> ShardState {
        ShardState {
            id,
            engine: self.clone(),
        }
    }
}

/// One shard's state.
pub struct ShardState {
    id: usize,
    engine: Arc<Engine>,
}

/// A shard as sessions hold it.
pub type ShardRef = Rc<Shard<ShardState>>;
