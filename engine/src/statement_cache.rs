//! The statements one session has prepared, by their text, so a client that sends the same
//! Parse before every execution (`pgbench -M extended`, drivers' unnamed statements) parses
//! and binds it once instead of every time.
//!
//! An entry is only as good as the catalog it was bound against: the cache remembers the
//! catalog version it was filled at and forgets everything when the version moves. The
//! version is read *before* binding, so a DDL racing with a bind can only leave an entry
//! marked older than it is (dropped at the next look-up), never the reverse. It must never
//! hand out a statement bound against another catalog version, nor grow without bound.
//!
//! Simple queries carry their values in the text (`… WHERE aid = 4711`), so they are cached by
//! a *template*: [`literal_template`] replaces each integer literal by a parameter, and the
//! template's statement is used only if every parameter binds as `int4` — the type the literal
//! itself has — so the statement is the one the literal text would bind to. Texts where an
//! integer is not a plain value (ORDER BY/GROUP BY positions, LIMIT, window frames) or where
//! quoting is not simple (`$`, backslashes, comments) are not templated at all.

use crate::session::Prepared;
use omendb_storage::types::{DataType, Value};
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
    /// Simple-query templates: `None` for one that does not bind to the literals' statement.
    templates: HashMap<String, Option<Rc<Prepared>>>,
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
        self.check_version(version);
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
        self.check_version(version);
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        let entry = Entry {
            declared: declared.to_vec(),
            prepared: prepared.clone(),
        };
        self.entries.insert(sql.to_string(), entry);
    }

    /// A simple-query template seen at catalog `version`: `Some(None)` if it is known not to
    /// be usable, `None` if it is not known.
    pub fn template(&mut self, template: &str, version: u64) -> Option<Option<Rc<Prepared>>> {
        self.check_version(version);
        self.templates.get(template).cloned()
    }

    /// Remember what a template bound to (`None`: unusable), at catalog `version`.
    pub fn insert_template(
        &mut self,
        template: String,
        version: u64,
        prepared: Option<Rc<Prepared>>,
    ) {
        self.check_version(version);
        if self.templates.len() >= MAX_ENTRIES {
            self.templates.clear();
        }
        self.templates.insert(template, prepared);
    }

    /// Forget everything bound against an older catalog.
    fn check_version(&mut self, version: u64) {
        if self.version != version {
            self.entries.clear();
            self.templates.clear();
            self.version = version;
        }
    }
}

/// Statements whose integer literals may become parameters (their first word).
const TEMPLATED: &[&str] = &["select", "insert", "update", "delete"];

/// Words (anywhere, any case) where an integer can mean something other than its value, or
/// where a parameter would bind to another type than the literal: no template then.
const NOT_TEMPLATED: &[&str] = &[
    "order",
    "group",
    "limit",
    "offset",
    "fetch",
    "preceding",
    "following",
];

/// Bytes that end template scanning: dollar quotes and parameters, escapes, comments, array
/// subscripts.
const UNTEMPLATED_BYTES: &[u8] = b"$\\[";

