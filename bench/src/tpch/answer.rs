//! A query's answer as text, the way the server sent it, and its CSV form for the reference
//! answers kept in `bench/tpch/answers/sf<SF>/qNN.csv`.
//!
//! Owns the answer representation and its file format. It must never reformat a value: checking
//! compares what the server printed.
//!
//! CSV format: a header row of column names, then one row per answer row; a NULL is written as
//! `\N` (TPC-H answers hold neither NULLs nor that string, so nothing is ambiguous).

use std::path::Path;

use anyhow::{Context, Result, bail};
use tokio_postgres::SimpleQueryMessage;

/// How a NULL is written in the CSV files.
const NULL_MARK: &str = "\\N";

/// Column names and rows of text values (`None` is NULL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Answer {
    /// The answer of the last statement that returned rows in a simple-query exchange.
    pub fn from_messages(messages: &[SimpleQueryMessage]) -> Answer {
        let mut answer = Answer::default();
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(columns) => {
                    answer = Answer {
                        columns: columns.iter().map(|c| c.name().to_owned()).collect(),
                        rows: Vec::new(),
                    };
                }
                SimpleQueryMessage::Row(row) => {
                    answer.rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    );
                }
                _ => {}
            }
        }
        answer
    }

    /// Writes the answer as CSV to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut writer =
            csv::Writer::from_path(path).with_context(|| format!("create {}", path.display()))?;
        writer.write_record(&self.columns)?;
        for row in &self.rows {
            writer.write_record(row.iter().map(|v| v.as_deref().unwrap_or(NULL_MARK)))?;
        }
        writer
            .flush()
            .with_context(|| format!("write {}", path.display()))?;
        Ok(())
    }

    /// Reads an answer written by `write_csv`.
    pub fn read_csv(path: &Path) -> Result<Answer> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .with_context(|| format!("open {}", path.display()))?;
        let columns: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.with_context(|| format!("read {}", path.display()))?;
            if record.len() != columns.len() {
                bail!(
                    "{}: a row has {} fields, the header {}",
                    path.display(),
                    record.len(),
                    columns.len()
                );
            }
            rows.push(
                record
                    .iter()
                    .map(|v| (v != NULL_MARK).then(|| v.to_owned()))
                    .collect(),
            );
        }
        Ok(Answer { columns, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_keeps_commas_quotes_padding_and_nulls() {
        let answer = Answer {
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec![Some("x, \"y\"".into()), None],
                vec![Some("Supplier#1   ".into()), Some("".into())],
            ],
        };
        let path = std::env::temp_dir().join(format!("omendb-answer-{}.csv", std::process::id()));
        answer.write_csv(&path).unwrap();
        let back = Answer::read_csv(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back, answer);
    }
}
