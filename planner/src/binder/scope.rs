//! The columns a query block can name, and where each sits in the input row.

use crate::error::PlanError;
use omendb_storage::types::DataType;

/// One visible column.
#[derive(Debug, Clone)]
pub(crate) struct ScopeColumn {
    /// The table name or alias that qualifies it (`None` for derived columns).
    pub qualifier: Option<String>,
    pub name: String,
    pub ty: DataType,
    /// Source table OID and attribute number, for RowDescription.
    pub table_oid: u32,
    pub column_id: i16,
}

/// The columns of a FROM clause, in input-row order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    /// Resolve `name` or `qualifier.name` to a position.
    pub fn resolve(&self, qualifier: Option<&str>, name: &str) -> Result<usize, PlanError> {
        let mut found = None;
        for (i, c) in self.columns.iter().enumerate() {
            if c.name != name {
                continue;
            }
            if let Some(q) = qualifier
                && c.qualifier.as_deref() != Some(q)
            {
                continue;
            }
            if found.is_some() {
                return Err(PlanError::AmbiguousColumn(name.to_string()));
            }
            found = Some(i);
        }
        found.ok_or_else(|| match qualifier {
            Some(q)
                if !self
                    .columns
                    .iter()
                    .any(|c| c.qualifier.as_deref() == Some(q)) =>
            {
                PlanError::MissingFrom(q.to_string())
            }
            Some(q) => PlanError::UndefinedColumn(format!("{q}.{name}")),
            None => PlanError::UndefinedColumn(name.to_string()),
        })
    }

    /// Positions of every column of `qualifier` (or of all columns), for `*` and `t.*`.
    pub fn expand(&self, qualifier: Option<&str>) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| qualifier.is_none() || self.columns[i].qualifier.as_deref() == qualifier)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn concat(mut self, other: Scope) -> Scope {
        self.columns.extend(other.columns);
        self
    }
}
