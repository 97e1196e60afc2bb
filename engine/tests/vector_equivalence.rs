//! The vectorized executor against the row executor: the same queries over the same random
//! data (NULLs, mixed numeric scales, char padding, values near overflow) must give the same
//! rows, or errors of the same SQLSTATE (ARCHITECTURE invariant 3).
//!
//! The vectorized side runs with `omendb.vectorize = strict`, so a failure there is reported
//! rather than silently re-run on the row executor, and each query is checked to really take the
//! vectorized path where it should.

use omendb_engine::exec::vector::VECTORIZED_PLANS;
use omendb_engine::runtime;
use omendb_engine::{Engine, Outcome, Session};
use omendb_storage::types::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const SHARDS: usize = 2;
const IO_MEMORY: usize = 1 << 20;
/// Enough rows for several batches on each shard.
const T1_ROWS: usize = 6000;
const T2_ROWS: usize = 700;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    /// `Some` with probability 1 - 1/`null_one_in`.
    fn maybe<T>(&mut self, null_one_in: u64, f: impl FnOnce(&mut Rng) -> T) -> Option<T> {
        (self.below(null_one_in) != 0).then(|| f(self))
    }
}

fn or_null<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "NULL".to_string(), |x| x.to_string())
}

const WORDS: &[&str] = &[
    "apple pie",
    "banana",
    "PROMO brushed tin",
    "PROMO",
    "",
    "green apple",
    "Customer Complaints x",
    "x%y",
    "under_score",
    "zeta",
];
const CHARS: &[&str] = &["ab", "abc", "a", "", "zz"];
const SCALED: &[&str] = &["1.5", "2.25", "3", "-0.125", "100", "0.10"];

fn t1_row(r: &mut Rng, id: usize) -> String {
    let a = r.maybe(10, |r| r.range(-50, 50));
    let b = r.maybe(10, |r| {
        if r.below(50) == 0 {
            r.range(4_000_000_000_000_000_000, 4_500_000_000_000_000_000)
        } else {
            r.range(-1_000_000, 1_000_000)
        }
    });
    let c = r.maybe(8, |r| {
        format!("{:.2}", r.range(-10_000_000, 10_000_000) as f64 / 100.0)
    });
    let d = r.maybe(10, |r| {
        format!("{:e}", (r.range(-1_000_000, 1_000_000) as f64) / 7.0)
    });
    let s = r.maybe(12, |r| {
        format!("'{}'", WORDS[r.below(WORDS.len() as u64) as usize])
    });
    let ch = r.maybe(12, |r| {
        format!("'{}'", CHARS[r.below(CHARS.len() as u64) as usize])
    });
    let dt = r.maybe(10, |r| {
        format!("date '2000-01-01' + {}", r.range(-1000, 4000))
    });
    let flag = r.maybe(5, |r| r.below(2) == 0);
    let n = r.maybe(6, |r| SCALED[r.below(SCALED.len() as u64) as usize]);
    let sm = r.maybe(10, |r| r.range(-300, 300));
    format!(
        "({id}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        or_null(a),
        or_null(b),
        or_null(c),
        or_null(d),
        or_null(s),
        or_null(ch),
        or_null(dt),
        or_null(flag),
        or_null(n),
        or_null(sm)
    )
}

fn t2_row(r: &mut Rng, k: usize) -> String {
    let a = r.maybe(10, |r| r.range(-50, 50));
    let v = r.maybe(8, |r| {
        format!("{:.3}", r.range(-100_000, 100_000) as f64 / 1000.0)
    });
    let s = r.maybe(10, |r| {
        format!("'{}'", &WORDS[r.below(WORDS.len() as u64) as usize])
    });
    format!("({k}, {}, {}, {})", or_null(a), or_null(v), or_null(s))
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE t1 (id int PRIMARY KEY, a int, b bigint, c numeric(12,2), d float8, s text, \
     ch char(4), dt date, flag bool, n numeric, sm smallint)",
    "CREATE TABLE t2 (k int PRIMARY KEY, a int, v numeric(10,3), s varchar(30))",
    "CREATE TABLE empty_t (x int, y numeric(5,1))",
];