/// The text with every integer literal that fits `int4` replaced by `$1`, `$2`, …, and those
/// values; `None` when the text is not a single SELECT/INSERT/UPDATE/DELETE that can be
/// templated safely (see the module doc). Only the literals' text is looked at: whether the
/// template binds like the original is checked by the caller from the parameters' types.
pub(crate) fn literal_template(sql: &str) -> Option<(String, Vec<Value>)> {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()?;
    if !TEMPLATED.iter().any(|w| first.eq_ignore_ascii_case(w)) {
        return None;
    }
    let bytes = sql.as_bytes();
    if bytes.iter().any(|b| UNTEMPLATED_BYTES.contains(b))
        || bytes.windows(2).any(|w| w == b"--" || w == b"/*")
        || NOT_TEMPLATED.iter().any(|word| {
            bytes
                .windows(word.len())
                .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
        })
    {
        return None;
    }
    let mut template = String::with_capacity(sql.len() + 8);
    let mut values = Vec::new();
    let mut quote: Option<u8> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            // A doubled quote inside a quoted run closes and reopens it: same outcome.
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            // One statement only: nothing but blanks may follow its semicolon.
            None if b == b';' && !sql[i + 1..].trim().is_empty() => return None,
            None if b.is_ascii_digit() && (i == 0 || !is_word_byte(bytes[i - 1])) => {
                let end = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                let start = if negative_sign(bytes, i) { i - 1 } else { i };
                let value = sql[start..end].parse::<i32>().ok();
                if let Some(v) = value.filter(|_| bytes.get(end).is_none_or(|&b| !is_word_byte(b)))
                {
                    values.push(Value::Int32(v));
                    template.push_str(&sql[copied..start]);
                    template.push('$');
                    template.push_str(&values.len().to_string());
                    copied = end;
                }
                i = end;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    if quote.is_some() {
        return None;
    }
    template.push_str(&sql[copied..]);
    Some((template, values))
}

/// Whether the digits at `at` follow a `-` that is a sign, not a subtraction: the `-` comes
/// right after an operator, `(` or `,` (the binder reads `-5` as the literal -5, but `-$1` as
/// a numeric negation, so the sign must go into the value).
fn negative_sign(bytes: &[u8], at: usize) -> bool {
    if at == 0 || bytes[at - 1] != b'-' {
        return false;
    }
    let before = bytes[..at - 1]
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace());
    before.is_some_and(|b| b"+*/=<>(,".contains(b))
}

/// Part of an identifier or a number next to digits (so the digits are not a literal alone).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(sql: &str) -> Option<(String, Vec<i32>)> {
        literal_template(sql).map(|(t, v)| {
            let ints = v
                .into_iter()
                .map(|v| match v {
                    Value::Int32(i) => i,
                    other => panic!("{other:?}"),
                })
                .collect();
            (t, ints)
        })
    }

    #[test]
    fn integer_literals_become_parameters() {
        assert_eq!(
            shape("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;"),
            Some((
                "SELECT abalance FROM pgbench_accounts WHERE aid = $1;".into(),
                vec![4711]
            ))
        );
        assert_eq!(
            shape("UPDATE t SET b = b + -12 WHERE a=3 AND c IN (1,-2) AND d = c-4 AND e = - 5"),
            Some((
                "UPDATE t SET b = b + $1 WHERE a=$2 AND c IN ($3,$4) AND d = c-$5 AND e = - $6"
                    .into(),
                vec![-12, 3, 1, -2, 4, 5]
            ))
        );
        assert_eq!(
            shape("select count(*) from pgbench_branches"),
            Some(("select count(*) from pgbench_branches".into(), vec![]))
        );
    }

    #[test]
    fn digits_that_are_not_integer_literals_stay() {
        assert_eq!(
            shape("SELECT t1.a, 1.5, 2e3, x2, 'a 7', \"c 8\" FROM t1 WHERE a = 3000000000"),
            Some((
                "SELECT t1.a, 1.5, 2e3, x2, 'a 7', \"c 8\" FROM t1 WHERE a = 3000000000".into(),
                vec![]
            ))
        );
        assert_eq!(
            shape("SELECT 'it''s 5', 6"),
            Some(("SELECT 'it''s 5', $1".into(), vec![6]))
        );
        assert_eq!(
            shape("SELECT 'é9', é9 FROM t WHERE a = 9"),
            Some(("SELECT 'é9', é9 FROM t WHERE a = $1".into(), vec![9]))
        );
    }

    #[test]
    fn risky_texts_are_not_templated() {
        for sql in [
            "SELECT a FROM t ORDER BY 1",
            "SELECT a, count(*) FROM t GROUP BY 1",
            "SELECT a FROM t LIMIT 5",
            "SELECT a FROM t OFFSET 5",
            "SELECT a FROM t WHERE a = $1",
            "SELECT $$5$$",
            "SELECT E'\\' || 5",
            "SELECT 5 -- five",
            "SELECT /* 5 */ 5",
            "SELECT a[1] FROM t",
            "SELECT 1; SELECT 2",
            "SELECT 'unterminated 5",
            "SET statement_timeout = 5",
            "CREATE TABLE t (a char(5))",
            "EXPLAIN SELECT 5",
            "",
        ] {
            assert_eq!(shape(sql), None, "{sql}");
        }
    }
}
