//! Text kernels: `CAST(char(n) AS text)` (trailing blanks dropped) and `substring(s, from [,
//! for])` with constant bounds, over a whole text vector instead of row by row through the row
//! evaluator (TPC-H Q22's `substring(c_phone, 1, 2)`).
//!
//! Must give exactly the row evaluator's values: PostgreSQL's 1-based, clamped, character
//! (not byte) positions, NULL in gives NULL out, a negative length is 22011.

use super::Operand;
use crate::EngineError;
use crate::exec::vector::data::Vector;
use arrow_array::{Array, StringArray, builder::StringBuilder};
use omendb_storage::types::Value;

/// `CAST(x AS text)` of a `char(n)` vector: each value without its trailing blanks.
pub fn char_to_text(o: &Operand) -> Option<Vector> {
    let Operand::Vector(Vector::Text(a)) = o else {
        return None;
    };
    Some(Vector::Text(map_text(a, |s| s.trim_end_matches(' '))))
}

/// `substring(s, from [, for])` with integer constants `from` and `for`; `None` for anything
/// else (the row evaluator then handles it).
pub fn substring(ops: &[Operand]) -> Result<Option<Vector>, EngineError> {
    let (Some(Operand::Vector(Vector::Text(a))), Some(Operand::Scalar(from))) =
        (ops.first(), ops.get(1))
    else {
        return Ok(None);
    };
    let Some(start) = int(from) else {
        return Ok(None);
    };
    let count = match ops.get(2) {
        None => None,
        Some(Operand::Scalar(c)) => match int(c) {
            Some(c) => Some(c),
            None => return Ok(None),
        },
        Some(Operand::Vector(_)) => return Ok(None),
    };
    if ops.len() > 3 {
        return Ok(None);
    }
    if count.is_some_and(|c| c < 0) {
        if a.len() == a.null_count() {
            // No row evaluates the call: nothing to refuse.
            return Ok(Some(Vector::Text(a.clone())));
        }
        return Err(EngineError::sql(
            "22011",
            "negative substring length not allowed",
        ));
    }
    // Character positions [from, to) of each value, 0-based, as the row evaluator clamps them.
    let end = count.map_or(i64::MAX, |c| start.saturating_add(c));
    let from = (start.max(1) - 1).max(0);
    let to = end.saturating_sub(1).max(0);
    Ok(Some(Vector::Text(map_text(a, |s| chars(s, from, to)))))
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int16(x) => Some(i64::from(*x)),
        Value::Int32(x) => Some(i64::from(*x)),
        Value::Int64(x) => Some(*x),
        _ => None,
    }
}

/// Characters `from..to` of `s` (clamped to its length).
fn chars(s: &str, from: i64, to: i64) -> &str {
    if from >= to {
        return "";
    }
    let (from, to) = (
        usize::try_from(from).unwrap_or(usize::MAX),
        usize::try_from(to).unwrap_or(usize::MAX),
    );
    if s.is_ascii() {
        let end = to.min(s.len());
        return s.get(from.min(end)..end).unwrap_or("");
    }
    let byte_at = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(b, _)| b);
    let (a, b) = (byte_at(from), byte_at(to));
    s.get(a..b.max(a)).unwrap_or("")
}

fn map_text<'a>(a: &'a StringArray, f: impl Fn(&'a str) -> &'a str) -> StringArray {
    let mut b = StringBuilder::with_capacity(a.len(), a.value_data().len());
    for i in 0..a.len() {
        if a.is_null(i) {
            b.append_null();
        } else {
            b.append_value(f(a.value(i)));
        }
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[Option<&str>], from: i64, count: Option<i64>) -> Vec<Option<String>> {
        let a = StringArray::from(values.to_vec());
        let mut ops = vec![
            Operand::Vector(Vector::Text(a)),
            Operand::Scalar(Value::Int64(from)),
        ];
        if let Some(c) = count {
            ops.push(Operand::Scalar(Value::Int32(c as i32)));
        }
        let Some(Vector::Text(out)) = substring(&ops).unwrap() else {
            panic!("no kernel")
        };
        out.iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn agrees_with_the_row_evaluator() {
        let values = [
            Some("13-123-456"),
            Some(""),
            None,
            Some("héllo wörld"),
            Some("ab"),
        ];
        for from in [-3i64, 0, 1, 2, 5, 20] {
            for count in [None, Some(0), Some(1), Some(2), Some(7), Some(100)] {
                let got = run(&values, from, count);
                for (v, g) in values.iter().zip(&got) {
                    let want =
                        v.map(
                            |s| match crate::exec::eval::substring_for_tests(s, from, count) {
                                Value::Text(t) => t,
                                other => panic!("{other:?}"),
                            },
                        );
                    assert_eq!(g, &want, "{v:?} from {from} for {count:?}");
                }
            }
        }
    }

    #[test]
    fn a_negative_length_is_refused() {
        let a = StringArray::from(vec![Some("abc")]);
        let ops = [
            Operand::Vector(Vector::Text(a)),
            Operand::Scalar(Value::Int32(1)),
            Operand::Scalar(Value::Int32(-1)),
        ];
        assert!(substring(&ops).is_err());
    }

    #[test]
    fn char_to_text_drops_trailing_blanks_only() {
        let a = StringArray::from(vec![Some(" a b  "), None, Some("   "), Some("x")]);
        let Some(Vector::Text(out)) = char_to_text(&Operand::Vector(Vector::Text(a))) else {
            panic!("no kernel")
        };
        let got: Vec<Option<&str>> = out.iter().collect();
        assert_eq!(got, [Some(" a b"), None, Some(""), Some("x")]);
    }
}
