//! One row-store slot's versions: the committed versions of the row, newest first, each stamped
//! with the commit timestamp that made it, and at most one uncommitted intent of one
//! transaction on top.
//!
//! Visibility: a reader at snapshot `at` sees the newest committed version with `ts <= at`
//! (a version whose row is `None` is a *tombstone*: the row was deleted then), except that a
//! transaction sees its own intent. Versions no snapshot can reach are pruned against the
//! *horizon*, the oldest snapshot still active.
//!
//! Must never decide who waits for whom or hold a version of another slot.

use super::WriterId;
use crate::types::Value;

/// A commit timestamp. Versions written by recovery and rows loaded from checkpointed segments
/// carry 0: older than every snapshot.
pub type Ts = u64;

/// What a statement reads: committed versions as of `at`, plus the writes of `txn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadView {
    pub at: Ts,
    pub txn: WriterId,
}

impl ReadView {
    /// A view that sees every committed version and `txn`'s writes.
    pub fn latest(txn: WriterId) -> ReadView {
        ReadView { at: Ts::MAX, txn }
    }
}

/// One committed version.
#[derive(Debug)]
pub(super) struct Version {
    pub ts: Ts,
    /// `None`: a tombstone.
    pub row: Option<Box<[Value]>>,
}

/// What an uncommitted transaction will do to the row at commit.
#[derive(Debug, Clone)]
pub(super) enum Intent {
    /// Locked (an UPDATE's target before its new row, or a row re-checked and skipped):
    /// commits as no change.
    Lock,
    /// Insert or replace with this row.
    Put(Box<[Value]>),
    Delete,
}

#[derive(Debug)]
pub(super) struct Pending {
    pub writer: WriterId,
    pub intent: Intent,
}

/// A slot: committed versions (`head` the newest, `older` newest first) and a pending intent.
#[derive(Debug, Default)]
pub(super) struct Slot {
    pub head: Option<Version>,
    pub older: Vec<Version>,
    pub pending: Option<Pending>,
}

/// What pruning left of a slot.
pub(super) enum Pruned {
    /// Some version or the pending intent is still reachable.
    Alive,
    /// Nothing is reachable any more: free the slot; the row is the last one it held (for its
    /// key), `None` if it never held a committed row.
    Dead(Option<Box<[Value]>>),
}

impl Slot {
    /// The newest committed row, if the newest version is not a tombstone.
    pub fn newest(&self) -> Option<&[Value]> {
        self.head.as_ref().and_then(|v| v.row.as_deref())
    }

    /// Every row this slot holds: committed versions and a pending put.
    pub fn all_rows(&self) -> impl Iterator<Item = &[Value]> {
        let pending = match self.pending.as_ref().map(|p| &p.intent) {
            Some(Intent::Put(row)) => Some(&row[..]),
            _ => None,
        };
        self.head
            .iter()
            .chain(self.older.iter())
            .filter_map(|v| v.row.as_deref())
            .chain(pending)
    }

    /// The row `view` sees.
    pub fn visible(&self, view: ReadView) -> Option<&[Value]> {
        if let Some(p) = &self.pending
            && p.writer == view.txn
        {
            return match &p.intent {
                Intent::Lock => self.newest(),
                Intent::Put(row) => Some(row),
                Intent::Delete => None,
            };
        }
        self.committed_at(view.at)
    }

    /// The newest committed row as of `at`.
    pub fn committed_at(&self, at: Ts) -> Option<&[Value]> {
        let head = self.head.as_ref()?;
        if head.ts <= at {
            return head.row.as_deref();
        }
        self.older
            .iter()
            .find(|v| v.ts <= at)
            .and_then(|v| v.row.as_deref())
    }

    /// Timestamp of the newest committed version (0 without one).
    pub fn newest_ts(&self) -> Ts {
        self.head.as_ref().map_or(0, |v| v.ts)
    }

    /// No version and no intent: the slot may be reused.
    pub fn is_empty(&self) -> bool {
        self.head.is_none() && self.older.is_empty() && self.pending.is_none()
    }

    pub fn pending_of(&self, writer: WriterId) -> Option<&Pending> {
        self.pending.as_ref().filter(|p| p.writer == writer)
    }

