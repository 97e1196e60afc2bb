//! Answer checking as the TPC-H specification (clause 2.1.3.5) allows: singleton values and
//! counts exactly, SUM results within 100 (the spec's "$100"), AVG results and ratios rounded to
//! 1/100 within 1%; strings exactly (char(n) padding included); rows in order where the query
//! orders them, rows that tie on every ORDER BY column in any order among themselves.
//!
//! Owns the comparison. It must never pass an answer by looking only at its shape: every value
//! of every row is compared, and the verdict says whether the text was identical or only within
//! the spec's tolerance.

use std::fmt;

use super::answer::Answer;

/// How a column is compared (named in each query file's `-- check:` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Keys, names, dates, counts and other singleton values: the same value.
    Exact,
    /// A SUM: within `SUM_TOLERANCE` of the reference.
    Sum,
    /// An AVG: both rounded to 1/100, within 1% of the reference.
    Avg,
    /// A ratio of aggregates: compared like an AVG.
    Ratio,
}

impl Kind {
    pub fn parse(word: &str) -> Option<Kind> {
        match word {
            "exact" => Some(Kind::Exact),
            "sum" => Some(Kind::Sum),
            "avg" => Some(Kind::Avg),
            "ratio" => Some(Kind::Ratio),
            _ => None,
        }
    }
}

/// The spec's absolute tolerance for SUM results ("within $100").
const SUM_TOLERANCE: f64 = 100.0;
/// The spec's relative tolerance for AVG results and ratios (1%).
const RELATIVE_TOLERANCE: f64 = 0.01;

/// What the checker needs to know about a query's result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckSpec {
    /// Output columns (0-based) of the ORDER BY, most significant first; empty when unordered.
    pub order: Vec<usize>,
    /// How each output column is compared.
    pub columns: Vec<Kind>,
}

/// The outcome of checking one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every value has the reference's exact text.
    Identical,
    /// Every value matches within the spec's tolerance, some with different text.
    WithinTolerance,
    /// The answer is wrong; the reason names the first difference.
    Wrong(String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        !matches!(self, Verdict::Wrong(_))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Identical => f.write_str("identical"),
            Verdict::WithinTolerance => f.write_str("within tolerance"),
            Verdict::Wrong(why) => write!(f, "WRONG: {why}"),
        }
    }
}

/// Checks `actual` against the reference `expected`.
pub fn check(expected: &Answer, actual: &Answer, spec: &CheckSpec) -> Verdict {
    let width = spec.columns.len();
    if expected.columns.len() != width {
        return Verdict::Wrong(format!(
            "the reference has {} columns, the query file says {width}",
            expected.columns.len()
        ));
    }
    if actual.columns.len() != width {
        return Verdict::Wrong(format!(
            "{} columns, expected {width}",
            actual.columns.len()
        ));
    }
    if actual.rows.len() != expected.rows.len() {
        return Verdict::Wrong(format!(
            "{} rows, expected {}",
            actual.rows.len(),
            expected.rows.len()
        ));
    }
    let mut identical = true;
    for run in tie_runs(expected, spec) {
        match check_run(
            &expected.rows[run.clone()],
            &actual.rows[run.clone()],
            &spec.columns,
        ) {
            Ok(same_text) => identical &= same_text,
            Err((offset, why)) => {
                return Verdict::Wrong(format!("row {}: {why}", run.start + offset + 1));
            }
        }
    }
    if identical {
        Verdict::Identical
    } else {
        Verdict::WithinTolerance
    }
}

/// Ranges of reference rows whose order among themselves is unspecified: consecutive rows equal
/// on every ORDER BY column, or all rows when the query does not order.
fn tie_runs(expected: &Answer, spec: &CheckSpec) -> Vec<std::ops::Range<usize>> {
    let n = expected.rows.len();
    if spec.order.is_empty() {
        return std::iter::once(0..n).collect();
    }
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        let tied = i < n
            && spec
                .order
                .iter()
                .all(|&c| expected.rows[i][c] == expected.rows[start][c]);
        if !tied {
            runs.push(start..i);
            start = i;
        }
    }
    runs
}

