//! Which rows of a batch an aggregate folds in: all of them, or those a filter selected (a
//! selection vector carried instead of gathering every column). One monomorphic loop per form.

/// The rows to visit: the `k`-th visited row is row `at(k)` of the batch.
pub trait Rows: Copy {
    fn count(self) -> usize;
    fn at(self, k: usize) -> usize;
}

/// The first `n` rows.
#[derive(Debug, Clone, Copy)]
pub struct All(pub usize);

impl Rows for All {
    #[inline(always)]
    fn count(self) -> usize {
        self.0
    }
    #[inline(always)]
    fn at(self, k: usize) -> usize {
        k
    }
}

/// The rows a selection vector lists, ascending.
impl Rows for &[u32] {
    #[inline(always)]
    fn count(self) -> usize {
        self.len()
    }
    #[inline(always)]
    fn at(self, k: usize) -> usize {
        self[k] as usize
    }
}
