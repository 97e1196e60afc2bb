//! PostgreSQL text input and output of every type (what the wire's text format and casts from
//! and to text use).
#![allow(unused_variables)]

use super::datetime::TimeZone;
use super::{DataType, TypeError, Value};

impl Value {
    /// Parse PostgreSQL text input as `ty` (`'t'`/`'yes'`/`'1'` for bool, `'\x0a'` hex bytea, …).
    /// Strings of `Char(n)`/`Varchar(n)` are not length-checked here (see `Value::assign`).
    pub fn from_text(s: &str, ty: DataType, tz: &TimeZone) -> Result<Value, TypeError> {
        todo!()
    }

    /// Append PostgreSQL's text output (`t`/`f`, shortest round-trip floats with `Infinity`/`NaN`
    /// and `1e+20` exponents, numeric with its scale, ISO dates, `\x…` bytea). NULL writes nothing.
    pub fn write_text(&self, out: &mut String, tz: &TimeZone) {
        todo!()
    }
}
