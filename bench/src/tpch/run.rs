//! Running the queries: one warm-up, then the timed runs, each fetching the whole answer, and
//! every answer checked against the reference.
//!
//! Owns timing. It must never time anything but the query's round trip (send, execute, receive
//! every row), and never report a time without saying whether that answer was right.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio_postgres::{Client, NoTls};

use super::answer::Answer;
use super::check::{Verdict, check};
use super::client;
use super::load::describe;
use super::queries::{self, Query};

/// How long a cancel request may take before the run moves on.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// Reference answers by query number.
pub type References = BTreeMap<usize, Answer>;

/// What happened to one query.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    pub number: usize,
    /// Seconds of each timed run (not the warm-up).
    pub times: Vec<f64>,
    /// Rows in the answer.
    pub rows: usize,
    /// The check of the answers; `None` when there is no reference for this query.
    pub verdict: Option<Verdict>,
    /// The server's error (`SQLSTATE: message`), a timeout, or a lost connection.
    pub error: Option<String>,
    /// The warm-up's answer, kept so a reference run can be saved.
    pub answer: Option<Answer>,
}

impl QueryOutcome {
    pub fn name(&self) -> String {
        queries::name(self.number)
    }

    /// A query that did not run at all.
    pub fn failed(number: usize, error: String) -> QueryOutcome {
        QueryOutcome {
            error: Some(error),
            ..QueryOutcome::empty(number)
        }
    }

    fn empty(number: usize) -> QueryOutcome {
        QueryOutcome {
            number,
            times: Vec::new(),
            rows: 0,
            verdict: None,
            error: None,
            answer: None,
        }
    }

    /// Ran without error and the answer was right (or could not be checked).
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.verdict.as_ref().is_none_or(Verdict::passed)
    }
}

/// How to run the queries.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Timed runs after the warm-up (0: the warm-up only, untimed, e.g. to make references).
    pub runs: usize,
    /// A query taking longer is cancelled and reported as failed.
    pub timeout: Duration,
}

/// Runs every query on a connection to `url`, reconnecting after a failure that lost it. A
/// query that cannot get a connection (the server died) fails with that error; the run goes on,
/// so the report still lists every query.
pub async fn run_queries(
    url: &str,
    queries: &[Query],
    options: &RunOptions,
    references: &References,
    mut report: impl FnMut(&QueryOutcome),
) -> Vec<QueryOutcome> {
    let mut client: Option<Client> = None;
    let mut outcomes = Vec::new();
    for query in queries {
        let connected = match client.take() {
            Some(c) if !c.is_closed() => Ok(c),
            _ => client::connect(url).await,
        };
        let outcome = match connected {
            Ok(c) => {
                let (outcome, timed_out) =
                    run_query(&c, query, options, references.get(&query.number)).await;
                // A cancelled query may still occupy its connection: use a new one.
                if !timed_out {
                    client = Some(c);
                }
                outcome
            }
            Err(e) => QueryOutcome::failed(query.number, format!("{e:#}")),
        };
        report(&outcome);
        outcomes.push(outcome);
    }
    outcomes
}

/// The outcome, and whether the query timed out.
async fn run_query(
    client: &Client,
    query: &Query,
    options: &RunOptions,
    reference: Option<&Answer>,
) -> (QueryOutcome, bool) {
    let mut outcome = QueryOutcome::empty(query.number);
    for run in 0..=options.runs {
        let (elapsed, answer) = match timed(client, &query.text, options.timeout).await {
            Ok(done) => done,
            Err(Failure { message, timed_out }) => {
                outcome.error = Some(message);
                return (outcome, timed_out);
            }
        };
        let verdict = reference.map(|r| check(r, &answer, &query.check));
        // Keep the first wrong verdict; otherwise the first run's.
        if outcome.verdict.is_none()
            || verdict.as_ref().is_some_and(|v| !v.passed())
                && outcome.verdict.as_ref().is_some_and(Verdict::passed)
        {
            outcome.verdict = verdict;
        }
        outcome.rows = answer.rows.len();
        if run == 0 {
            outcome.answer = Some(answer);
        } else {
            outcome.times.push(elapsed.as_secs_f64());
        }
    }
    (outcome, false)
}

/// Why a run produced no answer.
struct Failure {
    message: String,
    timed_out: bool,
}

/// Runs `sql` once, fetching its whole answer; the time covers only the round trip.
async fn timed(
    client: &Client,
    sql: &str,
    timeout: Duration,
) -> Result<(Duration, Answer), Failure> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, client.simple_query(sql)).await {
        Ok(Ok(messages)) => {
            let elapsed = started.elapsed();
            Ok((elapsed, Answer::from_messages(&messages)))
        }
        Ok(Err(e)) => Err(Failure {
            message: describe(&e),
            timed_out: false,
        }),
        Err(_) => {
            // Best effort, bounded: a server that ignores CancelRequest must not hang the run.
            // It may keep working on the query, which the next query would feel.
            let cancel = client.cancel_token();
            let _ = tokio::time::timeout(CANCEL_TIMEOUT, cancel.cancel_query(NoTls)).await;
            Err(Failure {
                message: format!("timed out after {} s (cancel requested)", timeout.as_secs()),
                timed_out: true,
            })
        }
    }
}

/// Reads the reference answers in `dir` (`qNN.csv`) for the given queries; missing files are
/// simply not there (those queries are reported unchecked).
pub fn read_references(dir: &Path, queries: &[Query]) -> Result<References> {
    let mut references = References::new();
    for query in queries {
        let path = dir.join(format!("{}.csv", query.name()));
        if path.exists() {
            references.insert(query.number, Answer::read_csv(&path)?);
        }
    }
    Ok(references)
}

/// Writes each outcome's answer as `DIR/qNN.csv`; refuses when any query failed.
pub fn write_references(dir: &Path, outcomes: &[QueryOutcome]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for outcome in outcomes {
        match (&outcome.answer, &outcome.error) {
            (Some(answer), None) => {
                answer.write_csv(&dir.join(format!("{}.csv", outcome.name())))?
            }
            (_, error) => anyhow::bail!(
                "{} has no answer to keep: {}",
                outcome.name(),
                error.as_deref().unwrap_or("no answer")
            ),
        }
    }
    Ok(())
}
