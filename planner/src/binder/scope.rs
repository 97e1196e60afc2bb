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
    /// Internal columns (decorrelated subquery results) that `*` does not expand to.
    pub hidden: bool,
    /// Reachable only by a qualified name (`a.k`): a USING column's per-side copy.
    pub qualified_only: bool,
}

/// The columns of a FROM clause, in input-row order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub columns: Vec<ScopeColumn>,
    /// Columns from this position on shadow the earlier ones: a correlated subquery's own
    /// columns come after the outer query's and win name lookups.
    pub inner_from: usize,
}

impl Scope {
    /// Resolve `name` or `qualifier.name` to a position.
    pub fn resolve(&self, qualifier: Option<&str>, name: &str) -> Result<usize, PlanError> {
        if self.inner_from > 0 {
            if let Some(i) = self.find(self.inner_from..self.columns.len(), qualifier, name)? {
                return Ok(i);
            }
            if let Some(i) = self.find(0..self.inner_from, qualifier, name)? {
                return Ok(i);
            }
        } else if let Some(i) = self.find(0..self.columns.len(), qualifier, name)? {
            return Ok(i);
        }
        Err(match qualifier {
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

    fn find(
        &self,
        range: std::ops::Range<usize>,
        qualifier: Option<&str>,
        name: &str,
    ) -> Result<Option<usize>, PlanError> {
        let mut found = None;
        for i in range {
            let c = &self.columns[i];
            if c.name != name
                || qualifier.is_some_and(|q| c.qualifier.as_deref() != Some(q))
                || (qualifier.is_none() && c.qualified_only)
            {
                continue;
            }
            if found.is_some() {
                return Err(PlanError::AmbiguousColumn(name.to_string()));
            }
            found = Some(i);
        }
        Ok(found)
    }

    /// Positions of every column of `qualifier` (or of all columns), for `*` and `t.*`.
    pub fn expand(&self, qualifier: Option<&str>) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| !self.columns[i].hidden)
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

    /// The outer query's columns followed by a subquery's, the subquery's shadowing.
    pub fn correlated(outer: &Scope, inner: &Scope) -> Scope {
        let mut columns = outer.columns.clone();
        columns.extend(inner.columns.iter().cloned());
        Scope {
            columns,
            inner_from: outer.columns.len(),
        }
    }
}
