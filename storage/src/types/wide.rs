//! Unsigned 256-bit integers, just enough for exact numeric multiplication and division whose
//! intermediate values outgrow `i128`. Only the slow paths of `Numeric` use it.

use std::cmp::Ordering;

/// `hi * 2^128 + lo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct U256 {
    hi: u128,
    lo: u128,
}

impl Ord for U256 {
    fn cmp(&self, other: &U256) -> Ordering {
        (self.hi, self.lo).cmp(&(other.hi, other.lo))
    }
}
impl PartialOrd for U256 {
    fn partial_cmp(&self, other: &U256) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

const LOW64: u128 = u64::MAX as u128;

impl U256 {
    pub(super) const ZERO: U256 = U256 { hi: 0, lo: 0 };

    pub(super) fn from_u128(v: u128) -> U256 {
        U256 { hi: 0, lo: v }
    }

    /// The value when it fits in 128 bits.
    pub(super) fn to_u128(self) -> Option<u128> {
        (self.hi == 0).then_some(self.lo)
    }

    /// Full product of two 128-bit numbers (schoolbook on 64-bit halves).
    pub(super) fn mul_u128(a: u128, b: u128) -> U256 {
        let (a1, a0) = (a >> 64, a & LOW64);
        let (b1, b0) = (b >> 64, b & LOW64);
        let p00 = a0 * b0;
        let p01 = a0 * b1;
        let p10 = a1 * b0;
        let p11 = a1 * b1;
        // Sum the middle terms in 64-bit pieces so no addition can overflow.
        let mid = (p00 >> 64) + (p01 & LOW64) + (p10 & LOW64);
        let lo = (p00 & LOW64) | (mid << 64);
        let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
        U256 { hi, lo }
    }

    /// `self * m`, `None` on overflow past 256 bits.
    pub(super) fn checked_mul_u128(self, m: u128) -> Option<U256> {
        let low = U256::mul_u128(self.lo, m);
        let high = U256::mul_u128(self.hi, m);
        if high.hi != 0 {
            return None;
        }
        let hi = low.hi.checked_add(high.lo)?;
        Some(U256 { hi, lo: low.lo })
    }

    pub(super) fn checked_add(self, other: U256) -> Option<U256> {
        let (lo, carry) = self.lo.overflowing_add(other.lo);
        let hi = self
            .hi
            .checked_add(other.hi)?
            .checked_add(u128::from(carry))?;
        Some(U256 { hi, lo })
    }

    pub(super) fn checked_sub(self, other: U256) -> Option<U256> {
        (self >= other).then(|| self.wrapping_sub(other))
    }

    fn wrapping_sub(self, other: U256) -> U256 {
        let (lo, borrow) = self.lo.overflowing_sub(other.lo);
        let hi = self
            .hi
            .wrapping_sub(other.hi)
            .wrapping_sub(u128::from(borrow));
        U256 { hi, lo }
    }

    fn shl1(self) -> U256 {
        U256 {
            hi: (self.hi << 1) | (self.lo >> 127),
            lo: self.lo << 1,
        }
    }

    fn bit(self, i: u32) -> bool {
        if i >= 128 {
            (self.hi >> (i - 128)) & 1 == 1
        } else {
            (self.lo >> i) & 1 == 1
        }
    }

    fn set_bit(&mut self, i: u32) {
        if i >= 128 {
            self.hi |= 1 << (i - 128);
        } else {
            self.lo |= 1 << i;
        }
    }

    fn bits(self) -> u32 {
        if self.hi != 0 {
            256 - self.hi.leading_zeros()
        } else {
            128 - self.lo.leading_zeros()
        }
    }

    /// Quotient and remainder; `d` must not be zero.
    pub(super) fn div_rem(self, d: U256) -> (U256, U256) {
        debug_assert!(d != U256::ZERO);
        if let (Some(n), Some(d)) = (self.to_u128(), d.to_u128()) {
            return (U256::from_u128(n / d), U256::from_u128(n % d));
        }
        let mut q = U256::ZERO;
        let mut r = U256::ZERO;
        for i in (0..self.bits()).rev() {
            r = r.shl1();
            if self.bit(i) {
                r.lo |= 1;
            }
            if r >= d {
                r = r.wrapping_sub(d);
                q.set_bit(i);
            }
        }
        (q, r)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn multiply_and_divide_round_trip() {
        let a = u128::MAX - 12345;
        let b = 10u128.pow(38) + 7;
        let p = U256::mul_u128(a, b);
        let (q, r) = p.div_rem(U256::from_u128(b));
        assert_eq!(q.to_u128(), Some(a));
        assert_eq!(r, U256::ZERO);
        let (q, r) = p
            .checked_add(U256::from_u128(5))
            .unwrap()
            .div_rem(U256::from_u128(a));
        assert_eq!(q.to_u128(), Some(b));
        assert_eq!(r.to_u128(), Some(5));
    }

    #[test]
    fn small_values_use_native_division() {
        let (q, r) = U256::from_u128(100).div_rem(U256::from_u128(7));
        assert_eq!((q.to_u128(), r.to_u128()), (Some(14), Some(2)));
        assert_eq!(
            U256::from_u128(3).checked_mul_u128(u128::MAX).unwrap(),
            U256::mul_u128(3, u128::MAX)
        );
        assert!(
            U256::mul_u128(u128::MAX, u128::MAX)
                .checked_mul_u128(2)
                .is_none()
        );
    }
}
