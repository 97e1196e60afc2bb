//! Casts between types with PostgreSQL's rules.
#![allow(unused_variables)]

use super::datetime::TimeZone;
use super::{DataType, TypeError, Value};

impl Value {
    /// Explicit cast (`CAST(x AS t)`, `x::t`): floats to integers round half to even, numerics
    /// to integers round half away from zero, out-of-range is 22003, text parses with 22P02,
    /// `varchar(n)`/`char(n)` truncate silently, numeric(p,s) rounds and checks precision.
    /// NULL casts to NULL. A cast PostgreSQL refuses is 42846.
    pub fn cast(self, to: DataType, tz: &TimeZone) -> Result<Value, TypeError> {
        todo!()
    }

    /// Assignment cast (INSERT/UPDATE into a column of type `to`): like `cast`, but a string
    /// longer than `varchar(n)`/`char(n)` is 22001 unless the excess is only spaces, and
    /// `char(n)` pads with spaces.
    pub fn assign(self, to: DataType, tz: &TimeZone) -> Result<Value, TypeError> {
        todo!()
    }
}