/// Matches the rows of one run as a multiset (positionally first, which is the common case).
/// `Ok(identical)` or `Err((offset of the first unmatched reference row, why))`.
fn check_run(
    expected: &[Vec<Option<String>>],
    actual: &[Vec<Option<String>>],
    kinds: &[Kind],
) -> Result<bool, (usize, String)> {
    let positional: Option<Vec<bool>> = expected
        .iter()
        .zip(actual)
        .map(|(e, a)| row_matches(e, a, kinds))
        .collect();
    if let Some(same) = positional {
        return Ok(same.iter().all(|&s| s));
    }
    let mut used = vec![false; actual.len()];
    let mut identical = true;
    for (offset, want) in expected.iter().enumerate() {
        let found = actual.iter().enumerate().find_map(|(j, got)| {
            if used[j] {
                None
            } else {
                row_matches(want, got, kinds).map(|s| (j, s))
            }
        });
        match found {
            Some((j, same)) => {
                used[j] = true;
                identical &= same;
            }
            None => {
                let got = &actual[offset];
                return Err((
                    offset,
                    format!("expected {}, got {}", show(want), show(got)),
                ));
            }
        }
    }
    Ok(identical)
}

/// `Some(identical text)` when every value matches, `None` otherwise.
fn row_matches(
    expected: &[Option<String>],
    actual: &[Option<String>],
    kinds: &[Kind],
) -> Option<bool> {
    let mut identical = true;
    for ((e, a), kind) in expected.iter().zip(actual).zip(kinds) {
        identical &= value_matches(e.as_deref(), a.as_deref(), *kind)?;
    }
    Some(identical)
}

/// `Some(identical text)` when the value matches under `kind`, `None` otherwise.
fn value_matches(expected: Option<&str>, actual: Option<&str>, kind: Kind) -> Option<bool> {
    let (e, a) = match (expected, actual) {
        (None, None) => return Some(true),
        (Some(e), Some(a)) => (e, a),
        _ => return None,
    };
    if e == a {
        return Some(true);
    }
    let close = match kind {
        Kind::Exact => {
            matches!((normalize_decimal(e), normalize_decimal(a)), (Some(x), Some(y)) if x == y)
        }
        Kind::Sum => numbers(e, a).is_some_and(|(e, a)| (e - a).abs() <= SUM_TOLERANCE),
        Kind::Avg | Kind::Ratio => numbers(e, a).is_some_and(|(e, a)| within_percent(e, a)),
    };
    close.then_some(false)
}

fn numbers(e: &str, a: &str) -> Option<(f64, f64)> {
    Some((e.trim().parse().ok()?, a.trim().parse().ok()?))
}

/// Both rounded to 1/100, the actual within 1% of the reference.
fn within_percent(expected: f64, actual: f64) -> bool {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let (e, a) = (round(expected), round(actual));
    (e - a).abs() <= RELATIVE_TOLERANCE * e.abs()
}

/// The canonical text of a plain decimal number (`-0012.500` → `-12.5`), so that the same value
/// printed with another scale compares equal; `None` for anything else.
fn normalize_decimal(s: &str) -> Option<String> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let zero = int == "0" && frac.is_empty();
    let sign = if negative && !zero { "-" } else { "" };
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

