//! `extract(field FROM date)` over a vector: the field is parsed once per batch and each date's
//! calendar field computed directly (Q7, Q8 and Q9 take the year of every joined order).
//!
//! Must give the row evaluator's values and errors: a field that does not apply to dates is
//! left to the row evaluator (which raises the error only for a non-NULL row).

use super::Operand;
use crate::EngineError;
use crate::exec::vector::data::{NumericVector, Vector};
use arrow_array::Array;
use omendb_storage::types::Value;
use omendb_storage::types::datetime::DateExtract;

/// `None` when the operands are not a constant field and a date vector.
pub fn date(ops: &[Operand]) -> Result<Option<Vector>, EngineError> {
    let [
        Operand::Scalar(Value::Text(field)),
        Operand::Vector(Vector::Date(dates)),
    ] = ops
    else {
        return Ok(None);
    };
    let Ok(extract) = DateExtract::new(field) else {
        return Ok(None);
    };
    let nulls = dates.nulls().cloned();
    let mut mantissas = Vec::with_capacity(dates.len());
    let mut scales = Vec::with_capacity(dates.len());
    for (i, &d) in dates.values().iter().enumerate() {
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            mantissas.push(0);
            scales.push(0);
            continue;
        }
        let n = extract.of(d)?;
        mantissas.push(n.mantissa());
        scales.push(n.scale());
    }
    Ok(Some(Vector::Numeric(NumericVector::from_parts(
        mantissas, nulls, scales,
    )?)))
}
