//! Moving rows between vectors: gather by a selection vector, concatenate, and pick per row
//! between two vectors (CASE).
//!
//! Tight loops over slices; indices come from the executor itself, so an index out of range is
//! a bug (the slice index panics in tests, never on user input).

use super::data::{Batch, NumericVector, Scale, Vector};
use crate::EngineError;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{
    Array, ArrowPrimitiveType, BooleanArray, PrimitiveArray, StringArray, builder::StringBuilder,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};

/// Rows `idx` of `v`, in that order.
pub fn take(v: &Vector, idx: &[u32]) -> Result<Vector, EngineError> {
    fn prim<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>, idx: &[u32]) -> PrimitiveArray<T> {
        let values = a.values();
        let out: Vec<T::Native> = idx.iter().map(|&i| values[i as usize]).collect();
        PrimitiveArray::new(ScalarBuffer::from(out), take_nulls(a.nulls(), idx))
    }
    Ok(match v {
        Vector::Bool(a) => {
            let vals = a.values();
            Vector::Bool(BooleanArray::new(
                BooleanBuffer::collect_bool(idx.len(), |k| vals.value(idx[k] as usize)),
                take_nulls(a.nulls(), idx),
            ))
        }
        Vector::Int16(a) => Vector::Int16(prim(a, idx)),
        Vector::Int32(a) => Vector::Int32(prim(a, idx)),
        Vector::Int64(a) => Vector::Int64(prim(a, idx)),
        Vector::Float32(a) => Vector::Float32(prim(a, idx)),
        Vector::Float64(a) => Vector::Float64(prim(a, idx)),
        Vector::Date(a) => Vector::Date(prim(a, idx)),
        Vector::Timestamp(a) => Vector::Timestamp(prim(a, idx)),
        Vector::TimestampTz(a) => Vector::TimestampTz(prim(a, idx)),
        Vector::Numeric(n) => {
            let m = n.mantissas();
            let vals: Vec<i128> = idx.iter().map(|&i| m[i as usize]).collect();
            let scale = match &n.scale {
                Scale::Uniform(s) => Scale::Uniform(*s),
                Scale::PerRow(s) => Scale::PerRow(idx.iter().map(|&i| s[i as usize]).collect()),
            };
            Vector::Numeric(NumericVector::new(
                vals,
                take_nulls(n.array.nulls(), idx),
                scale,
            )?)
        }
        Vector::Text(a) => Vector::Text(take_text(a, idx)?),
        Vector::Absent(_) => Vector::Absent(idx.len()),
    })
}

fn take_nulls(n: Option<&NullBuffer>, idx: &[u32]) -> Option<NullBuffer> {
    let n = n.filter(|n| n.null_count() > 0)?;
    let out = NullBuffer::new(BooleanBuffer::collect_bool(idx.len(), |k| {
        n.is_valid(idx[k] as usize)
    }));
    (out.null_count() > 0).then_some(out)
}

fn take_text(a: &StringArray, idx: &[u32]) -> Result<StringArray, EngineError> {
    let offsets = a.value_offsets();
    let values = a.value_data();
    let bytes: usize = idx
        .iter()
        .map(|&i| (offsets[i as usize + 1] - offsets[i as usize]) as usize)
        .sum();
    if bytes > i32::MAX as usize {
        return Err(EngineError::sql("54000", "string column exceeds 2 GiB"));
    }
    // Offsets and bytes copied directly, not value by value through a builder: a join's
    // output gathers a text column per probe row (TPC-H Q5's n_name, Q10's customer columns).
    // A NULL's bytes (none, in the arrays this executor builds) are copied as they are.
    let mut data: Vec<u8> = Vec::with_capacity(bytes);
    let mut out: Vec<i32> = Vec::with_capacity(idx.len() + 1);
    out.push(0);
    for &i in idx {
        let (start, end) = (
            offsets[i as usize] as usize,
            offsets[i as usize + 1] as usize,
        );
        data.extend_from_slice(&values[start..end]);
        out.push(data.len() as i32);
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(out));
    // SAFETY: every value is a whole value of `a`, a valid StringArray, so `data` is UTF-8
    // split at character boundaries, and the offsets start at 0, rise, and end at its length
    // (which fits i32, checked above). Validating it again was a third of the gather.
    Ok(unsafe {
        StringArray::new_unchecked(offsets, Buffer::from_vec(data), take_nulls(a.nulls(), idx))
    })
}

fn text_result(mut b: StringBuilder) -> Result<StringArray, EngineError> {
    if b.values_slice().len() > i32::MAX as usize {
        return Err(EngineError::sql("54000", "string column exceeds 2 GiB"));
    }
    Ok(b.finish())
}