/// Every query must run (at least in part) on the vectorized executor.
const QUERIES: &[&str] = &[
    "SELECT id, a, b, c, d, s, ch, dt, flag, n, sm FROM t1",
    "SELECT id FROM t1 WHERE a > 10",
    "SELECT id, a + 1, a - sm, a * 3, a / 7, a % 7 FROM t1 WHERE a IS NOT NULL",
    "SELECT id, b * 3 FROM t1",
    "SELECT id, b + b FROM t1 WHERE b < 1000000000",
    "SELECT id, a / (a - a) FROM t1",
    "SELECT id, c + 1, c * c, c - 0.005, c * 2.5, -c FROM t1",
    "SELECT id, c / 3, n / 7, n * c, n + c FROM t1",
    "SELECT id, d * 2, d / 3.5, d + a, -d FROM t1",
    "SELECT id, d / 0 FROM t1 WHERE d IS NULL",
    "SELECT id FROM t1 WHERE d > 1000 OR d IS NULL",
    "SELECT id, dt + 30, dt - 7, dt - date '2001-01-01' FROM t1",
    "SELECT id FROM t1 WHERE dt >= date '2003-01-01' AND dt < date '2004-01-01' + interval '1 month'",
    "SELECT id, dt + interval '3 months' FROM t1 WHERE id < 100",
    "SELECT id, extract(year from dt), extract(month from dt), extract(doy from dt), extract(epoch from dt), extract(julian from dt), extract(dow from dt) FROM t1",
    "SELECT extract(year from dt) AS y, count(*), sum(c) FROM t1 GROUP BY y",
    "SELECT id, extract(hour from dt) FROM t1 WHERE dt IS NULL",
    "SELECT id, extract(hour from dt) FROM t1",
    "SELECT id, flag, NOT flag, flag AND a > 0, flag OR a > 0 FROM t1",
    "SELECT id, flag IS TRUE, flag IS NOT FALSE, a IS NULL, s IS NOT NULL FROM t1",
    "SELECT id FROM t1 WHERE a IN (1, 2, 3, NULL) OR s IN ('banana', 'zeta')",
    "SELECT id, a NOT IN (1, 2, 3), a NOT IN (1, NULL) FROM t1",
    "SELECT id, s LIKE 'PROMO%', s LIKE '%apple%', s NOT LIKE '%a', s LIKE 'x\\%y', s LIKE '_anana', s ILIKE 'promo%' FROM t1",
    "SELECT id, CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero' END FROM t1",
    "SELECT id, CASE WHEN a > 0 THEN c ELSE n END, CASE WHEN flag THEN a END FROM t1",
    "SELECT id, CASE a WHEN 1 THEN 'one' WHEN 2 THEN 'two' END FROM t1",
    "SELECT id, ch, ch = 'ab', ch < 'abc', ch || 'x' FROM t1",
    "SELECT id, CAST(a AS bigint), CAST(b AS int), CAST(c AS numeric(6,1)), CAST(a AS numeric(4,2)), CAST(c AS float8), CAST(d AS numeric(10,2)) FROM t1",
    "SELECT id, CAST(sm AS int) * 1000, CAST(a AS float8) / 3 FROM t1",
    "SELECT id, extract(year FROM dt), substring(s FROM 2 FOR 3), upper(s), length(s), coalesce(a, sm, 0) FROM t1",
    "SELECT id, abs(c), round(c, 1), greatest(a, sm), nullif(a, 0) FROM t1",
    "SELECT count(*), count(a), sum(a), avg(a), min(a), max(a) FROM t1",
    "SELECT sum(b), avg(b), sum(sm), avg(sm), min(b), max(b) FROM t1 WHERE b < 1000000000",
    "SELECT sum(c), avg(c), min(c), max(c), sum(n), avg(n), min(n), max(n) FROM t1",
    "SELECT sum(d), avg(d), min(d), max(d) FROM t1",
    "SELECT min(s), max(s), min(dt), max(dt), min(ch), max(ch) FROM t1",
    "SELECT a, count(*), sum(c), avg(c), min(s) FROM t1 GROUP BY a",
    "SELECT s, flag, count(*), sum(a), max(dt) FROM t1 GROUP BY s, flag",
    "SELECT n, count(*), sum(n) FROM t1 GROUP BY n",
    "SELECT ch, count(*) FROM t1 GROUP BY ch",
    "SELECT extract(year FROM dt) AS y, sum(c * (1 - c / 1000)) FROM t1 GROUP BY y",
    "SELECT a % 5, count(*), sum(d) FROM t1 WHERE a IS NOT NULL GROUP BY a % 5 HAVING count(*) > 10",
    "SELECT a, dt, count(*), sum(c), avg(n) FROM t1 GROUP BY a, dt",
    "SELECT sm, flag, ch, count(*), sum(b) FROM t1 GROUP BY sm, flag, ch",
    "SELECT b, count(*) FROM t1 GROUP BY b",
    "SELECT id FROM t1 WHERE c < 24 AND c >= -3.5 AND n <= 2 AND 100 > c",
    "SELECT id, count(*), sum(c), avg(c), max(s) FROM t1 GROUP BY id",
    "SELECT a, id, sum(n) FROM t1 WHERE id > 100 GROUP BY a, id HAVING sum(n) > 1",
    "SELECT s, count(*), sum(c), min(dt) FROM t1 WHERE a > -40 GROUP BY s",
    "SELECT count(*), sum(c * (1 - n)), sum(c * (1 - n) * (1 + n)), avg(c), max(s) FROM t1 WHERE dt <= date '2008-01-01' - interval '30' day",
    "SELECT flag, count(*), sum(c * c) FROM t1 WHERE a > 40 AND c > 0 GROUP BY flag",
    "SELECT a, sum(100 / a) FROM t1 WHERE a <> 0 GROUP BY a",
    "SELECT id, c * 2, dt FROM t1 WHERE a > -45 AND dt > date '2001-01-01'",
    "SELECT count(*), sum(x), avg(y), max(y) FROM empty_t",
    "SELECT x, count(*) FROM empty_t GROUP BY x",
    "SELECT count(*) FROM t1 WHERE a > 1000",
    "SELECT id, a, c FROM t1 ORDER BY c DESC NULLS LAST, id LIMIT 25",
    "SELECT id, s FROM t1 ORDER BY s, id DESC LIMIT 40 OFFSET 10",
    "SELECT id, d FROM t1 ORDER BY d NULLS FIRST, id",
    "SELECT id, dt FROM t1 ORDER BY dt DESC, id LIMIT 0",
    "SELECT id FROM t1 ORDER BY id LIMIT 5 OFFSET 5990",
    "SELECT a, sum(c) AS total FROM t1 GROUP BY a ORDER BY total DESC NULLS LAST, a LIMIT 10",
    "SELECT t1.id, t2.k, t2.v FROM t1 JOIN t2 ON t1.a = t2.a WHERE t1.id < 300",
    "SELECT t1.id, t2.k FROM t1 JOIN t2 ON t1.id = t2.k AND t1.c > t2.v",
    "SELECT t1.id, t2.k, t2.s FROM t1 LEFT JOIN t2 ON t1.id = t2.k",
    "SELECT t1.id, t2.k FROM t1 LEFT JOIN t2 ON t1.id = t2.k AND t2.v > 0",
    "SELECT t2.k, t1.id FROM t1 RIGHT JOIN t2 ON t1.id = t2.k * 3",
    "SELECT id FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.id)",
    "SELECT id FROM t1 WHERE NOT EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.id AND t2.a > t1.a)",
    "SELECT id FROM t1 WHERE a IN (SELECT a FROM t2 WHERE v > 0)",
    "SELECT id FROM t1 WHERE a NOT IN (SELECT a FROM t2 WHERE k < 50)",
    "SELECT id FROM t1 WHERE a NOT IN (SELECT a FROM t2 WHERE a IS NOT NULL AND k < 50)",
    "SELECT t2.a, count(*), sum(t1.c) FROM t1 JOIN t2 ON t1.a = t2.a GROUP BY t2.a ORDER BY t2.a",
    "SELECT s, sum(c) FROM t1 WHERE c > (SELECT avg(c) FROM t1) GROUP BY s ORDER BY s",
    "SELECT t1.s, t2.s FROM t1 JOIN t2 ON t1.s = t2.s WHERE t1.id < 50",
    "SELECT t1.id, t2.k FROM t1 JOIN t2 ON t1.a < t2.a - 45 OR t2.v IS NULL WHERE t1.id < 200",
    "SELECT t1.id, t2.k FROM t1 CROSS JOIN t2 WHERE t1.id < 3 AND t2.k < 4",
    "SELECT t1.id, t2.k FROM t1, t2 WHERE (t1.id = t2.k AND t1.a > 0) OR (t2.k = t1.id AND t2.v < 0)",
    "SELECT t1.id, t2.k FROM t1 JOIN t2 ON (t1.id = t2.k AND t1.a > 0) OR t2.a = t1.a WHERE t1.id < 100",
    "SELECT id, 1 / a FROM t1 WHERE a <> 0",
    "SELECT id, CASE WHEN a = 0 THEN NULL ELSE 100 / a END FROM t1",
    "SELECT id, a > 0 AND 10 / a > 1 FROM t1 WHERE a IS NOT NULL",
];

