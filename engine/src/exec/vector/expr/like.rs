//! LIKE against a constant pattern: exact, prefix, suffix, contains and `%`-separated pieces
//! without the general matcher; patterns with `_` or escapes use the row executor's `like`.

use super::side::is_null_scalar;
use super::{Operand, all_null};
use crate::EngineError;
use crate::exec::ops::like;
use crate::exec::vector::data::{Kind, Vector};
use arrow_array::{Array, BooleanArray, StringArray};
use arrow_buffer::BooleanBuffer;
use memchr::memmem;
use omendb_storage::types::Value;

/// How a pattern of literal pieces separated by `%` matches.
#[derive(Debug)]
pub struct Pieces<'a> {
    /// The text must start with the first piece (the pattern does not start with `%`).
    anchored_start: bool,
    /// The text must end with the last piece.
    anchored_end: bool,
    pieces: Vec<&'a str>,
    /// A searcher per piece, built once per pattern (SIMD substring search; `str::find`
    /// rebuilt its searcher for every row).
    finders: Vec<memmem::Finder<'a>>,
}

impl<'a> Pieces<'a> {
    /// `None` when the pattern needs the general matcher (`_`, escapes).
    pub fn parse(pattern: &'a str) -> Option<Pieces<'a>> {
        if pattern.contains(['_', '\\']) {
            return None;
        }
        let pieces: Vec<&str> = pattern.split('%').filter(|p| !p.is_empty()).collect();
        Some(Pieces {
            anchored_start: !pattern.starts_with('%'),
            anchored_end: !pattern.ends_with('%'),
            finders: pieces.iter().map(|&p| memmem::Finder::new(p)).collect(),
            pieces,
        })
    }

    pub fn matches(&self, text: &str) -> bool {
        let (mut rest, mut pieces, mut finders) = (text, &self.pieces[..], &self.finders[..]);
        if self.pieces.is_empty() {
            // Only `%`s (any text), or the empty pattern (only the empty text).
            return !(self.anchored_start && self.anchored_end) || text.is_empty();
        }
        if self.anchored_start {
            let Some(r) = rest.strip_prefix(pieces[0]) else {
                return false;
            };
            rest = r;
            pieces = &pieces[1..];
            finders = &finders[1..];
            if pieces.is_empty() {
                return !self.anchored_end || rest.is_empty();
            }
        }
        let last = if self.anchored_end {
            let (l, init) = match pieces.split_last() {
                Some(x) => x,
                None => return true,
            };
            finders = &finders[..init.len()];
            Some(*l)
        } else {
            None
        };
        for f in finders {
            match f.find(rest.as_bytes()) {
                // The piece is whole UTF-8, so the bytes after it start a character.
                Some(at) => rest = rest.get(at + f.needle().len()..).unwrap_or(""),
                None => return false,
            }
        }
        match last {
            Some(l) => rest.ends_with(l),
            None => true,
        }
    }
}

/// `text [NOT] LIKE pattern`, or `None` when the pattern is not a constant.
pub fn kernel(
    text: &Operand,
    pattern: &Operand,
    negated: bool,
    len: usize,
) -> Result<Option<Vector>, EngineError> {
    if is_null_scalar(text) || is_null_scalar(pattern) {
        return all_null(Kind::Bool, len).map(Some);
    }
    let (Operand::Vector(Vector::Text(a)), Operand::Scalar(Value::Text(p))) = (text, pattern)
    else {
        return Ok(None);
    };
    // The row executor rejects a pattern ending in a lone escape; so does this.
    like("", p, false)?;
    let bits = match Pieces::parse(p) {
        Some(pieces) => matching(a, len, |s| pieces.matches(s) != negated),
        None => {
            let mut err = None;
            let b = matching(a, len, |s| match like(s, p, false) {
                Ok(m) => m != negated,
                Err(e) => {
                    err = Some(e);
                    false
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            b
        }
    };
    Ok(Some(Vector::Bool(BooleanArray::new(
        bits,
        a.nulls().filter(|n| n.null_count() > 0).cloned(),
    ))))
}

fn matching(a: &StringArray, len: usize, mut f: impl FnMut(&str) -> bool) -> BooleanBuffer {
    BooleanBuffer::collect_bool(len, |i| !a.is_null(i) && f(a.value(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_agree_with_the_general_matcher() {
        let patterns = [
            "",
            "%",
            "%%",
            "a",
            "abc",
            "a%",
            "%a",
            "%a%",
            "a%b",
            "a%a",
            "%ab%ba%",
            "ab%%cd",
            "%b%",
            "PROMO%",
            "%green%",
            "%Customer%Complaints%",
        ];
        let texts = [
            "",
            "a",
            "aa",
            "ab",
            "aba",
            "abba",
            "ababa",
            "abcd",
            "cab",
            "PROMO BRUSHED",
            "dark green",
            "Customer x Complaints",
            "ComplaintsCustomer",
            "héllo",
        ];
        for p in patterns {
            let pieces = Pieces::parse(p).unwrap();
            for t in texts {
                assert_eq!(
                    pieces.matches(t),
                    like(t, p, false).unwrap(),
                    "{t:?} LIKE {p:?}"
                );
            }
        }
    }
}
