//! The statements one session has prepared, by their text, so a client that sends the same
//! Parse before every execution (`pgbench -M extended`, drivers' unnamed statements) parses
//! and binds it once instead of every time.
//!
//! An entry is only as good as the catalog it was bound against: the cache remembers the
//! catalog version it was filled at and forgets everything when the version moves. The
//! version is read *before* binding, so a DDL racing with a bind can only leave an entry
//! marked older than it is (dropped at the next look-up), never the reverse. It must never
//! hand out a statement bound against another catalog version, nor grow without bound.

use crate::session::Prepared;
use omendb_storage::types::DataType;
use std::collections::HashMap;
use std::rc::Rc;

/// Distinct statement texts kept per session; past it the cache starts over (clients that
/// generate unbounded distinct texts gain nothing from it anyway).
const MAX_ENTRIES: usize = 256;

/// Prepared statements by text, valid for one catalog version.
#[derive(Default)]
pub(crate) struct StatementCache {
    version: u64,
    entries: HashMap<String, Entry>,
}

struct Entry {
    /// The parameter types the client declared in its Parse (`None`: inferred).
    declared: Vec<Option<DataType>>,
    prepared: Rc<Prepared>,
}

impl StatementCache {
    /// The statement prepared from `sql` with these declared types at catalog `version`.
    pub fn get(
        &mut self,
        sql: &str,
        declared: &[Option<DataType>],
        version: u64,
    ) -> Option<Rc<Prepared>> {
        if self.version != version {
            self.entries.clear();
            self.version = version;
            return None;
        }
        self.entries
            .get(sql)
            .filter(|e| e.declared == declared)
            .map(|e| e.prepared.clone())
    }

    /// Remember `prepared`, bound at catalog `version` (read before binding).
    pub fn insert(
        &mut self,
        sql: &str,
        declared: &[Option<DataType>],
        version: u64,
        prepared: &Rc<Prepared>,
    ) {
        if self.version != version {
            self.entries.clear();
            self.version = version;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        let entry = Entry {
            declared: declared.to_vec(),
            prepared: prepared.clone(),
        };
        self.entries.insert(sql.to_string(), entry);
    }
}
