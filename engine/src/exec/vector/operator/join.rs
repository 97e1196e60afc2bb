//! Hash join over batches: inner (building the smaller side), left and right outer, semi, anti
//! and NOT IN's null-aware anti join.
//!
//! Keys are the equalities between a left and a right column of the same type in `ON` (as the
//! row executor's join finds them); the build side's rows are chained per distinct encoded key.
//! Candidate pairs then pass the whole `ON` predicate unless it is nothing but those
//! equalities. Must not be used without at least one equi key (the row executor handles those).

use super::join_keys::KeyData;
use crate::EngineError;
use crate::exec::eval::EvalEnv;
use crate::exec::vector::data::{BATCH_SIZE, Batch, Kind, Vector, batches_size};
use crate::exec::vector::expr;
use crate::exec::vector::gather::{concat_batches, take_batch};
use crate::exec::vector::keys;
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use omendb_planner::{BinOp, Expr, JoinKind};
use omendb_storage::types::Value;

/// Hash-join bytes per build row besides the row itself: its table slot, chain link and hash.
const BUILD_ROW_OVERHEAD: usize = size_of::<u32>() + size_of::<u32>() + size_of::<u64>();

const END: u32 = u32::MAX;

/// `(left column, right column)` equalities of `on`, and whether `on` is nothing else.
pub fn equi_keys(on: &Expr, left_width: usize) -> (Vec<(usize, usize)>, bool) {
    let mut keys = Vec::new();
    let only = collect(on, left_width, &mut keys);
    (keys, only)
}

fn collect(on: &Expr, left_width: usize, keys: &mut Vec<(usize, usize)>) -> bool {
    match on {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => {
            let a = collect(left, left_width, keys);
            collect(right, left_width, keys) && a
        }
        Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } => {
            if let (Expr::Column { index: a, ty: ta }, Expr::Column { index: b, ty: tb }) =
                (left.as_ref(), right.as_ref())
                && ta == tb
            {
                match (*a < left_width, *b < left_width) {
                    (true, false) => {
                        keys.push((*a, *b - left_width));
                        return true;
                    }
                    (false, true) => {
                        keys.push((*b, *a - left_width));
                        return true;
                    }
                    _ => {}
                }
            }
            false
        }
        // A key every branch of an OR requires is a key of the OR (TPC-H Q19's shape); the whole
        // predicate still filters the candidates.
        Expr::Binary {
            op: BinOp::Or,
            left,
            right,
            ..
        } => {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            collect(left, left_width, &mut a);
            collect(right, left_width, &mut b);
            keys.extend(a.into_iter().filter(|k| b.contains(k)));
            false
        }
        _ => false,
    }
}

/// The two inputs of a join with their widths and column kinds.
pub struct Sides {
    pub left: Vec<Batch>,
    pub right: Vec<Batch>,
    pub left_kinds: Vec<Kind>,
    pub right_kinds: Vec<Kind>,
}

/// The build side: its rows, and per distinct key the first row and a chain through the rest.
struct Build {
    batch: Batch,
    hasher: DefaultHashBuilder,
    table: HashTable<u32>,
    keys: KeyData,
    next: Vec<u32>,
    nulls: Vec<bool>,
    has_null_key: bool,
}

impl Build {
    fn new(batches: &[Batch], width: usize, key_cols: &[usize]) -> Result<Build, EngineError> {
        let batch = concat_batches(batches, width)?;
        let cols: Vec<&Vector> = key_cols.iter().map(|c| &batch.columns[*c]).collect();
        let len = batch.len;
        let keys = KeyData::of(&cols, len);
        let nulls = keys::any_null(&cols, len);
        let hasher = DefaultHashBuilder::default();
        let mut hashes = Vec::with_capacity(len);
        keys.hashes(len, &hasher, &mut hashes);
        let mut table: HashTable<u32> = HashTable::with_capacity(len);
        let mut next = vec![END; len];
        // Insert in reverse so each chain lists its rows in input order.
        for i in (0..len).rev() {
            if nulls[i] {
                continue;
            }
            let h = hashes[i];
            match table.find_mut(h, |&r| keys.eq(r as usize, &keys, i)) {
                Some(head) => {
                    next[i] = *head;
                    *head = i as u32;
                }
                None => {
                    table.insert_unique(h, i as u32, |&r| hashes[r as usize]);
                }
            }
        }
        let has_null_key = nulls.iter().any(|n| *n);
        Ok(Build {
            batch,
            hasher,
            table,
            keys,
            next,
            nulls,
            has_null_key,
        })
    }

