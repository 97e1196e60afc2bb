//! The classical baseline: `std::collections::BTreeMap` behind `OrderedIndex`.

use super::{DuplicateKey, OrderedIndex};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::Bound;

/// B-tree over owned byte keys.
#[derive(Debug, Clone)]
pub struct BTreeIndex<V> {
    map: BTreeMap<Box<[u8]>, V>,
}

// Written out rather than derived so that an empty index needs no `V: Default`.
impl<V> Default for BTreeIndex<V> {
    fn default() -> Self {
        Self {
            map: BTreeMap::new(),
        }
    }
}

impl<V: Copy> OrderedIndex<V> for BTreeIndex<V> {
    fn get(&self, key: &[u8]) -> Option<V> {
        self.map.get(key).copied()
    }

    fn insert(&mut self, key: &[u8], value: V) -> Result<(), DuplicateKey> {
        match self.map.entry(key.into()) {
            Entry::Occupied(_) => Err(DuplicateKey),
            Entry::Vacant(slot) => {
                slot.insert(value);
                Ok(())
            }
        }
    }

    fn update(&mut self, key: &[u8], value: V) -> Option<V> {
        self.map.get_mut(key).map(|v| std::mem::replace(v, value))
    }

    fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.map.remove(key)
    }

    fn range(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>, visit: &mut dyn FnMut(&[u8], V) -> bool) {
        if let (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) =
            (lo, hi)
        {
            // BTreeMap::range panics on an inverted range; an inverted range is simply empty.
            if l > h || (l == h && !matches!((lo, hi), (Bound::Included(_), Bound::Included(_)))) {
                return;
            }
        }
        for (k, v) in self.map.range::<[u8], _>((lo, hi)) {
            if !visit(k, *v) {
                break;
            }
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}
