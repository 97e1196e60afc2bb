//! A scan filter's conjuncts over one dictionary-encoded text column, evaluated once per
//! dictionary entry instead of once per row.
//!
//! A segment holds low-cardinality text (`l_shipmode`, `p_brand`, …) as u16 codes into a
//! small dictionary. A conjunct that reads only such a column (`=`, `IN`, `LIKE`, anything
//! deterministic) has one answer per distinct value, so it is evaluated over the dictionary
//! (plus one NULL) and rows are tested by looking their code up: no string is expanded or
//! compared per row. The other conjuncts stay for the rows that pass.
//!
//! Comparisons of a fixed-width column with constants become [`RangeTest`]s on the stored
//! values the same way (`range_test`).
//!
//! Must never change which rows a filter keeps: only conjuncts that read a single column and
//! nothing row-dependent otherwise (no subqueries, no volatile calls) are moved.

use super::key_filter::{KeyFilter, KeyTest};
use super::range_test::{Bounds, RangeTest, bounds};
use crate::EngineError;
use crate::exec::eval::EvalEnv;
use crate::exec::vector::data::{Batch, Vector};
use crate::exec::vector::expr;
use arrow_array::{Array, StringArray, UInt16Array};
use omendb_planner::{BinOp, Expr};
use omendb_storage::segment::Column;
use omendb_storage::types::Value;

/// How many distinct u16 codes there are.
const CODES: usize = 1 << 16;

/// One conjunct of a fragment's filter, with the single column it reads, if it reads one.
#[derive(Debug, Clone)]
struct Conjunct {
    expr: Expr,
    column: Option<usize>,
    /// `column op constant`, the column on the left.
    compare: Option<(BinOp, Value)>,
}

/// A fragment's filter split into conjuncts, once per scan, with the join key filters that
/// come right after it.
#[derive(Debug, Clone)]
pub struct SplitFilter {
    conjuncts: Vec<Conjunct>,
    keys: Vec<KeyFilter>,
}

/// A dictionary test bound to one segment: which codes pass, and whether a NULL row does.
pub struct CodeTest<'a> {
    codes: &'a UInt16Array,
    pass: Vec<bool>,
    null_passes: bool,
}

impl CodeTest<'_> {
    /// Keep the rows of `rows` (segment row numbers) whose code passes.
    pub fn retain(&self, rows: &mut Vec<u32>) {
        let codes = self.codes.values();
        match self.codes.nulls().filter(|n| n.null_count() > 0) {
            None => rows.retain(|&r| self.pass[usize::from(codes[r as usize])]),
            Some(nulls) => rows.retain(|&r| {
                if nulls.is_null(r as usize) {
                    self.null_passes
                } else {
                    self.pass[usize::from(codes[r as usize])]
                }
            }),
        }
    }

    /// The segment rows `start..start + len` whose code passes, into `out`.
    pub fn collect(&self, start: usize, len: usize, out: &mut Vec<u32>) {
        out.clear();
        let codes = &self.codes.values()[start..start + len];
        match self.codes.nulls().filter(|n| n.null_count() > 0) {
            None => {
                // Branch-free: every row's number is written, the count advances on a pass
                // (whether a row passes is as good as random to a branch predictor).
                out.resize(len, 0);
                let mut n = 0;
                for (i, &c) in codes.iter().enumerate() {
                    out[n] = (start + i) as u32;
                    n += usize::from(self.pass[usize::from(c)]);
                }
                out.truncate(n);
            }
            Some(nulls) => {
                for (i, &c) in codes.iter().enumerate() {
                    let keep = if nulls.is_null(start + i) {
                        self.null_passes
                    } else {
                        self.pass[usize::from(c)]
                    };
                    if keep {
                        out.push((start + i) as u32);
                    }
                }
            }
        }
    }
}

/// A test of one column's stored form: dictionary codes, or a range of raw values.
pub enum ColumnTest<'a> {
    Codes(CodeTest<'a>),
    Range(RangeTest<'a>),
    Keys(KeyTest<'a>),
}

impl ColumnTest<'_> {
    /// Keep the rows of `rows` (segment row numbers) that pass.
    pub fn retain(&self, rows: &mut Vec<u32>) {
        match self {
            ColumnTest::Codes(t) => t.retain(rows),
            ColumnTest::Range(t) => t.retain(rows),
            ColumnTest::Keys(t) => t.retain(rows),
        }
    }

    /// The segment rows `start..start + len` that pass, into `out`.
    pub fn collect(&self, start: usize, len: usize, out: &mut Vec<u32>) {
        match self {
            ColumnTest::Codes(t) => t.collect(start, len, out),
            ColumnTest::Range(t) => t.collect(start, len, out),
            ColumnTest::Keys(t) => t.collect(start, len, out),
        }
    }
}

/// A filter as it applies to one segment: tests on stored columns, and what remains.
pub struct SegmentFilter<'a> {
    pub tests: Vec<ColumnTest<'a>>,
    pub rest: Option<Expr>,
}

