//! Per-row lock queues of one shard: statements that find a row locked by another transaction
//! line up behind it in arrival order. When the row is released, normally every waiter is woken
//! and they race for it (the one whose retry arrives first takes it at once, so a hot row is
//! never idle waiting for one particular waiter to wake up); losers keep their place and age.
//! But once the first in line has waited `STARVATION_LIMIT`, only it is woken and given the row:
//! an unlucky waiter can no longer lose again and again (TPC-C's multi-second tail). Strict FIFO
//! for every hand-over was measured and costs a third of TPC-C's throughput on hot rows
//! (`bench/results/tpcc.md`).
//!
//! The woken first waiter holds a *grant*: for `GRANT_LEASE` nobody else may take the row (a
//! newcomer lines up at the tail), so it cannot be overtaken between its wake-up and its retry.
//! A grant it does not use in time (its statement failed meanwhile) lapses, and the next
//! attempt on the row, by a newcomer or a waiter's periodic retry, proceeds.
//!
//! Plain single-threaded data (a shard owns its queues); it knows nothing of rows or events
//! beyond the `Wake` trait, so the order is unit-tested here. Must never lose a waiter: each
//! one is either in a queue, granted, or woken.

use hashbrown::HashMap;
use omendb_storage::row::{RowId, WriterId};
use omendb_storage::schema::TableId;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a woken waiter has the row to itself. Long enough for its retry to reach the
/// shard on a busy machine, short enough that a lapsed grant costs little.
pub const GRANT_LEASE: Duration = Duration::from_millis(100);

/// How long the first in line may wait before it stops racing and is handed the row: above
/// TPC-C's p95 lock waits here (tens of ms), far below the seconds the race let some wait.
pub const STARVATION_LIMIT: Duration = Duration::from_millis(50);

/// A place older than any statement waits (lock waits end at 10 s): its waiter is gone.
const ABANDONED: Duration = Duration::from_secs(20);

/// A row of a table partition.
pub type Target = (TableId, RowId);

/// What a waiter is woken through.
pub trait Wake {
    fn wake(self);
    /// Whether the waiter stopped waiting (waking it would be lost).
    fn gone(&self) -> bool;
}

/// A place in line: who, since when, and how to wake it (`None` while it races for the row
/// after a wake-up; it gets a new one when it lines up again).
struct Place<F> {
    writer: WriterId,
    since: Instant,
    wake: Option<F>,
}

struct Queue<F> {
    /// In arrival order; a waiter appears at most once.
    waiting: VecDeque<Place<F>>,
    /// The woken waiter that may take the row, and since when.
    granted: Option<(WriterId, Instant)>,
}

/// Whether a lock attempt may go ahead.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    Go,
    /// Line up (`enqueue`) behind this transaction, which has the row granted.
    Behind(WriterId),
}

/// Every row queue of a shard, and the rows whose queues each transaction's end advances.
pub struct RowQueues<F> {
    queues: HashMap<Target, Queue<F>>,
    /// Transaction → rows it holds or has granted that have waiters.
    by_holder: HashMap<WriterId, Vec<Target>>,
}

impl<F> Default for RowQueues<F> {
    fn default() -> Self {
        RowQueues {
            queues: HashMap::new(),
            by_holder: HashMap::new(),
        }
    }
}

impl<F: Wake> RowQueues<F> {
    /// Before `writer` tries to lock `row`: it must line up when another waiter has the row
    /// granted. A lapsed grant is dropped.
    pub fn admit(&mut self, row: Target, writer: WriterId, now: Instant) -> Admit {
        if self.queues.is_empty() {
            return Admit::Go;
        }
        let Some(q) = self.queues.get_mut(&row) else {
            return Admit::Go;
        };
        match q.granted {
            Some((g, _)) if g == writer => Admit::Go,
            Some((g, since)) if now.duration_since(since) < GRANT_LEASE => Admit::Behind(g),
            Some((g, _)) => {
                q.granted = None;
                self.unwatch(g, row);
                Admit::Go
            }
            None => Admit::Go,
        }
    }

