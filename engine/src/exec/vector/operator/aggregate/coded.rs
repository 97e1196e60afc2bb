//! Group ids straight from dictionary codes: when every GROUP BY expression of a scan's
//! aggregate is a table column stored dictionary-encoded in the segment being scanned, a row's
//! group is a function of its codes. Each combination of codes is looked up in the aggregate's
//! groups once per segment (by its strings, so groups from other segments and from the row
//! store still meet), and every row then finds its group id with one table load: no string is
//! expanded, packed or hashed per row (TPC-H Q1 groups six million rows on two `char(1)`
//! columns).
//!
//! Must never give a row another group than its values would: the table is keyed by the full
//! code combination, a NULL code included, and filled from the dictionary's own strings.

use super::groups::Groups;
use super::rows::{All, Rows};
use crate::EngineError;
use crate::exec::vector::data::{Kind, Vector};
use arrow_array::{Array, StringArray, UInt16Array};
use omendb_storage::segment::Column;

/// The most code combinations a segment's table may have (256 KiB of group ids).
const MAX_COMBINATIONS: usize = 1 << 16;
/// A table entry whose group is not known yet.
const UNKNOWN: u32 = u32::MAX;

/// Where a batch's rows come from in the segment.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// Batch row `i` is segment row `start + i`.
    Range(usize),
    /// Batch row `i` is segment row `rows[i]`.
    Rows(&'a [u32]),
}

impl Origin<'_> {
    #[inline(always)]
    fn row(self, i: usize) -> usize {
        match self {
            Origin::Range(start) => start + i,
            Origin::Rows(rows) => rows[i] as usize,
        }
    }
}

/// One group column's codes and dictionary in the segment.
#[derive(Debug)]
struct Coded<'a> {
    codes: &'a UInt16Array,
    values: &'a StringArray,
    /// Code combinations are mixed-radix numbers: this column's digit weight.
    stride: usize,
}

/// Group ids by code combination, for one segment.
#[derive(Debug)]
pub struct CodedGroups<'a> {
    columns: Vec<Coded<'a>>,
    table: Vec<u32>,
}

impl<'a> CodedGroups<'a> {
    /// `None` unless every group column is dictionary-encoded in `segment` and the combinations
    /// are few enough.
    pub fn new(segment: &'a [Column], group_columns: &[usize]) -> Option<CodedGroups<'a>> {
        let mut columns = Vec::with_capacity(group_columns.len());
        let mut combinations = 1usize;
        for &c in group_columns {
            let Column::TextDict { codes, values } = segment.get(c)? else {
                return None;
            };
            // A code past the dictionary (a damaged file) has no group: the row path reports it.
            if codes
                .values()
                .iter()
                .any(|&k| usize::from(k) >= values.len())
            {
                return None;
            }
            columns.push(Coded {
                codes,
                values,
                stride: combinations,
            });
            // One digit value per dictionary entry, plus one for NULL.
            combinations = combinations.checked_mul(values.len() + 1)?;
            if combinations > MAX_COMBINATIONS {
                return None;
            }
        }
        Some(CodedGroups {
            columns,
            table: vec![UNKNOWN; combinations],
        })
    }

    /// The group id of each visited row (`rows` of a batch whose rows come from `origin`),
    /// into `gids`; groups seen for the first time are added to `groups`.
    pub fn assign<R: Rows>(
        &mut self,
        groups: &mut Groups,
        kinds: &[Kind],
        origin: Origin<'_>,
        rows: R,
        gids: &mut Vec<u32>,
    ) -> Result<(), EngineError> {
        gids.clear();
        gids.reserve(rows.count());
        for k in 0..rows.count() {
            let row = origin.row(rows.at(k));
            let combination = self.combination(row);
            let mut gid = self.table[combination];
            if gid == UNKNOWN {
                gid = self.add(groups, kinds, row)?;
                self.table[combination] = gid;
            }
            gids.push(gid);
        }
        Ok(())
    }

    #[inline(always)]
    fn combination(&self, row: usize) -> usize {
        self.columns
            .iter()
            .map(|c| {
                let digit = if c.codes.is_null(row) {
                    c.values.len()
                } else {
                    usize::from(c.codes.values()[row])
                };
                digit * c.stride
            })
            .sum()
    }

    /// The group of segment row `row`'s values, found or created by its strings.
    fn add(&self, groups: &mut Groups, kinds: &[Kind], row: usize) -> Result<u32, EngineError> {
        let key: Vec<Vector> = self
            .columns
            .iter()
            .map(|c| {
                let value = (!c.codes.is_null(row))
                    .then(|| c.values.value(usize::from(c.codes.values()[row])));
                Vector::Text(StringArray::from(vec![value]))
            })
            .collect();
        let refs: Vec<&Vector> = key.iter().collect();
        let mut gid = Vec::with_capacity(1);
        groups.assign(&refs, 1, All(1), &mut gid, kinds)?;
        gid.first()
            .copied()
            .ok_or_else(|| EngineError::Internal("no group for a dictionary code".into()))
    }
}