/// Rows `idx` of every column.
pub fn take_batch(b: &Batch, idx: &[u32]) -> Result<Batch, EngineError> {
    let columns = b
        .columns
        .iter()
        .map(|c| take(c, idx))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch::new(columns, idx.len()))
}

/// One vector holding the rows of `parts` in order (all of one variant).
pub fn concat(parts: &[&Vector]) -> Result<Vector, EngineError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let Some(first) = parts.first() else {
        return Err(EngineError::Internal("concat of no vectors".into()));
    };
    fn prim<T: ArrowPrimitiveType>(
        parts: &[&Vector],
        get: impl Fn(&Vector) -> Option<&PrimitiveArray<T>>,
        len: usize,
    ) -> Result<PrimitiveArray<T>, EngineError> {
        let mut vals = Vec::with_capacity(len);
        for p in parts {
            let a =
                get(p).ok_or_else(|| EngineError::Internal("concat of mixed vectors".into()))?;
            vals.extend_from_slice(a.values());
        }
        Ok(PrimitiveArray::new(
            ScalarBuffer::from(vals),
            concat_nulls(parts, len),
        ))
    }
    macro_rules! arm {
        ($variant:ident, $ty:ty) => {
            Vector::$variant(prim::<$ty>(
                parts,
                |v| match v {
                    Vector::$variant(a) => Some(a),
                    _ => None,
                },
                len,
            )?)
        };
    }
    Ok(match first {
        Vector::Int16(_) => arm!(Int16, Int16Type),
        Vector::Int32(_) => arm!(Int32, Int32Type),
        Vector::Int64(_) => arm!(Int64, Int64Type),
        Vector::Float32(_) => arm!(Float32, Float32Type),
        Vector::Float64(_) => arm!(Float64, Float64Type),
        Vector::Date(_) => arm!(Date, Date32Type),
        Vector::Timestamp(_) => arm!(Timestamp, TimestampMicrosecondType),
        Vector::TimestampTz(_) => arm!(TimestampTz, TimestampMicrosecondType),
        Vector::Absent(_) => Vector::Absent(len),
        Vector::Bool(_) => {
            let mut vals = Vec::with_capacity(len);
            for p in parts {
                let Vector::Bool(a) = p else {
                    return Err(EngineError::Internal("concat of mixed vectors".into()));
                };
                vals.extend(a.values().iter());
            }
            Vector::Bool(BooleanArray::new(
                BooleanBuffer::from(vals.as_slice()),
                concat_nulls(parts, len),
            ))
        }
        Vector::Numeric(_) => {
            let mut vals = Vec::with_capacity(len);
            let mut scales = Vec::with_capacity(len);
            for p in parts {
                let Vector::Numeric(n) = p else {
                    return Err(EngineError::Internal("concat of mixed vectors".into()));
                };
                vals.extend_from_slice(n.mantissas());
                scales.extend((0..n.array.len()).map(|i| n.scale_at(i)));
            }
            Vector::Numeric(NumericVector::from_parts(
                vals,
                concat_nulls(parts, len),
                scales,
            )?)
        }
        Vector::Text(_) => {
            let mut b = StringBuilder::with_capacity(len, 0);
            for p in parts {
                let Vector::Text(a) = p else {
                    return Err(EngineError::Internal("concat of mixed vectors".into()));
                };
                b.append_array(a)
                    .map_err(|_| EngineError::sql("54000", "string column exceeds 2 GiB"))?;
            }
            Vector::Text(text_result(b)?)
        }
    })
}

fn concat_nulls(parts: &[&Vector], len: usize) -> Option<NullBuffer> {
    if parts.iter().all(|p| p.nulls().is_none()) {
        return None;
    }
    let mut valid = Vec::with_capacity(len);
    for p in parts {
        match p.nulls() {
            Some(n) => valid.extend(n.iter()),
            None => valid.extend(std::iter::repeat_n(true, p.len())),
        }
    }
    super::data::nulls_from_valid(&valid)
}