/// Exact: floats too (sums add in the same order on both paths).
fn text_of(v: &Value) -> String {
    format!("{v:?}")
}

async fn query(session: &mut Session, sql: &str) -> Result<Vec<Vec<Value>>, String> {
    let mut out = session.simple_query(sql).await;
    match out.pop() {
        Some(Ok(Outcome::Rows { rows, .. })) => Ok(rows),
        Some(Ok(other)) => Err(format!("not rows: {other:?}")),
        Some(Err(e)) => Err(e.sqlstate().to_string()),
        None => Err("no result".into()),
    }
}

async fn exec(session: &mut Session, sql: &str) {
    for r in session.simple_query(sql).await {
        if let Err(e) = r {
            panic!("{sql}: {e}");
        }
    }
}

/// Rows as comparable text, in order when the query orders, else sorted.
fn normalise(rows: &[Vec<Value>], ordered: bool) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| r.iter().map(text_of).collect::<Vec<_>>().join(" | "))
        .collect();
    if !ordered {
        out.sort();
    }
    out
}

async fn check_all(session: &mut Session) -> Vec<String> {
    let mut r = Rng(0x5EED_1234_ABCD_0001);
    for s in SCHEMA {
        exec(session, s).await;
    }
    let rows: Vec<String> = (0..T1_ROWS).map(|i| t1_row(&mut r, i)).collect();
    for chunk in rows.chunks(500) {
        exec(
            session,
            &format!("INSERT INTO t1 VALUES {}", chunk.join(", ")),
        )
        .await;
    }
    let rows: Vec<String> = (0..T2_ROWS).map(|i| t2_row(&mut r, i)).collect();
    exec(
        session,
        &format!("INSERT INTO t2 VALUES {}", rows.join(", ")),
    )
    .await;
    let mut failures = Vec::new();
    for sql in QUERIES {
        exec(session, "SET omendb.vectorize = off").await;
        let expected = query(session, sql).await;
        exec(session, "SET omendb.vectorize = strict").await;
        let before = VECTORIZED_PLANS.load(Ordering::Relaxed);
        let got = query(session, sql).await;
        if got.is_ok() && VECTORIZED_PLANS.load(Ordering::Relaxed) == before {
            failures.push(format!("{sql}\n  did not take the vectorized path"));
        }
        let ordered = sql.contains("ORDER BY");
        // Eager evaluation may fail where the row executor skips a branch (CASE, AND): then
        // the default mode re-runs on the row executor and must give its result.
        let got = match (&expected, got) {
            (Ok(_), Err(_)) => {
                exec(session, "SET omendb.vectorize = on").await;
                query(session, sql).await
            }
            (_, got) => got,
        };
        let same = match (&expected, &got) {
            (Ok(a), Ok(b)) => normalise(a, ordered) == normalise(b, ordered),
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        if !same {
            let show = |r: &Result<Vec<Vec<Value>>, String>| match r {
                Ok(rows) => {
                    let n = normalise(rows, ordered);
                    format!(
                        "{} rows, first {:?}",
                        n.len(),
                        n.iter().take(3).collect::<Vec<_>>()
                    )
                }
                Err(e) => format!("error {e}"),
            };
            failures.push(format!(
                "{sql}\n  row:    {}\n  vector: {}",
                show(&expected),
                show(&got)
            ));
        }
    }
    failures
}

#[test]
fn vectorized_results_equal_row_results() {
    let engine = Engine::new(SHARDS);
    let state_engine: Arc<Engine> = engine.clone();
    let failures = runtime::run(
        SHARDS,
        IO_MEMORY,
        move |id| state_engine.shard_state(id),
        |shard| async move {
            let mut session = Session::new(shard, "tester", "omendb");
            check_all(&mut session).await
        },
    )
    .unwrap();
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
