//! Slice kernels: tight loops over plain slices, written so LLVM vectorizes them, with
//! `std::arch` AVX2 paths (runtime-detected, scalar fallback always present) where it does not.
//!
//! Kernels know nothing about SQL types, NULLs or errors beyond what their signature says; the
//! expression layer decides what a flagged row means. Never allocate per row.

pub mod arith;
pub mod compare;
pub mod select;

/// One operand of a binary kernel: a slice, or one value repeated (a constant).
pub trait Src<T: Copy>: Copy {
    fn at(self, i: usize) -> T;
    /// Rows available (`usize::MAX` for a constant).
    fn rows(self) -> usize;
}

impl<T: Copy> Src<T> for &[T] {
    #[inline(always)]
    fn at(self, i: usize) -> T {
        self[i]
    }
    #[inline(always)]
    fn rows(self) -> usize {
        <[T]>::len(self)
    }
}

/// A constant operand.
#[derive(Clone, Copy)]
pub struct Splat<T>(pub T);

impl<T: Copy> Src<T> for Splat<T> {
    #[inline(always)]
    fn at(self, _: usize) -> T {
        self.0
    }
    #[inline(always)]
    fn rows(self) -> usize {
        usize::MAX
    }
}