/// All batches as one (`widths` columns when there are none).
pub fn concat_batches(batches: &[Batch], width: usize) -> Result<Batch, EngineError> {
    let len = batches.iter().map(|b| b.len).sum();
    if batches.is_empty() {
        return Ok(Batch::new(
            (0..width).map(|_| Vector::Absent(0)).collect(),
            0,
        ));
    }
    if batches.len() == 1 {
        return Ok(batches[0].clone());
    }
    let columns = (0..width)
        .map(|c| {
            let parts: Vec<&Vector> = batches.iter().map(|b| &b.columns[c]).collect();
            concat(&parts)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch::new(columns, len))
}

/// Per row: `a[i]` where `pick[i]`, else `b[i]` (same variants).
pub fn choose(pick: &BooleanBuffer, a: &Vector, b: &Vector) -> Result<Vector, EngineError> {
    let len = pick.len();
    let nulls = |x: &Vector, y: &Vector| -> Option<NullBuffer> {
        if x.nulls().is_none() && y.nulls().is_none() {
            return None;
        }
        let out = NullBuffer::new(BooleanBuffer::collect_bool(len, |i| {
            if pick.value(i) {
                !x.is_null(i)
            } else {
                !y.is_null(i)
            }
        }));
        (out.null_count() > 0).then_some(out)
    };
    fn prim<T: ArrowPrimitiveType>(
        pick: &BooleanBuffer,
        x: &PrimitiveArray<T>,
        y: &PrimitiveArray<T>,
        nulls: Option<NullBuffer>,
    ) -> PrimitiveArray<T> {
        let (xv, yv) = (x.values(), y.values());
        let out: Vec<T::Native> = (0..pick.len())
            .map(|i| if pick.value(i) { xv[i] } else { yv[i] })
            .collect();
        PrimitiveArray::new(ScalarBuffer::from(out), nulls)
    }
    let n = nulls(a, b);
    Ok(match (a, b) {
        (Vector::Int16(x), Vector::Int16(y)) => Vector::Int16(prim(pick, x, y, n)),
        (Vector::Int32(x), Vector::Int32(y)) => Vector::Int32(prim(pick, x, y, n)),
        (Vector::Int64(x), Vector::Int64(y)) => Vector::Int64(prim(pick, x, y, n)),
        (Vector::Float32(x), Vector::Float32(y)) => Vector::Float32(prim(pick, x, y, n)),
        (Vector::Float64(x), Vector::Float64(y)) => Vector::Float64(prim(pick, x, y, n)),
        (Vector::Date(x), Vector::Date(y)) => Vector::Date(prim(pick, x, y, n)),
        (Vector::Timestamp(x), Vector::Timestamp(y)) => Vector::Timestamp(prim(pick, x, y, n)),
        (Vector::TimestampTz(x), Vector::TimestampTz(y)) => {
            Vector::TimestampTz(prim(pick, x, y, n))
        }
        (Vector::Bool(x), Vector::Bool(y)) => Vector::Bool(BooleanArray::new(
            BooleanBuffer::collect_bool(len, |i| {
                if pick.value(i) {
                    x.value(i)
                } else {
                    y.value(i)
                }
            }),
            n,
        )),
        (Vector::Numeric(x), Vector::Numeric(y)) => {
            let (xm, ym) = (x.mantissas(), y.mantissas());
            let vals = (0..len)
                .map(|i| if pick.value(i) { xm[i] } else { ym[i] })
                .collect();
            let scales = (0..len)
                .map(|i| {
                    if pick.value(i) {
                        x.scale_at(i)
                    } else {
                        y.scale_at(i)
                    }
                })
                .collect();
            Vector::Numeric(NumericVector::from_parts(vals, n, scales)?)
        }
        (Vector::Text(x), Vector::Text(y)) => {
            let mut out = StringBuilder::with_capacity(len, 0);
            for i in 0..len {
                let (src, null) = if pick.value(i) {
                    (x, a.is_null(i))
                } else {
                    (y, b.is_null(i))
                };
                if null {
                    out.append_null();
                } else {
                    out.append_value(src.value(i));
                }
            }
            Vector::Text(text_result(out)?)
        }
        _ => {
            return Err(EngineError::Internal(
                "CASE branches of different vector kinds".into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathered_text_keeps_values_nulls_and_order() {
        // A NULL slot with bytes under it (Arrow allows it), empty and multibyte values.
        // "abc", NULL over "nul", "", "xyéz", "q€".
        let offsets = OffsetBuffer::new(ScalarBuffer::from(vec![0i32, 3, 6, 6, 11, 15]));
        let data = Buffer::from_vec(b"abcnulxy\xc3\xa9zq\xe2\x82\xac".to_vec());
        let nulls = NullBuffer::from(vec![true, false, true, true, true]);
        let a = StringArray::try_new(offsets, data, Some(nulls)).unwrap();
        let idx = [4u32, 1, 0, 2, 3, 0, 1];
        let Vector::Text(t) = take(&Vector::Text(a.clone()), &idx).unwrap() else {
            panic!("not text");
        };
        assert_eq!(t.len(), idx.len());
        for (k, &i) in idx.iter().enumerate() {
            assert_eq!(t.is_null(k), a.is_null(i as usize), "row {k}");
            if !t.is_null(k) {
                assert_eq!(t.value(k), a.value(i as usize), "row {k}");
            }
        }
        assert_eq!(t.value(0), "q€");
        assert_eq!(t.value(3), "");
        let Vector::Text(none) = take(&Vector::Text(a), &[]).unwrap() else {
            panic!("not text");
        };
        assert_eq!(none.len(), 0);
    }
}
