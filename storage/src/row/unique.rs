//! One shard's partition of the UNIQUE constraints other than the primary key.
//!
//! A unique key can be violated by rows on different shards, so each key is owned by the shard
//! its hash picks, whatever shard holds the row. Keys carry a committed presence and at most
//! one pending change, like rows.

use super::{RowError, WriterId};
use hashbrown::HashMap;

#[derive(Debug, Clone, Copy)]
struct KeyState {
    committed: bool,
    /// (writer, present after its change)
    pending: Option<(WriterId, bool)>,
}

/// Unique keys of every constraint owned by this shard, by (constraint id, encoded key).
#[derive(Debug, Default)]
pub struct UniqueKeys {
    keys: HashMap<(u64, Box<[u8]>), KeyState>,
}

impl UniqueKeys {
    /// Claim `key` for `writer`: fails if it is present for the writer, or being changed by another.
    pub fn reserve(
        &mut self,
        constraint: u64,
        key: &[u8],
        writer: WriterId,
    ) -> Result<(), RowError> {
        let state = self
            .keys
            .entry((constraint, key.into()))
            .or_insert(KeyState {
                committed: false,
                pending: None,
            });
        match state.pending {
            Some((w, _)) if w != writer => Err(RowError::Busy(w)),
            Some((_, true)) => Err(duplicate()),
            Some((_, false)) => {
                state.pending = Some((writer, true));
                Ok(())
            }
            None if state.committed => Err(duplicate()),
            None => {
                state.pending = Some((writer, true));
                Ok(())
            }
        }
    }

    /// Whether `reserve` would succeed, without changing anything (INSERT … ON CONFLICT's
    /// probe for a conflicting key).
    pub fn check(&self, constraint: u64, key: &[u8], writer: WriterId) -> Result<(), RowError> {
        let Some(state) = self.keys.get(&(constraint, Box::from(key))) else {
            return Ok(());
        };
        match state.pending {
            Some((w, _)) if w != writer => Err(RowError::Busy(w)),
            Some((_, true)) => Err(duplicate()),
            Some((_, false)) => Ok(()),
            None if state.committed => Err(duplicate()),
            None => Ok(()),
        }
    }

    /// Undo `writer`'s last change of `key`: its pending change goes back to `before` (what
    /// `pending_change` said before that change; `None`: no change at all).
    pub fn restore(&mut self, constraint: u64, key: &[u8], writer: WriterId, before: Option<bool>) {
        match before {
            None => self.rollback(constraint, key, writer),
            Some(present) => {
                if let Some(state) = self.keys.get_mut(&(constraint, Box::from(key)))
                    && matches!(state.pending, Some((w, _)) if w == writer)
                {
                    state.pending = Some((writer, present));
                }
            }
        }
    }

    /// Give up `key` (its row is deleted or its value changed) when `writer` commits.
    pub fn release(
        &mut self,
        constraint: u64,
        key: &[u8],
        writer: WriterId,
    ) -> Result<(), RowError> {
        let Some(state) = self.keys.get_mut(&(constraint, Box::from(key))) else {
            return Ok(());
        };
        match state.pending {
            Some((w, _)) if w != writer => Err(RowError::Busy(w)),
            _ => {
                state.pending = Some((writer, false));
                Ok(())
            }
        }
    }

    pub fn commit(&mut self, constraint: u64, key: &[u8], writer: WriterId) {
        let k = (constraint, Box::from(key));
        if let Some(state) = self.keys.get_mut(&k) {
            if let Some((w, present)) = state.pending
                && w == writer
            {
                state.committed = present;
                state.pending = None;
            }
            if !state.committed && state.pending.is_none() {
                self.keys.remove(&k);
            }
        }
    }

    /// What `writer` will make of the key at commit (present or not), if it changes it.
    pub fn pending_change(&self, constraint: u64, key: &[u8], writer: WriterId) -> Option<bool> {
        let state = self.keys.get(&(constraint, Box::from(key)))?;
        match state.pending {
            Some((w, present)) if w == writer => Some(present),
            _ => None,
        }
    }

    /// Recovery: the key is committed present or absent.
    pub fn replay(&mut self, constraint: u64, key: &[u8], present: bool) {
        if present {
            self.keys.insert(
                (constraint, key.into()),
                KeyState {
                    committed: true,
                    pending: None,
                },
            );
        } else {
            self.keys.remove(&(constraint, Box::from(key)));
        }
    }

