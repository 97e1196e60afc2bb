//! The report of a TPC-C run: tpmC, per-transaction throughput and response times, the load,
//! the consistency verdicts, and what this driver leaves out of the spec; written as JSON and as
//! a markdown summary.
//!
//! Owns the report's content and formats. It must never omit the deviations from the spec.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::TpccArgs;
use super::consistency::Condition;
use super::load::LoadReport;
use super::random::{C_LAST_LOAD, Constants};
use super::stats::KindSummary;
use super::txn::Kind;
use crate::tpch::client::is_postgresql;

/// What this driver does differently from a spec-conformant TPC-C run; printed in every report.
pub const DEVIATIONS: [&str; 4] = [
    "no keying or think times: each terminal runs its next transaction as soon as the last one \
     ends, so tpmC here is not comparable with published (audited) results",
    "Delivery runs in-line in the terminal as one transaction, not deferred to a queue",
    "response times are measured at the driver over the wire, retries included",
    "measurement intervals are short (not the spec's 2 hours / 8 hours of checkpoints)",
];

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub label: String,
    pub server_version: String,
    pub warehouses: u32,
    pub terminals: u32,
    pub duration_s: u64,
    pub warmup_s: u64,
    /// The run's C constants, and the loader's C for C_LAST.
    pub constants: Constants,
    pub c_last_load: i64,
    pub load: Option<LoadReport>,
    /// New-Orders completed per minute (deliberate rollbacks included).
    pub tpmc: f64,
    /// New-Orders committed per minute.
    pub tpmc_committed: f64,
    pub transactions: Vec<KindSummary>,
    pub consistency: Vec<Condition>,
    pub deviations: Vec<&'static str>,
}

impl Report {
    pub fn new(
        args: &TpccArgs,
        server_version: String,
        warehouses: u32,
        constants: Constants,
        load: Option<LoadReport>,
        transactions: Vec<KindSummary>,
        consistency: Vec<Condition>,
    ) -> Report {
        let minutes = args.duration as f64 / 60.0;
        let new_orders = transactions.iter().find(|t| t.kind == Kind::NewOrder);
        let per_minute = |n: u64| n as f64 / minutes;
        let label = args.label.clone().unwrap_or_else(|| {
            if is_postgresql(&server_version) {
                "postgresql".to_owned()
            } else {
                "omendb".to_owned()
            }
        });
        Report {
            label,
            server_version,
            warehouses,
            terminals: args.terminals,
            duration_s: args.duration,
            warmup_s: args.warmup,
            constants,
            c_last_load: C_LAST_LOAD,
            load,
            tpmc: new_orders.map_or(0.0, |n| per_minute(n.completed)),
            tpmc_committed: new_orders.map_or(0.0, |n| per_minute(n.committed)),
            transactions,
            consistency,
            deviations: DEVIATIONS.to_vec(),
        }
    }

    /// Every condition holds and some transactions completed.
    pub fn passed(&self) -> bool {
        self.consistency.iter().all(|c| c.passed)
            && self.transactions.iter().any(|t| t.completed > 0)
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## TPC-C: {} ({})\n", self.label, self.server_version);
        let _ = writeln!(
            md,
            "{} warehouse(s), {} terminal(s), {} s measured after {} s warm-up.\n",
            self.warehouses, self.terminals, self.duration_s, self.warmup_s
        );
        let _ = writeln!(
            md,
            "**tpmC {:.0}** (New-Orders completed per minute; {:.0} committed)\n",
            self.tpmc, self.tpmc_committed
        );
        if let Some(load) = &self.load {
            let _ = writeln!(
                md,
                "Load: {} rows by {} in {:.1} s. Secondary indexes: {}.\n",
                load.rows,
                load.method,
                load.load_s,
                match &load.indexes.error {
                    None => format!("created in {:.1} s", load.indexes.seconds),
                    Some(e) => format!("NOT created, the transactions scan instead ({e})"),
                }
            );
        }
        md.push_str(
            "| transaction | completed | share % | per s | p50 ms | p95 ms | p99 ms | max ms | \
             rolled back | retries 40001 | retries 40P01 | errors |\n",
        );
        md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for t in &self.transactions {
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} |",
                t.name,
                t.completed,
                t.share_percent,
                t.per_second,
                t.p50_ms,
                t.p95_ms,
                t.p99_ms,
                t.max_ms,
                t.rolled_back,
                t.retries_40001,
                t.retries_40p01,
                t.errors
            );
        }
        for t in self
            .transactions
            .iter()
            .filter(|t| !t.error_samples.is_empty())
        {
            let _ = writeln!(md, "\n{} errors: {}", t.name, t.error_samples.join(" | "));
        }
        md.push_str("\nConsistency (clause 3.3.2):\n\n");
        for c in &self.consistency {
            let _ = writeln!(
                md,
                "- condition {} ({}): {} — {}",
                c.number,
                c.text,
                if c.passed { "PASS" } else { "FAIL" },
                c.detail
            );
        }
        md.push_str("\nNot as the spec runs it:\n\n");
        for d in &self.deviations {
            let _ = writeln!(md, "- {d}");
        }
        md
    }

    /// Writes tpcc-<label>-w<W>.json and .md into `dir`; returns their paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let stem = format!("tpcc-{}-w{}", self.label, self.warehouses);
        let json = dir.join(format!("{stem}.json"));
        let md = dir.join(format!("{stem}.md"));
        std::fs::write(&json, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("write {}", json.display()))?;
        std::fs::write(&md, self.markdown()).with_context(|| format!("write {}", md.display()))?;
        Ok(vec![json, md])
    }
}
