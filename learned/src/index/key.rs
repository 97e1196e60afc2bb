//! Keys the learned indexes understand: integers mapped order-preservingly onto `u64`, and byte
//! strings reduced to an order-preserving 8-byte prefix plus a tie-break on the full key.

/// A fixed-width key that maps onto `u64` preserving order, so one index core serves all of them.
pub trait IndexKey: Copy + Ord + std::fmt::Debug {
    /// The order-preserving image of the key: `a < b` iff `a.to_u64() < b.to_u64()`.
    fn to_u64(self) -> u64;
    /// The inverse of [`IndexKey::to_u64`].
    fn from_u64(raw: u64) -> Self;
}

impl IndexKey for u64 {
    #[inline(always)]
    fn to_u64(self) -> u64 {
        self
    }
    #[inline(always)]
    fn from_u64(raw: u64) -> Self {
        raw
    }
}

/// Flipping the sign bit maps i64 order onto u64 order (two's complement).
const SIGN_BIT: u64 = 1 << 63;

impl IndexKey for i64 {
    #[inline(always)]
    fn to_u64(self) -> u64 {
        (self as u64) ^ SIGN_BIT
    }
    #[inline(always)]
    fn from_u64(raw: u64) -> Self {
        (raw ^ SIGN_BIT) as i64
    }
}

/// The first eight bytes of `key`, big-endian, zero-padded.
///
/// Order-preserving but not injective: `a < b` (bytewise) implies `prefix(a) <= prefix(b)`, and
/// keys that share their first eight bytes (or differ only by trailing zero bytes within them)
/// share a prefix, which is why byte-key indexes break ties on the full key.
#[inline]
pub fn prefix_u64(key: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = key.len().min(8);
    buf[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i64_order_is_preserved() {
        let mut xs = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        xs.sort();
        let mapped: Vec<u64> = xs.iter().map(|x| x.to_u64()).collect();
        assert!(mapped.windows(2).all(|w| w[0] < w[1]));
        assert!(xs.iter().all(|&x| i64::from_u64(x.to_u64()) == x));
    }

    #[test]
    fn prefix_is_monotone() {
        let mut keys: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"ab",
            b"abcdefgh",
            b"abcdefgh\x01",
            b"abcdefgi",
            b"\xff",
        ];
        keys.sort();
        let p: Vec<u64> = keys.iter().map(|k| prefix_u64(k)).collect();
        assert!(p.windows(2).all(|w| w[0] <= w[1]));
    }
}