    /// `writer` waits for `row`, held (or granted) by `holder`: it lines up at the tail, or at
    /// the head if it had been granted the row (a savepoint rollback woke it too early); a
    /// waiter already in line keeps its place and gets the new `wake`.
    pub fn enqueue(
        &mut self,
        row: Target,
        writer: WriterId,
        holder: WriterId,
        wake: F,
        now: Instant,
    ) {
        let q = self.queues.entry(row).or_insert_with(|| Queue {
            waiting: VecDeque::new(),
            granted: None,
        });
        if let Some(place) = q.waiting.iter_mut().find(|p| p.writer == writer) {
            place.wake = Some(wake);
        } else {
            let place = Place {
                writer,
                since: now,
                wake: Some(wake),
            };
            if matches!(q.granted, Some((g, _)) if g == writer) {
                // Granted, so it had waited `STARVATION_LIMIT` at least: it stays first.
                q.granted = None;
                let since = now.checked_sub(STARVATION_LIMIT).unwrap_or(now);
                q.waiting.push_front(Place { since, ..place });
            } else {
                q.waiting.push_back(place);
            }
        }
        self.watch(holder, row);
    }

    /// `writer` took `row`: its grant (if any) is used, the rest of the line now waits for it.
    /// Returns who waits for `writer` now (for the wait-for graph).
    pub fn locked(&mut self, row: Target, writer: WriterId) -> Vec<WriterId> {
        let Some(q) = self.queues.get_mut(&row) else {
            return Vec::new();
        };
        if matches!(q.granted, Some((g, _)) if g == writer) {
            q.granted = None;
        }
        q.waiting.retain(|p| p.writer != writer);
        let behind: Vec<WriterId> = q.waiting.iter().map(|p| p.writer).collect();
        if behind.is_empty() && q.granted.is_none() {
            self.queues.remove(&row);
        } else {
            self.watch(writer, row);
        }
        behind
    }

    /// `writer` looked at `row` without taking it (deleted, or no longer matching): it leaves
    /// the line; if it was granted the row, the row is released again.
    pub fn passed(&mut self, row: Target, writer: WriterId, now: Instant) {
        let Some(q) = self.queues.get_mut(&row) else {
            return;
        };
        q.waiting.retain(|p| p.writer != writer);
        if matches!(q.granted, Some((g, _)) if g == writer) {
            self.unwatch(writer, row);
            self.release(row, now);
        } else if q.waiting.is_empty() && q.granted.is_none() {
            self.queues.remove(&row);
        }
    }

    /// `writer` ended (or released rows by a savepoint rollback, `still_holding`): each row it
    /// held or was granted goes to the next in line. After a savepoint rollback the rows stay
    /// watched, as it may still hold some; a woken waiter that finds one still held lines up
    /// again at the head.
    pub fn ended(&mut self, writer: WriterId, now: Instant, still_holding: bool) {
        let rows = match still_holding {
            true => self.by_holder.get(&writer).cloned(),
            false => self.by_holder.remove(&writer),
        };
        for row in rows.into_iter().flatten() {
            let granted_other = self
                .queues
                .get(&row)
                .is_some_and(|q| matches!(q.granted, Some((g, _)) if g != writer));
            if !granted_other {
                self.release(row, now);
            }
        }
    }

    /// The row is free: hand it to the first waiter if it has waited `STARVATION_LIMIT`, else
    /// wake every waiter to race for it (they keep their places). Waiters that are gone leave;
    /// the queue goes when nobody is left.
    fn release(&mut self, row: Target, now: Instant) {
        let Some(q) = self.queues.get_mut(&row) else {
            return;
        };
        q.granted = None;
        q.waiting.retain(|p| {
            now.duration_since(p.since) < ABANDONED && !p.wake.as_ref().is_some_and(F::gone)
        });
        let first = q.waiting.iter().position(|p| p.wake.is_some());
        match first {
            Some(i) if now.duration_since(q.waiting[i].since) >= STARVATION_LIMIT => {
                let Some(place) = q.waiting.remove(i) else {
                    return;
                };
                q.granted = Some((place.writer, now));
                if let Some(wake) = place.wake {
                    wake.wake();
                }
                self.watch(place.writer, row);
            }
            _ => {
                for place in &mut q.waiting {
                    if let Some(wake) = place.wake.take() {
                        wake.wake();
                    }
                }
                if q.waiting.is_empty() {
                    self.queues.remove(&row);
                }
            }
        }
    }

    fn unwatch(&mut self, writer: WriterId, row: Target) {
        if let Some(rows) = self.by_holder.get_mut(&writer) {
            rows.retain(|r| *r != row);
            if rows.is_empty() {
                self.by_holder.remove(&writer);
            }
        }
    }

    fn watch(&mut self, writer: WriterId, row: Target) {
        let rows = self.by_holder.entry(writer).or_default();
        if !rows.contains(&row) {
            rows.push(row);
        }
    }