    /// Apply the pending intent as a committed version at `ts`. Returns the change in live
    /// rows (-1, 0, 1) and whether the slot now holds versions some snapshot may outlive.
    pub fn commit(&mut self, ts: Ts) -> (i64, bool) {
        let Some(p) = self.pending.take() else {
            return (0, false);
        };
        let was_live = self.newest().is_some();
        let row = match p.intent {
            Intent::Lock => return (0, false),
            Intent::Put(row) => Some(row),
            Intent::Delete if !was_live => return (0, false),
            Intent::Delete => None,
        };
        let is_live = row.is_some();
        if let Some(old) = self.head.replace(Version { ts, row }) {
            self.older.insert(0, old);
        }
        let garbage = !self.older.is_empty() || !is_live;
        (i64::from(is_live) - i64::from(was_live), garbage)
    }

    /// Drop the versions no snapshot at or after `horizon` can see.
    pub fn prune(&mut self, horizon: Ts) -> Pruned {
        let mut last_row = None;
        match self.head.as_ref() {
            None => {}
            Some(head) if head.ts <= horizon => {
                last_row = self.older.drain(..).rev().find_map(|v| v.row);
                if head.row.is_none() {
                    self.head = None;
                }
            }
            Some(_) => {
                // The newest version at or before the horizon is the oldest anyone needs; a
                // tombstone there is as good as nothing.
                if let Some(i) = self.older.iter().position(|v| v.ts <= horizon) {
                    let keep = if self.older[i].row.is_some() {
                        i + 1
                    } else {
                        i
                    };
                    last_row = self.older.drain(keep..).rev().find_map(|v| v.row);
                }
            }
        }
        if self.is_empty() {
            Pruned::Dead(last_row)
        } else {
            Pruned::Alive
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: i32) -> Box<[Value]> {
        vec![Value::Int32(v)].into()
    }

    fn seen(s: &Slot, at: Ts) -> Option<i32> {
        s.committed_at(at).map(|r| match r[0] {
            Value::Int32(v) => v,
            _ => -1,
        })
    }

    fn write(s: &mut Slot, intent: Intent, ts: Ts) -> (i64, bool) {
        s.pending = Some(Pending { writer: 1, intent });
        s.commit(ts)
    }

    #[test]
    fn a_snapshot_sees_the_newest_version_at_or_before_it() {
        let mut s = Slot::default();
        assert_eq!(write(&mut s, Intent::Put(row(1)), 10), (1, false));
        assert_eq!(write(&mut s, Intent::Put(row(2)), 20), (0, true));
        assert_eq!(write(&mut s, Intent::Delete, 30), (-1, true));
        assert_eq!(
            [5, 10, 19, 20, 29, 30, 99].map(|at| seen(&s, at)),
            [None, Some(1), Some(1), Some(2), Some(2), None, None]
        );
        assert_eq!(write(&mut s, Intent::Put(row(3)), 40), (1, true));
        assert_eq!(seen(&s, 35), None);
        assert_eq!(seen(&s, 40), Some(3));
    }

    #[test]
    fn locks_commit_as_no_change() {
        let mut s = Slot::default();
        write(&mut s, Intent::Put(row(1)), 10);
        assert_eq!(write(&mut s, Intent::Lock, 20), (0, false));
        assert_eq!(s.newest_ts(), 10);
        assert!(s.older.is_empty());
    }

    #[test]
    fn pruning_keeps_what_the_horizon_can_see() {
        let mut s = Slot::default();
        for (v, ts) in [(1, 10), (2, 20), (3, 30)] {
            write(&mut s, Intent::Put(row(v)), ts);
        }
        assert!(matches!(s.prune(25), Pruned::Alive));
        assert_eq!(s.older.len(), 1);
        assert_eq!((seen(&s, 25), seen(&s, 30)), (Some(2), Some(3)));
        assert!(matches!(s.prune(30), Pruned::Alive));
        assert!(s.older.is_empty());
        write(&mut s, Intent::Delete, 40);
        assert!(matches!(s.prune(39), Pruned::Alive));
        assert_eq!(seen(&s, 39), Some(3));
        match s.prune(40) {
            Pruned::Dead(Some(r)) => assert!(matches!(r[0], Value::Int32(3))),
            _ => panic!("a tombstone at the horizon frees the slot"),
        }
    }

    #[test]
    fn a_tombstone_below_the_horizon_is_dropped_with_what_it_hides() {
        let mut s = Slot::default();
        write(&mut s, Intent::Put(row(1)), 10);
        write(&mut s, Intent::Delete, 20);
        write(&mut s, Intent::Put(row(2)), 30);
        assert!(matches!(s.prune(25), Pruned::Alive));
        assert!(s.older.is_empty());
        assert_eq!((seen(&s, 25), seen(&s, 30)), (None, Some(2)));
    }
}