    /// Every committed key (for checkpoints): (constraint, key).
    pub fn committed(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.keys
            .iter()
            .filter(|(_, s)| s.committed)
            .map(|((c, k), _)| (*c, &k[..]))
    }

    /// Forget every key of a dropped constraint (its id is never used again) or of a
    /// truncated table's constraint.
    pub fn forget(&mut self, constraint: u64) {
        self.keys.retain(|(c, _), _| *c != constraint);
    }

    pub fn rollback(&mut self, constraint: u64, key: &[u8], writer: WriterId) {
        let k = (constraint, Box::from(key));
        if let Some(state) = self.keys.get_mut(&k) {
            if matches!(state.pending, Some((w, _)) if w == writer) {
                state.pending = None;
            }
            if !state.committed && state.pending.is_none() {
                self.keys.remove(&k);
            }
        }
    }
}

/// The engine fills in the constraint name; the key store knows only ids.
fn duplicate() -> RowError {
    RowError::UniqueViolation {
        constraint: String::new(),
        columns: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_key_is_a_duplicate_for_everyone() {
        let mut u = UniqueKeys::default();
        u.reserve(1, b"a", 10).unwrap();
        assert_eq!(u.reserve(1, b"a", 11), Err(RowError::Busy(10)));
        u.commit(1, b"a", 10);
        assert!(matches!(
            u.reserve(1, b"a", 11),
            Err(RowError::UniqueViolation { .. })
        ));
    }

    #[test]
    fn rollback_frees_a_reserved_key_and_keeps_a_released_one() {
        let mut u = UniqueKeys::default();
        u.reserve(1, b"a", 10).unwrap();
        u.rollback(1, b"a", 10);
        u.reserve(1, b"a", 11).unwrap();
        u.commit(1, b"a", 11);
        u.release(1, b"a", 12).unwrap();
        u.rollback(1, b"a", 12);
        assert!(matches!(
            u.reserve(1, b"a", 13),
            Err(RowError::UniqueViolation { .. })
        ));
    }

    #[test]
    fn check_agrees_with_reserve_and_restore_undoes_a_reservation() {
        let mut u = UniqueKeys::default();
        assert_eq!(u.check(1, b"a", 10), Ok(()));
        u.reserve(1, b"a", 10).unwrap();
        assert_eq!(u.check(1, b"a", 11), Err(RowError::Busy(10)));
        assert!(u.check(1, b"a", 10).is_err());
        u.restore(1, b"a", 10, None);
        assert_eq!(u.check(1, b"a", 11), Ok(()));
        // A key the writer released goes back to released, not to reserved.
        u.reserve(1, b"b", 10).unwrap();
        u.commit(1, b"b", 10);
        u.release(1, b"b", 11).unwrap();
        let before = u.pending_change(1, b"b", 11);
        assert_eq!(u.check(1, b"b", 11), Ok(()));
        u.reserve(1, b"b", 11).unwrap();
        u.restore(1, b"b", 11, before);
        assert_eq!(u.pending_change(1, b"b", 11), Some(false));
        u.commit(1, b"b", 11);
        assert_eq!(u.check(1, b"b", 12), Ok(()));
    }

    #[test]
    fn forget_drops_only_the_named_constraint() {
        let mut u = UniqueKeys::default();
        for c in [1, 2] {
            u.reserve(c, b"a", 10).unwrap();
            u.commit(c, b"a", 10);
        }
        u.forget(1);
        assert_eq!(u.check(1, b"a", 11), Ok(()));
        assert!(u.check(2, b"a", 11).is_err());
        assert_eq!(u.committed().count(), 1);
    }

    #[test]
    fn a_writer_may_reuse_a_key_it_released() {
        let mut u = UniqueKeys::default();
        u.reserve(1, b"a", 10).unwrap();
        u.commit(1, b"a", 10);
        u.release(1, b"a", 11).unwrap();
        u.reserve(1, b"a", 11).unwrap();
        u.commit(1, b"a", 11);
        assert!(matches!(
            u.reserve(1, b"a", 12),
            Err(RowError::UniqueViolation { .. })
        ));
    }
}
