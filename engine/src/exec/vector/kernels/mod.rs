//! Slice kernels: tight loops over plain slices, written so LLVM vectorizes them, with
//! `std::arch` AVX2 paths (runtime-detected, scalar fallback always present) where it does not.
//!
//! Kernels know nothing about SQL types, NULLs or errors beyond what their signature says; the
//! expression layer decides what a flagged row means. Never allocate per row.

pub mod arith;
pub mod bloom;
pub mod compare;
pub mod compare_const;
pub mod hash;
pub mod select;
pub mod sum;

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

/// The instruction set a kernel call uses; benchmarks and tests pick one explicitly.
/// `Avx512` means the F, BW and DQ subsets (every AVX-512 CPU since Skylake-SP has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512,
}

impl Isa {
    /// The best this CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Scalar
    }

    /// Every path this CPU can run, scalar first.
    pub fn available() -> Vec<Isa> {
        let best = Isa::detect();
        [Isa::Scalar, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|i| *i <= best)
            .collect()
    }
}
