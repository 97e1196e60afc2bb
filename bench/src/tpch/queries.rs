//! The 22 TPC-H queries, read from `qNN.sql` files (by default `bench/tpch/queries/`), each with
//! the `-- check:` line that tells the checker how to compare its answer:
//!
//! ```text
//! -- check: order=2,1 columns=exact,sum,avg,ratio
//! ```
//!
//! `order` lists the 1-based output columns of the ORDER BY (empty when the query does not
//! order), `columns` how each output column is compared (see `check::Kind`).
//!
//! Owns query loading. It must never change a query's text: every system runs the file as is.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::check::{CheckSpec, Kind};

/// How many queries TPC-H has.
pub const QUERY_COUNT: usize = 22;

/// The query directory in the source tree, the default.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tpch")
        .join("queries")
}

/// One query: its number, file text and check specification.
#[derive(Debug, Clone)]
pub struct Query {
    pub number: usize,
    pub text: String,
    pub check: CheckSpec,
}

impl Query {
    /// `q01` … `q22`: the file stem, and the name in reports.
    pub fn name(&self) -> String {
        name(self.number)
    }
}

pub fn name(number: usize) -> String {
    format!("q{number:02}")
}

/// Reads the queries `numbers` (all 22 when empty) from `dir`.
pub fn load(dir: &Path, numbers: &[usize]) -> Result<Vec<Query>> {
    let all: Vec<usize> = (1..=QUERY_COUNT).collect();
    let numbers = if numbers.is_empty() {
        &all[..]
    } else {
        numbers
    };
    numbers
        .iter()
        .map(|&number| {
            if !(1..=QUERY_COUNT).contains(&number) {
                bail!("there is no TPC-H query {number}");
            }
            let path = dir.join(format!("{}.sql", name(number)));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("read {}", path.display()))?;
            let check = parse_check(&text)
                .with_context(|| format!("{}: the -- check: line", path.display()))?;
            Ok(Query {
                number,
                text,
                check,
            })
        })
        .collect()
}

/// Parses the `-- check: order=… columns=…` line.
pub fn parse_check(text: &str) -> Result<CheckSpec> {
    let Some(line) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("-- check:"))
    else {
        bail!("missing");
    };
    let mut spec = CheckSpec::default();
    let mut saw_columns = false;
    for field in line.split_whitespace() {
        match field.split_once('=') {
            Some(("order", list)) => {
                for item in list.split(',').filter(|s| !s.is_empty()) {
                    let column: usize = item
                        .parse()
                        .with_context(|| format!("order column {item:?}"))?;
                    if column == 0 {
                        bail!("order columns are 1-based");
                    }
                    spec.order.push(column - 1);
                }
            }
            Some(("columns", list)) => {
                saw_columns = true;
                for item in list.split(',') {
                    spec.columns.push(
                        Kind::parse(item)
                            .with_context(|| format!("unknown column kind {item:?}"))?,
                    );
                }
            }
            _ => bail!("unknown field {field:?}"),
        }
    }
    if !saw_columns {
        bail!("no columns=");
    }
    if let Some(&bad) = spec.order.iter().find(|&&c| c >= spec.columns.len()) {
        bail!(
            "order column {} beyond the {} columns",
            bad + 1,
            spec.columns.len()
        );
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_22_query_files_load_with_check_lines() {
        let queries = load(&default_dir(), &[]).unwrap();
        assert_eq!(queries.len(), QUERY_COUNT);
        for q in &queries {
            assert!(q.text.to_lowercase().contains("select"), "{}", q.name());
            let statements = q.text.split(';').filter(|s| !s.trim().is_empty()).count();
            assert_eq!(
                statements,
                1,
                "{} must be one statement so every system runs it unchanged",
                q.name()
            );
        }
    }

    #[test]
    fn check_lines_parse() {
        let spec = parse_check("-- x\n-- check: order=2,1 columns=exact,sum,avg\nselect").unwrap();
        assert_eq!(spec.order, vec![1, 0]);
        assert_eq!(spec.columns, vec![Kind::Exact, Kind::Sum, Kind::Avg]);
        assert!(
            parse_check("-- check: order= columns=sum")
                .unwrap()
                .order
                .is_empty()
        );
        assert!(parse_check("-- check: order=3 columns=sum").is_err());
        assert!(parse_check("-- check: order=1 columns=bogus").is_err());
        assert!(parse_check("select 1").is_err());
    }

    #[test]
    fn unknown_query_numbers_are_refused() {
        assert!(load(&default_dir(), &[23]).is_err());
    }
}