    /// Rows with a queue (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A waiter that records its wake-up in a shared log.
    struct Probe {
        id: WriterId,
        log: Rc<RefCell<Vec<WriterId>>>,
        gone: bool,
    }

    impl Wake for Probe {
        fn wake(self) {
            self.log.borrow_mut().push(self.id);
        }
        fn gone(&self) -> bool {
            self.gone
        }
    }

    const ROW: Target = (7, 3);

    fn probe(id: WriterId, log: &Rc<RefCell<Vec<WriterId>>>) -> Probe {
        Probe {
            id,
            log: log.clone(),
            gone: false,
        }
    }

    /// Holder 1; waiters 2, 3, 4 arrive in that order and have waited long: each release
    /// hands the row to the next of them, one at a time, and newcomers line up behind.
    #[test]
    fn long_waiters_are_handed_the_row_in_arrival_order() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut q = RowQueues::default();
        let start = Instant::now();
        for w in [2, 3, 4] {
            assert_eq!(q.admit(ROW, w, start), Admit::Go);
            q.enqueue(ROW, w, 1, probe(w, &log), start);
        }
        let now = start + STARVATION_LIMIT;
        let mut holder = 1;
        for expected in [2, 3, 4] {
            q.ended(holder, now, false);
            assert_eq!(log.borrow().last(), Some(&expected));
            assert_eq!(
                log.borrow().len() as u64,
                expected - 1,
                "one wake per release"
            );
            assert_eq!(q.admit(ROW, 9, now), Admit::Behind(expected));
            assert_eq!(q.admit(ROW, expected, now), Admit::Go);
            q.locked(ROW, expected);
            holder = expected;
        }
        q.ended(holder, now, false);
        assert!(q.is_empty());
    }

    /// Fresh waiters all race; the losers keep their places, so once the first of them has
    /// waited long it is handed the row.
    #[test]
    fn fresh_waiters_race_and_keep_their_places() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut q = RowQueues::default();
        let start = Instant::now();
        for w in [2, 3, 4] {
            q.enqueue(ROW, w, 1, probe(w, &log), start);
        }
        q.ended(1, start, false);
        assert_eq!(*log.borrow(), vec![2, 3, 4]);
        assert_eq!(q.admit(ROW, 9, start), Admit::Go, "no grant while racing");
        // 4 wins; 2 and 3 line up again behind it, in their old places.
        assert_eq!(q.locked(ROW, 4), vec![2, 3]);
        q.enqueue(ROW, 3, 4, probe(3, &log), start);
        q.enqueue(ROW, 2, 4, probe(2, &log), start);
        log.borrow_mut().clear();
        q.ended(4, start + STARVATION_LIMIT, false);
        assert_eq!(*log.borrow(), vec![2]);
    }

    #[test]
    fn gone_waiters_are_skipped_and_lapsed_grants_pass_on() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut q = RowQueues::default();
        let start = Instant::now();
        let gone = Probe {
            id: 2,
            log: log.clone(),
            gone: true,
        };
        q.enqueue(ROW, 2, 1, gone, start);
        q.enqueue(ROW, 3, 1, probe(3, &log), start);
        q.enqueue(ROW, 4, 1, probe(4, &log), start);
        let now = start + STARVATION_LIMIT;
        q.ended(1, now, false);
        assert_eq!(*log.borrow(), vec![3]);
        // 3 never comes back: after the lease anyone may try.
        let later = now + GRANT_LEASE;
        assert_eq!(q.admit(ROW, 4, later), Admit::Go);
        q.locked(ROW, 4);
        assert!(q.is_empty());
    }

    #[test]
    fn a_granted_waiter_that_passes_hands_the_row_on_and_one_still_blocked_goes_first() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut q = RowQueues::default();
        let start = Instant::now();
        for w in [2, 3, 4] {
            q.enqueue(ROW, w, 1, probe(w, &log), start);
        }
        let now = start + STARVATION_LIMIT;
        // A savepoint rollback of 1 wakes 2, but 1 still holds the row: 2 keeps its place.
        q.ended(1, now, true);
        q.enqueue(ROW, 2, 1, probe(2, &log), now);
        q.ended(1, now, false);
        assert_eq!(*log.borrow(), vec![2, 2]);
        // 2 finds the row deleted: 3 is next.
        q.passed(ROW, 2, now);
        assert_eq!(*log.borrow(), vec![2, 2, 3]);
    }
}