    /// Append every (probe row, build row) pair with equal keys.
    fn probe(
        &self,
        keys: &KeyData,
        nulls: &[bool],
        hashes: &mut Vec<u64>,
        probe: &mut Vec<u32>,
        build: &mut Vec<u32>,
    ) {
        keys.hashes(nulls.len(), &self.hasher, hashes);
        // One integer key (the common case): compare the values without the general dispatch.
        if let (KeyData::Ints(mine), KeyData::Ints(theirs)) = (&self.keys, keys)
            && let ([mine], [theirs]) = (mine.as_slice(), theirs.as_slice())
        {
            for (i, null) in nulls.iter().enumerate() {
                if *null {
                    continue;
                }
                let k = theirs[i];
                let found = self.table.find(hashes[i], |&r| mine[r as usize] == k);
                self.chain(found.copied(), i, probe, build);
            }
            return;
        }
        for (i, null) in nulls.iter().enumerate() {
            if *null {
                continue;
            }
            let found = self
                .table
                .find(hashes[i], |&r| self.keys.eq(r as usize, keys, i));
            self.chain(found.copied(), i, probe, build);
        }
    }

    /// Pair probe row `i` with every build row of the chain starting at `head`.
    #[inline]
    fn chain(&self, head: Option<u32>, i: usize, probe: &mut Vec<u32>, build: &mut Vec<u32>) {
        let mut r = head.unwrap_or(END);
        while r != END {
            probe.push(i as u32);
            build.push(r);
            r = self.next[r as usize];
        }
    }
}

/// A probe batch's keys and which of its rows have a NULL key.
fn probe_keys(p: &Batch, key_cols: &[usize]) -> (KeyData, Vec<bool>) {
    let cols: Vec<&Vector> = key_cols.iter().map(|c| &p.columns[*c]).collect();
    (KeyData::of(&cols, p.len), keys::any_null(&cols, p.len))
}

/// All-NULL columns of the given kinds.
fn nulls_of(kinds: &[Kind], len: usize) -> Result<Vec<Vector>, EngineError> {
    kinds
        .iter()
        .map(|k| Vector::constant(&Value::Null, *k, len))
        .collect()
}

/// Left columns then right columns.
fn glue(left: Batch, right: Batch) -> Batch {
    let len = left.len;
    let mut columns = left.columns;
    columns.extend(right.columns);
    Batch::new(columns, len)
}

/// Inner and cross joins without equi keys: every left row against every right row, in
/// chunks of about a batch of pairs, filtered by `on`.
pub fn nested_loop(
    sides: Sides,
    on: Option<&Expr>,
    env: &EvalEnv,
    cancelled: &dyn Fn() -> Result<(), EngineError>,
) -> Result<Vec<Batch>, EngineError> {
    let right = concat_batches(&sides.right, sides.right_kinds.len())?;
    if right.len == 0 {
        return Ok(Vec::new());
    }
    let per_chunk = (BATCH_SIZE / right.len).max(1);
    let mut out = Vec::new();
    let mut sel = Vec::new();
    for l in &sides.left {
        for start in (0..l.len).step_by(per_chunk) {
            cancelled()?;
            let end = (start + per_chunk).min(l.len);
            let pairs = (end - start) * right.len;
            let mut li = Vec::with_capacity(pairs);
            let mut ri = Vec::with_capacity(pairs);
            for i in start..end {
                li.extend(std::iter::repeat_n(i as u32, right.len));
                ri.extend(0..right.len as u32);
            }
            let joined = glue(take_batch(l, &li)?, take_batch(&right, &ri)?);
            let joined = match on {
                Some(p) => super::filter(joined, p, env, &mut sel)?,
                None => joined,
            };
            if joined.len > 0 {
                env.memory.charge(joined.memory_size())?;
                out.push(joined);
            }
        }
    }
    Ok(out)
}

/// A semi or anti join whose left side is the smaller, with that side built: the hash table
/// holds the left rows, the right rows stream past it marking the left rows they match (each
/// left row is tested against the rest of `ON` only until its first match, per probe run),
/// then the left rows whose mark is wanted leave in their input order ([`SemiProbe::finish`]).
pub struct SemiProbe {
    build: Build,
    kind: JoinKind,
    on: Expr,
    only_keys: bool,
    right_cols: Vec<usize>,
}

