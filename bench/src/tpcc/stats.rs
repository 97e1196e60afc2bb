//! Per-transaction counts and response times of a run: each terminal keeps its own, the run
//! merges them at the end.
//!
//! Owns the arithmetic of throughput and percentiles. It must never count a transaction that
//! finished outside the measurement interval.

use serde::Serialize;

use super::txn::Kind;

/// At most this many distinct error texts are kept per transaction type.
const ERRORS_KEPT: usize = 5;

/// What one terminal (or the whole run) saw of one transaction type.
#[derive(Debug, Clone, Default)]
pub struct KindStats {
    pub committed: u64,
    /// New-Order's deliberate rollbacks.
    pub rolled_back: u64,
    /// Deliveries that found a district with no undelivered order.
    pub skipped_districts: u64,
    /// Retries after SQLSTATE 40001 (serialization failure) and 40P01 (deadlock).
    pub retries_40001: u64,
    pub retries_40p01: u64,
    /// Transactions given up on (any other error, or too many retries).
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// Response times in microseconds (retries included), of completed transactions.
    pub latencies_us: Vec<u64>,
}

impl KindStats {
    pub fn note_error(&mut self, text: String) {
        self.errors += 1;
        if self.error_samples.len() < ERRORS_KEPT && !self.error_samples.contains(&text) {
            self.error_samples.push(text);
        }
    }

    fn merge(&mut self, other: KindStats) {
        self.committed += other.committed;
        self.rolled_back += other.rolled_back;
        self.skipped_districts += other.skipped_districts;
        self.retries_40001 += other.retries_40001;
        self.retries_40p01 += other.retries_40p01;
        self.errors += other.errors;
        for e in other.error_samples {
            if self.error_samples.len() < ERRORS_KEPT && !self.error_samples.contains(&e) {
                self.error_samples.push(e);
            }
        }
        self.latencies_us.extend(other.latencies_us);
    }

    /// Committed plus deliberately rolled back: the transactions that completed.
    pub fn completed(&self) -> u64 {
        self.committed + self.rolled_back
    }
}

/// Stats of every transaction type, indexed by [`Kind::index`].
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub kinds: [KindStats; 5],
}

impl Stats {
    pub fn kind(&mut self, kind: Kind) -> &mut KindStats {
        &mut self.kinds[kind.index()]
    }

    pub fn merge(&mut self, other: Stats) {
        for (mine, theirs) in self.kinds.iter_mut().zip(other.kinds) {
            mine.merge(theirs);
        }
    }

    /// One summary row per transaction type over `seconds` of measurement.
    pub fn summarize(mut self, seconds: f64) -> Vec<KindSummary> {
        let total: u64 = self.kinds.iter().map(KindStats::completed).sum();
        Kind::ALL
            .iter()
            .zip(self.kinds.iter_mut())
            .map(|(&kind, s)| {
                s.latencies_us.sort_unstable();
                let ms = |q: f64| percentile(&s.latencies_us, q) as f64 / 1000.0;
                KindSummary {
                    kind,
                    name: kind.to_string(),
                    completed: s.completed(),
                    committed: s.committed,
                    rolled_back: s.rolled_back,
                    skipped_districts: s.skipped_districts,
                    retries_40001: s.retries_40001,
                    retries_40p01: s.retries_40p01,
                    errors: s.errors,
                    error_samples: s.error_samples.clone(),
                    share_percent: if total == 0 {
                        0.0
                    } else {
                        s.completed() as f64 * 100.0 / total as f64
                    },
                    per_second: s.completed() as f64 / seconds,
                    p50_ms: ms(0.50),
                    p95_ms: ms(0.95),
                    p99_ms: ms(0.99),
                    max_ms: s.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
                }
            })
            .collect()
    }
}

/// The nearest-rank percentile `q` of sorted values (0 when empty).
fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The report's row for one transaction type.
#[derive(Debug, Clone, Serialize)]
pub struct KindSummary {
    #[serde(skip)]
    pub kind: Kind,
    pub name: String,
    pub completed: u64,
    pub committed: u64,
    pub rolled_back: u64,
    pub skipped_districts: u64,
    pub retries_40001: u64,
    pub retries_40p01: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// This type's share of all completed transactions.
    pub share_percent: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.95), 95);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
