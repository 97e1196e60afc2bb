//! A terminal: one connection bound to a home warehouse, drawing transaction types from a
//! shuffled deck (clause 5.2.4.2) and running them back to back, with no keying or think time.
//!
//! Owns the retry policy and the clock of each transaction. It must never count a transaction
//! that completed during the warm-up or after the end of the measurement interval.

use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::random::Rng;
use super::statements::Statements;
use super::stats::Stats;
use super::txn::{self, Home, Input, Kind, Outcome, TxnError};

/// The deck of clause 5.2.4.2 for the mix 45/43/4/4/4: one card per percent.
const DECK: [(Kind, usize); 5] = [
    (Kind::NewOrder, 45),
    (Kind::Payment, 43),
    (Kind::OrderStatus, 4),
    (Kind::Delivery, 4),
    (Kind::StockLevel, 4),
];
/// Attempts of one transaction before it counts as an error.
const MAX_ATTEMPTS: u32 = 10;

/// A shuffled deck of transaction types, reshuffled when drawn empty.
pub struct Deck {
    cards: Vec<Kind>,
    next: usize,
}

impl Deck {
    pub fn new() -> Deck {
        let cards = DECK
            .iter()
            .flat_map(|&(kind, n)| std::iter::repeat_n(kind, n))
            .collect::<Vec<_>>();
        let next = cards.len();
        Deck { cards, next }
    }

    pub fn draw(&mut self, rng: &mut Rng) -> Kind {
        if self.next == self.cards.len() {
            for i in (1..self.cards.len()).rev() {
                let j = rng.uniform(0, i as i64) as usize;
                self.cards.swap(i, j);
            }
            self.next = 0;
        }
        self.next += 1;
        self.cards[self.next - 1]
    }
}

impl Default for Deck {
    fn default() -> Deck {
        Deck::new()
    }
}

/// The measurement interval: transactions completing in [start, end) count.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

/// Runs transactions on `client` until the window ends; returns what was measured.
pub async fn run(
    client: Client,
    statements: Statements,
    home: Home,
    window: Window,
    seed: u64,
) -> Stats {
    let mut rng = Rng::from_time(seed);
    let mut deck = Deck::new();
    let mut stats = Stats::default();
    while Instant::now() < window.end {
        let kind = deck.draw(&mut rng);
        let input = Input::draw(kind, &mut rng, &home);
        let started = Instant::now();
        let result = attempt(
            &client,
            &statements,
            &home,
            &input,
            kind,
            &mut stats,
            window,
        )
        .await;
        let finished = Instant::now();
        if finished < window.start || finished >= window.end {
            continue;
        }
        let s = stats.kind(kind);
        match result {
            Ok(outcome) => {
                match outcome {
                    Outcome::Committed => s.committed += 1,
                    Outcome::RolledBack => s.rolled_back += 1,
                    Outcome::DeliveredSkipping(n) => {
                        s.committed += 1;
                        s.skipped_districts += u64::from(n);
                    }
                }
                s.latencies_us.push(duration_us(finished - started));
            }
            Err(e) => s.note_error(e.to_string()),
        }
        if client.is_closed() {
            stats
                .kind(kind)
                .note_error("the connection closed".to_owned());
            break;
        }
    }
    stats
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Runs one transaction, retrying it on serialization failures and deadlocks (counted only when
/// inside the window, like everything else).
async fn attempt(
    client: &Client,
    statements: &Statements,
    home: &Home,
    input: &Input,
    kind: Kind,
    stats: &mut Stats,
    window: Window,
) -> Result<Outcome, TxnError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = txn::run(client, statements, home, input).await;
        let Err(e) = result else { return result };
        // The transaction is still open after a failure; end it. A failing ROLLBACK means the
        // connection is gone, which the next statement reports.
        let _ = client.batch_execute("ROLLBACK").await;
        let code = match &e {
            TxnError::Db(db) => db.code().cloned(),
            TxnError::Unexpected(_) => None,
        };
        let now = Instant::now();
        let counted = now >= window.start && now < window.end;
        let s = stats.kind(kind);
        match code {
            Some(c) if c == SqlState::T_R_SERIALIZATION_FAILURE && attempts < MAX_ATTEMPTS => {
                s.retries_40001 += u64::from(counted);
            }
            Some(c) if c == SqlState::T_R_DEADLOCK_DETECTED && attempts < MAX_ATTEMPTS => {
                s.retries_40p01 += u64::from(counted);
            }
            _ => return Err(e),
        }
        if now >= window.end {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deck_deals_the_exact_mix() {
        let mut deck = Deck::new();
        let mut rng = Rng::seeded(4);
        let mut counts = [0; 5];
        for _ in 0..1000 {
            counts[deck.draw(&mut rng).index()] += 1;
        }
        assert_eq!(counts, [450, 430, 40, 40, 40]);
    }
}