impl SplitFilter {
    /// `keys`: the key filters a scan applies right after `filter`.
    pub fn new(filter: Option<&Expr>, keys: Vec<KeyFilter>) -> SplitFilter {
        let mut parts = Vec::new();
        if let Some(f) = filter {
            omendb_planner::optimizer::join_order::conjuncts(f.clone(), &mut parts);
        }
        let conjuncts = parts
            .into_iter()
            .map(|expr| {
                let column = single_column(&expr);
                let compare = column_against_constant(&expr);
                Conjunct {
                    expr,
                    column,
                    compare,
                }
            })
            .collect();
        SplitFilter { conjuncts, keys }
    }

    /// Whether some conjunct or key filter could be tested on a stored column at all.
    pub fn has_column_tests(&self) -> bool {
        !self.keys.is_empty() || self.conjuncts.iter().any(|c| c.column.is_some())
    }

    /// How many key filters the tests apply besides the filter.
    pub fn key_filters(&self) -> usize {
        self.keys.len()
    }

    /// Bind to a segment's columns: conjuncts over one dictionary column become code tests,
    /// comparisons of one fixed-width column with constants one range test per column (first:
    /// they are the cheapest), key filters key tests. `None` when a key filter's column is not
    /// stored as integers here (the flow applies the key filters then).
    pub fn bind<'a>(
        &self,
        columns: &'a [Column],
        width: usize,
        env: &EvalEnv,
    ) -> Option<SegmentFilter<'a>> {
        let mut codes = Vec::new();
        let mut ranges: Vec<(usize, Bounds)> = Vec::new();
        let mut rest = Vec::new();
        for c in &self.conjuncts {
            let Some((i, column)) = c.column.and_then(|i| Some((i, columns.get(i)?))) else {
                rest.push(c.expr.clone());
                continue;
            };
            if let Column::TextDict {
                codes: keys,
                values,
            } = column
            {
                // A value no visible row has may make the conjunct fail (a cast, say):
                // such a conjunct stays a row filter, where it sees only real rows.
                match code_test(&c.expr, i, keys, values, width, env) {
                    Ok(t) => codes.push(ColumnTest::Codes(t)),
                    Err(_) => rest.push(c.expr.clone()),
                }
                continue;
            }
            match c
                .compare
                .as_ref()
                .and_then(|(op, v)| bounds(column, *op, v))
            {
                Some(b) => match ranges.iter_mut().find(|(c, _)| *c == i) {
                    Some((_, r)) => *r = r.and(b),
                    None => ranges.push((i, b)),
                },
                None => rest.push(c.expr.clone()),
            }
        }
        let mut tests = Vec::with_capacity(ranges.len() + codes.len());
        for (i, b) in ranges {
            // `bounds` only gives ranges for columns `RangeTest` reads.
            let column = columns.get(i)?;
            tests.push(ColumnTest::Range(RangeTest::new(column, b)?));
        }
        tests.extend(codes);
        for k in &self.keys {
            let column = columns.get(k.column)?;
            tests.push(ColumnTest::Keys(KeyTest::new(column, k.keys.clone())?));
        }
        Some(SegmentFilter {
            tests,
            rest: omendb_planner::optimizer::join_order::and_all(rest),
        })
    }
}

/// `column op constant` (or the flipped form) for an ordering or equality comparison, with
/// the column on the left.
fn column_against_constant(e: &Expr) -> Option<(BinOp, Value)> {
    let Expr::Binary {
        op, left, right, ..
    } = e
    else {
        return None;
    };
    if !op.is_comparison() {
        return None;
    }
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column { .. }, Expr::Literal { value, .. }) if !value.is_null() => {
            Some((*op, value.clone()))
        }
        (Expr::Literal { value, .. }, Expr::Column { .. }) if !value.is_null() => {
            Some((op.flipped(), value.clone()))
        }
        _ => None,
    }
}

/// The one column `e` reads, when it reads exactly one and nothing opaque.
fn single_column(e: &Expr) -> Option<usize> {
    let mut column: Option<usize> = None;
    let mut ok = true;
    e.walk(&mut |x| match x {
        Expr::Column { index, .. } => match column {
            None => column = Some(*index),
            Some(c) if c == *index => {}
            Some(_) => ok = false,
        },
        x => ok &= !x.is_opaque_node(),
    });
    column.filter(|_| ok)
}

/// Evaluate `e` over every dictionary value and a NULL, as a batch where only column `column`
/// is present.
fn code_test<'a>(
    e: &Expr,
    column: usize,
    codes: &'a UInt16Array,
    values: &StringArray,
    width: usize,
    env: &EvalEnv,
) -> Result<CodeTest<'a>, EngineError> {
    let n = values.len();
    let with_null: StringArray = values
        .iter()
        .chain(std::iter::once(None))
        .collect::<StringArray>();
    let mut vectors: Vec<Vector> = (0..width).map(|_| Vector::Absent(n + 1)).collect();
    vectors[column] = Vector::Text(with_null);
    let batch = Batch::new(vectors, n + 1);
    let mut selected = Vec::new();
    expr::select(e, &batch, env, &mut selected)?;
    // One entry per possible code, so a code beyond the dictionary (a damaged file) reads
    // `false` instead of indexing out of bounds in the per-row loop.
    let mut pass = vec![false; CODES];
    let mut null_passes = false;
    for s in selected {
        match (s as usize).cmp(&n) {
            std::cmp::Ordering::Less => pass[s as usize] = true,
            _ => null_passes = true,
        }
    }
    Ok(CodeTest {
        codes,
        pass,
        null_passes,
    })
}