fn show(row: &[Option<String>]) -> String {
    let values: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
    format!("[{}]", values.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(rows: &[&[&str]]) -> Answer {
        Answer {
            columns: (0..rows.first().map_or(0, |r| r.len()))
                .map(|i| format!("c{i}"))
                .collect(),
            rows: rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| (*v != "NULL").then(|| v.to_string()))
                        .collect()
                })
                .collect(),
        }
    }

    fn spec(order: &[usize], columns: &[Kind]) -> CheckSpec {
        CheckSpec {
            order: order.to_vec(),
            columns: columns.to_vec(),
        }
    }

    use Kind::{Avg, Exact, Ratio, Sum};

    #[test]
    fn identical_answers_are_identical() {
        let a = answer(&[&["A", "1.00"], &["B", "2.00"]]);
        assert_eq!(
            check(&a, &a, &spec(&[0], &[Exact, Sum])),
            Verdict::Identical
        );
    }

    #[test]
    fn sums_pass_within_100_and_fail_beyond() {
        let e = answer(&[&["56586554400.73"]]);
        assert_eq!(
            check(&e, &answer(&[&["56586554480.00"]]), &spec(&[], &[Sum])),
            Verdict::WithinTolerance
        );
        assert!(!check(&e, &answer(&[&["56586554600.74"]]), &spec(&[], &[Sum])).passed());
    }

    #[test]
    fn averages_round_to_hundredths_within_one_percent() {
        let e = answer(&[&["25.5220058532573370"]]);
        assert_eq!(
            check(&e, &answer(&[&["25.52"]]), &spec(&[], &[Avg])),
            Verdict::WithinTolerance
        );
        assert_eq!(
            check(&e, &answer(&[&["25.70"]]), &spec(&[], &[Avg])),
            Verdict::WithinTolerance
        );
        assert!(!check(&e, &answer(&[&["25.90"]]), &spec(&[], &[Avg])).passed());
        let zero = answer(&[&["0.00"]]);
        assert!(!check(&zero, &answer(&[&["0.01"]]), &spec(&[], &[Ratio])).passed());
    }

    #[test]
    fn exact_values_allow_only_another_scale() {
        let e = answer(&[&["1478493", "9938.53"]]);
        let kinds = [Exact, Exact];
        assert_eq!(
            check(&e, &answer(&[&["1478493", "9938.530"]]), &spec(&[], &kinds)),
            Verdict::WithinTolerance
        );
        assert!(!check(&e, &answer(&[&["1478494", "9938.53"]]), &spec(&[], &kinds)).passed());
        assert!(!check(&e, &answer(&[&["1478493", "9938.54"]]), &spec(&[], &kinds)).passed());
    }

    #[test]
    fn strings_compare_exactly_including_char_padding() {
        let e = answer(&[&["BRAZIL                   "]]);
        assert!(!check(&e, &answer(&[&["BRAZIL"]]), &spec(&[], &[Exact])).passed());
        assert!(
            !check(
                &e,
                &answer(&[&["brazil                   "]]),
                &spec(&[], &[Exact])
            )
            .passed()
        );
    }

    #[test]
    fn nulls_match_only_nulls() {
        let e = answer(&[&["NULL"]]);
        assert_eq!(check(&e, &e, &spec(&[], &[Sum])), Verdict::Identical);
        assert!(!check(&e, &answer(&[&["0"]]), &spec(&[], &[Sum])).passed());
        assert!(!check(&answer(&[&["0"]]), &e, &spec(&[], &[Sum])).passed());
    }

    #[test]
    fn row_order_matters_where_the_query_orders() {
        let e = answer(&[&["A", "1"], &["B", "2"]]);
        let swapped = answer(&[&["B", "2"], &["A", "1"]]);
        let ordered = check(&e, &swapped, &spec(&[0], &[Exact, Exact]));
        assert_eq!(
            ordered,
            Verdict::Wrong("row 1: expected [A | 1], got [B | 2]".into())
        );
        assert_eq!(
            check(&e, &swapped, &spec(&[], &[Exact, Exact])),
            Verdict::Identical
        );
    }

    #[test]
    fn rows_tied_on_every_order_column_may_come_in_any_order() {
        let e = answer(&[&["9", "x"], &["9", "y"], &["8", "z"]]);
        let tied_swapped = answer(&[&["9", "y"], &["9", "x"], &["8", "z"]]);
        assert_eq!(
            check(&e, &tied_swapped, &spec(&[0], &[Exact, Exact])),
            Verdict::Identical
        );
        let crossing = answer(&[&["9", "x"], &["8", "z"], &["9", "y"]]);
        assert!(!check(&e, &crossing, &spec(&[0], &[Exact, Exact])).passed());
    }

    #[test]
    fn missing_rows_and_columns_are_wrong() {
        let e = answer(&[&["A", "1"], &["B", "2"]]);
        assert_eq!(
            check(&e, &answer(&[&["A", "1"]]), &spec(&[0], &[Exact, Exact])),
            Verdict::Wrong("1 rows, expected 2".into())
        );
        assert_eq!(
            check(&e, &answer(&[&["A"], &["B"]]), &spec(&[0], &[Exact, Exact])),
            Verdict::Wrong("1 columns, expected 2".into())
        );
    }

    #[test]
    fn decimals_normalize() {
        assert_eq!(normalize_decimal("-0012.500").as_deref(), Some("-12.5"));
        assert_eq!(normalize_decimal("-0.00").as_deref(), Some("0"));
        assert_eq!(normalize_decimal("+7").as_deref(), Some("7"));
        assert_eq!(normalize_decimal(".5").as_deref(), Some("0.5"));
        assert_eq!(normalize_decimal("1e5"), None);
        assert_eq!(normalize_decimal("1995-03-15"), None);
        assert_eq!(normalize_decimal(""), None);
    }
}
