//! The run's report: printed as a table, written as JSON (everything, including every run's time)
//! and CSV (one line per query), with what BENCHMARKS.md asks every harness to report: scale
//! factor, shards, durability, the OmenDB commit, the server's version, min / median / max, and
//! whether every answer was checked.
//!
//! Owns presentation. It must never drop a failure: a query that failed or answered wrongly is
//! listed as such, and the summary counts only what ran correctly.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::check::Verdict;
use super::load::LoadReport;
use super::queries::QUERY_COUNT;
use super::run::QueryOutcome;

/// One query's line.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    pub query: String,
    pub min_s: Option<f64>,
    pub median_s: Option<f64>,
    pub max_s: Option<f64>,
    pub times_s: Vec<f64>,
    pub rows: usize,
    /// "identical", "within tolerance", "WRONG: …" or "unchecked".
    pub check: String,
    pub error: Option<String>,
}

/// Totals over the queries that ran and answered correctly.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub queries: usize,
    pub ran_ok: usize,
    pub checked: usize,
    pub identical: usize,
    /// Every query of the TPC-H set ran, was checked, and was right.
    pub all_22_checked_and_correct: bool,
    /// Sum of the medians of the queries that ran correctly.
    pub total_median_s: f64,
    /// Geometric mean of those medians.
    pub geomean_median_s: f64,
}

/// Everything one harness run measured on one server.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub system: String,
    pub server_version: String,
    pub sf: f64,
    pub shards: Option<usize>,
    pub durability: Option<String>,
    pub omendb_commit: Option<String>,
    /// Where the reference answers came from.
    pub reference: String,
    pub load: Option<LoadReport>,
    pub warmups: usize,
    pub runs: usize,
    pub client_cpus: usize,
    pub unix_time: u64,
    pub queries: Vec<QueryReport>,
    pub summary: Summary,
}

impl QueryReport {
    pub fn from_outcome(outcome: &QueryOutcome) -> QueryReport {
        let mut sorted = outcome.times.clone();
        sorted.sort_by(f64::total_cmp);
        let ok = outcome.ok() && !sorted.is_empty();
        QueryReport {
            query: outcome.name(),
            min_s: ok.then(|| sorted[0]),
            median_s: ok.then(|| median(&sorted)),
            max_s: ok.then(|| sorted[sorted.len() - 1]),
            times_s: outcome.times.clone(),
            rows: outcome.rows,
            check: match (&outcome.verdict, &outcome.error) {
                (_, Some(_)) => "not run".to_owned(),
                (Some(v), None) => v.to_string(),
                (None, None) => "unchecked".to_owned(),
            },
            error: outcome.error.clone(),
        }
    }
}

/// The median of sorted, non-empty `values`.
pub fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

pub fn summarize(outcomes: &[QueryOutcome], queries: &[QueryReport]) -> Summary {
    let medians: Vec<f64> = queries.iter().filter_map(|q| q.median_s).collect();
    let checked = outcomes.iter().filter(|o| o.verdict.is_some()).count();
    let identical = outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Some(Verdict::Identical)))
        .count();
    let all_correct = outcomes
        .iter()
        .all(|o| o.error.is_none() && o.verdict.as_ref().is_some_and(Verdict::passed));
    Summary {
        queries: outcomes.len(),
        ran_ok: outcomes.iter().filter(|o| o.ok()).count(),
        checked,
        identical,
        all_22_checked_and_correct: outcomes.len() == QUERY_COUNT && all_correct,
        total_median_s: medians.iter().sum(),
        geomean_median_s: geomean(&medians),
    }
}

fn geomean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp()
}

impl Report {
    /// Prints the per-query table and the summary.
    pub fn print(&self) {
        println!(
            "\n{} ({}) at SF {}",
            self.system, self.server_version, self.sf
        );
        println!(
            "{:<5} {:>10} {:>10} {:>10} {:>7}  check",
            "query", "min s", "median s", "max s", "rows"
        );
        for q in &self.queries {
            let t = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
            let check = q
                .error
                .as_ref()
                .map_or(q.check.clone(), |e| format!("ERROR {e}"));
            println!(
                "{:<5} {:>10} {:>10} {:>10} {:>7}  {check}",
                q.query,
                t(q.min_s),
                t(q.median_s),
                t(q.max_s),
                q.rows
            );
        }
        let s = &self.summary;
        println!(
            "total {:.3} s, geometric mean {:.4} s over the {} of {} queries that ran correctly",
            s.total_median_s, s.geomean_median_s, s.ran_ok, s.queries
        );
        println!(
            "answers checked: {} of {} ({} identical to the reference text) against {}",
            s.checked, s.queries, s.identical, self.reference
        );
        if let Some(load) = &self.load {
            let generation = if load.generation_included {
                "generation included"
            } else {
                "generation excluded"
            };
            println!(
                "load: {} rows by {} on {} connections in {:.2} s ({generation})",
                load.rows, load.method, load.connections, load.load_s
            );
        }
    }

    /// Writes `DIR/tpch-<system>-sf<SF>.json` and `.csv`; returns the JSON path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let stem = format!("tpch-{}-sf{}", self.system, self.sf);
        let json = dir.join(format!("{stem}.json"));
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&json, text + "\n").with_context(|| format!("write {}", json.display()))?;
        let csv_path = dir.join(format!("{stem}.csv"));
        let mut csv = std::fs::File::create(&csv_path)
            .with_context(|| format!("create {}", csv_path.display()))?;
        let mut writer = csv::Writer::from_writer(&mut csv);
        writer.write_record([
            "query", "min_s", "median_s", "max_s", "rows", "check", "error",
        ])?;
        let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        for q in &self.queries {
            let rows = q.rows.to_string();
            writer.write_record([
                &q.query,
                &num(q.min_s),
                &num(q.median_s),
                &num(q.max_s),
                &rows,
                &q.check,
                q.error.as_deref().unwrap_or(""),
            ])?;
        }
        writer.flush()?;
        drop(writer);
        csv.flush()?;
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        number: usize,
        times: &[f64],
        verdict: Option<Verdict>,
        error: Option<&str>,
    ) -> QueryOutcome {
        QueryOutcome {
            number,
            times: times.to_vec(),
            rows: 1,
            verdict,
            error: error.map(str::to_owned),
            answer: None,
        }
    }

    #[test]
    fn medians_and_geomean() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert!((geomean(&[1.0, 4.0]) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn failures_and_wrong_answers_have_no_time_and_do_not_count() {
        let outcomes = vec![
            outcome(1, &[0.3, 0.1, 0.2], Some(Verdict::Identical), None),
            outcome(2, &[0.5], Some(Verdict::Wrong("row 1".into())), None),
            outcome(3, &[], None, Some("0A000: no")),
            outcome(4, &[0.4], None, None),
        ];
        let reports: Vec<_> = outcomes.iter().map(QueryReport::from_outcome).collect();
        assert_eq!(
            (reports[0].min_s, reports[0].median_s, reports[0].max_s),
            (Some(0.1), Some(0.2), Some(0.3))
        );
        assert_eq!(reports[1].median_s, None);
        assert_eq!(reports[2].check, "not run");
        assert_eq!(reports[3].check, "unchecked");
        let s = summarize(&outcomes, &reports);
        assert_eq!((s.ran_ok, s.checked, s.identical), (2, 2, 1));
        assert!(!s.all_22_checked_and_correct);
        assert!((s.total_median_s - 0.6).abs() < 1e-12);
    }
}