/// What one run of right batches found: the left rows they matched, how many right rows
/// there were, and whether one had a NULL key.
pub struct SemiMarks {
    pub matched: Vec<bool>,
    pub right_rows: usize,
    pub null_key: bool,
}

impl SemiMarks {
    /// Fold another run's marks in.
    pub fn absorb(&mut self, other: SemiMarks) {
        if self.matched.is_empty() {
            self.matched = other.matched;
        } else {
            self.matched
                .iter_mut()
                .zip(other.matched)
                .for_each(|(m, o)| *m |= o);
        }
        self.right_rows += other.right_rows;
        self.null_key |= other.null_key;
    }
}

impl SemiProbe {
    /// Stream `right` batches past the left rows.
    pub fn run(
        &self,
        right: &[Batch],
        env: &EvalEnv,
        cancelled: &dyn Fn() -> Result<(), EngineError>,
    ) -> Result<SemiMarks, EngineError> {
        let build = &self.build;
        let mut marks = SemiMarks {
            matched: vec![false; build.batch.len],
            right_rows: 0,
            null_key: false,
        };
        let (mut pi, mut bi, mut sel, mut hashes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for p in right {
            cancelled()?;
            let (encoded, nulls) = probe_keys(p, &self.right_cols);
            if self.kind == JoinKind::AntiNullAware && nulls.iter().any(|n| *n) {
                // x NOT IN (… NULL …) is never true: nothing else matters.
                marks.null_key = true;
                return Ok(marks);
            }
            marks.right_rows += p.len;
            pi.clear();
            bi.clear();
            build.probe(&encoded, &nulls, &mut hashes, &mut pi, &mut bi);
            if self.only_keys {
                bi.iter().for_each(|&r| marks.matched[r as usize] = true);
                continue;
            }
            let open: Vec<usize> = (0..bi.len())
                .filter(|&k| !marks.matched[bi[k] as usize])
                .collect();
            if open.is_empty() {
                continue;
            }
            let (opi, obi): (Vec<u32>, Vec<u32>) = open.iter().map(|&k| (pi[k], bi[k])).unzip();
            let joined = glue(take_batch(&build.batch, &obi)?, take_batch(p, &opi)?);
            expr::select(&self.on, &joined, env, &mut sel)?;
            sel.iter()
                .for_each(|&s| marks.matched[obi[s as usize] as usize] = true);
        }
        Ok(marks)
    }

    /// The left rows the join keeps, given every run's marks.
    pub fn finish(&self, marks: &SemiMarks) -> Result<Vec<Batch>, EngineError> {
        if marks.null_key {
            return Ok(Vec::new());
        }
        let build = &self.build;
        let want = self.kind == JoinKind::Semi;
        let keep: Vec<u32> = (0..build.batch.len)
            .filter(|&i| {
                if self.kind == JoinKind::AntiNullAware && build.nulls[i] && marks.right_rows > 0 {
                    return false;
                }
                marks.matched.get(i).copied().unwrap_or(false) == want
            })
            .map(|i| i as u32)
            .collect();
        keep.chunks(BATCH_SIZE)
            .map(|rows| take_batch(&build.batch, rows))
            .collect()
    }
}

/// A hash join with its build side ready: what any number of probe batches, on any core, need.
pub struct Probe {
    build: Build,
    kind: JoinKind,
    on: Expr,
    only_keys: bool,
    build_left: bool,
    probe_cols: Vec<usize>,
    /// The build side's column kinds, for null-extending unmatched probe rows.
    pad_kinds: Vec<Kind>,
    /// The probe side's column kinds, for null-extending unmatched build rows.
    probe_kinds: Vec<Kind>,
    /// An outer join built on its preserved side (it is the smaller): build rows no probe row
    /// matched leave null-extended after every probe ([`Probe::unmatched`]).
    preserve_build: bool,
    build_empty: bool,
}

/// What preparing a join left to do.
pub enum Prepared {
    /// The join's rows already (a semi/anti join by its smaller left side, `NOT IN` over a NULL).
    Done(Vec<Batch>),
    /// Probe these batches against the build side.
    Probe(Box<Probe>, Vec<Batch>),
    /// Stream these right batches past the built left side of a semi or anti join.
    SemiByLeft(Box<SemiProbe>, Vec<Batch>),
}

/// Run the join on this core.
pub fn join(
    sides: Sides,
    kind: JoinKind,
    on: &Expr,
    env: &EvalEnv,
    cancelled: &dyn Fn() -> Result<(), EngineError>,
) -> Result<Vec<Batch>, EngineError> {
    match prepare(sides, kind, on, env, cancelled)? {
        Prepared::Done(out) => Ok(out),
        Prepared::Probe(probe, batches) => {
            let (mut out, matched) = probe.run(&batches, env, cancelled)?;
            out.extend(probe.unmatched(&matched)?);
            Ok(out)
        }
        Prepared::SemiByLeft(semi, right) => semi.finish(&semi.run(&right, env, cancelled)?),
    }
}

/// Build the hash table (or finish a join that needs no probe pass).
pub fn prepare(
    sides: Sides,
    kind: JoinKind,
    on: &Expr,
    env: &EvalEnv,
    cancelled: &dyn Fn() -> Result<(), EngineError>,
) -> Result<Prepared, EngineError> {
    cancelled()?;
    let lw = sides.left_kinds.len();
    let (keys, only_keys) = equi_keys(on, lw);
    if keys.is_empty() {
        return Err(EngineError::Internal("hash join without equi keys".into()));
    }
    let rows = |b: &[Batch]| b.iter().map(|x| x.len).sum::<usize>();
    let filtering = matches!(
        kind,
        JoinKind::Semi | JoinKind::Anti | JoinKind::AntiNullAware
    );
    if filtering && rows(&sides.left) < rows(&sides.right) {
        let left_cols: Vec<usize> = keys.iter().map(|k| k.0).collect();
        let build = Build::new(&sides.left, lw, &left_cols)?;
        env.memory
            .charge(build.batch.memory_size() + build.batch.len * BUILD_ROW_OVERHEAD)?;
        let semi = SemiProbe {
            build,
            kind,
            on: on.clone(),
            only_keys,
            right_cols: keys.iter().map(|k| k.1).collect(),
        };
        return Ok(Prepared::SemiByLeft(Box::new(semi), sides.right));
    }
    // The smaller side is built, except that a semi or anti join probes with its left rows.
    // An outer join built on its preserved side emits that side's unmatched rows at the end.
    let left_smaller = rows(&sides.left) < rows(&sides.right);
    let build_left = match kind {
        JoinKind::Inner | JoinKind::Left | JoinKind::Right => left_smaller,
        _ => false,
    };
    let preserve_build = match kind {
        JoinKind::Left => build_left,
        JoinKind::Right => !build_left,
        _ => false,
    };
    let Sides {
        left,
        right,
        left_kinds,
        right_kinds,
    } = sides;
    let (build_batches, probe_batches, build_width, pad_kinds, probe_kinds) = if build_left {
        (left, right, lw, left_kinds, right_kinds)
    } else {
        (right, left, right_kinds.len(), right_kinds, left_kinds)
    };
    let build_keys: Vec<usize> = keys
        .iter()
        .map(|k| if build_left { k.0 } else { k.1 })
        .collect();
    let probe_cols: Vec<usize> = keys
        .iter()
        .map(|k| if build_left { k.1 } else { k.0 })
        .collect();
    let build = Build::new(&build_batches, build_width, &build_keys)?;
    drop(build_batches);
    // The build side's copy of its rows and its hash table (encoded keys not counted).
    env.memory
        .charge(build.batch.memory_size() + build.batch.len * BUILD_ROW_OVERHEAD)?;
    if kind == JoinKind::AntiNullAware && build.has_null_key {
        // x NOT IN (… NULL …) is never true.
        return Ok(Prepared::Done(Vec::new()));
    }
    let build_empty = build.batch.len == 0;
    Ok(Prepared::Probe(
        Box::new(Probe {
            build,
            kind,
            on: on.clone(),
            only_keys,
            build_left,
            probe_cols,
            pad_kinds,
            probe_kinds,
            preserve_build,
            build_empty,
        }),
        probe_batches,
    ))
}

impl Probe {
    /// The join's rows for these probe batches, in their order, and (when the build side is
    /// preserved) which build rows they matched.
    pub fn run(
        &self,
        probe_batches: &[Batch],
        env: &EvalEnv,
        cancelled: &dyn Fn() -> Result<(), EngineError>,
    ) -> Result<(Vec<Batch>, Vec<bool>), EngineError> {
        let (build, kind, on, build_left) = (&self.build, self.kind, &self.on, self.build_left);
        let mut build_matched = if self.preserve_build {
            vec![false; build.batch.len]
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        let mut charged = 0;
        let (mut pi, mut bi, mut sel) = (Vec::new(), Vec::new(), Vec::new());
        let mut hashes = Vec::new();
        for p in probe_batches {
            cancelled()?;
            env.memory.charge(batches_size(&out[charged..]))?;
            charged = out.len();
            let (encoded, nulls) = probe_keys(p, &self.probe_cols);
            pi.clear();
            bi.clear();
            build.probe(&encoded, &nulls, &mut hashes, &mut pi, &mut bi);
            let pairs = |pi: &[u32], bi: &[u32]| -> Result<Batch, EngineError> {
                let pb = take_batch(p, pi)?;
                let bb = take_batch(&build.batch, bi)?;
                Ok(if build_left {
                    glue(bb, pb)
                } else {
                    glue(pb, bb)
                })
            };
            let mut joined = pairs(&pi, &bi)?;
            if !self.only_keys && joined.len > 0 {
                expr::select(on, &joined, env, &mut sel)?;
                if sel.len() != joined.len {
                    let keep = |v: &[u32]| sel.iter().map(|&s| v[s as usize]).collect::<Vec<_>>();
                    let (npi, nbi) = (keep(&pi), keep(&bi));
                    (pi, bi) = (npi, nbi);
                    joined = pairs(&pi, &bi)?;
                }
            }
            let mut matched = vec![false; p.len];
            for &i in &pi {
                matched[i as usize] = true;
            }
            match kind {
                JoinKind::Inner => {
                    if joined.len > 0 {
                        out.push(joined);
                    }
                }
                JoinKind::Left | JoinKind::Right if self.preserve_build => {
                    for &r in &bi {
                        build_matched[r as usize] = true;
                    }
                    if joined.len > 0 {
                        out.push(joined);
                    }
                }
                JoinKind::Left | JoinKind::Right => {
                    if joined.len > 0 {
                        out.push(joined);
                    }
                    let lonely: Vec<u32> = (0..p.len as u32)
                        .filter(|&i| !matched[i as usize])
                        .collect();
                    if !lonely.is_empty() {
                        let probe_part = take_batch(p, &lonely)?;
                        let pad =
                            Batch::new(nulls_of(&self.pad_kinds, lonely.len())?, lonely.len());
                        out.push(if build_left {
                            glue(pad, probe_part)
                        } else {
                            glue(probe_part, pad)
                        });
                    }
                }
                JoinKind::Semi | JoinKind::Anti | JoinKind::AntiNullAware => {
                    let want = kind == JoinKind::Semi;
                    let keep: Vec<u32> = (0..p.len as u32)
                        .filter(|&i| {
                            let i = i as usize;
                            if kind == JoinKind::AntiNullAware && nulls[i] && !self.build_empty {
                                return false;
                            }
                            matched[i] == want
                        })
                        .collect();
                    if !keep.is_empty() {
                        out.push(take_batch(p, &keep)?);
                    }
                }
                JoinKind::Full | JoinKind::Cross | JoinKind::Mark => {
                    return Err(EngineError::Internal(format!(
                        "{kind:?} join reached the vectorized hash join"
                    )));
                }
            }
        }
        Ok((out, build_matched))
    }

    /// When the build side is preserved: its rows no probe matched (`matched`: the OR of every
    /// probe run's marks), null-extended; nothing otherwise.
    pub fn unmatched(&self, matched: &[bool]) -> Result<Vec<Batch>, EngineError> {
        if !self.preserve_build {
            return Ok(Vec::new());
        }
        let lonely: Vec<u32> = (0..self.build.batch.len as u32)
            .filter(|&r| !matched.get(r as usize).copied().unwrap_or(false))
            .collect();
        lonely
            .chunks(BATCH_SIZE)
            .map(|rows| {
                let build_part = take_batch(&self.build.batch, rows)?;
                let pad = Batch::new(nulls_of(&self.probe_kinds, rows.len())?, rows.len());
                Ok(if self.build_left {
                    glue(build_part, pad)
                } else {
                    glue(pad, build_part)
                })
            })
            .collect()
    }
}
