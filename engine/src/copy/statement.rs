//! Recognising `COPY table [(columns)] FROM STDIN [options]` and its options, in both the
//! modern form (`WITH (FORMAT csv, HEADER true, FREEZE ON)`) and the pre-9.0 one psql and old
//! scripts send (`WITH CSV HEADER DELIMITER ','`). sqlparser does not accept all of these, so
//! the statement is read here with a small tokenizer.

use crate::EngineError;

/// The data format of a COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
}

/// A parsed `COPY … FROM STDIN`.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyStatement {
    pub table: String,
    pub columns: Option<Vec<String>>,
    pub format: CopyFormat,
    pub delimiter: u8,
    pub null: String,
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
}

fn unsupported(what: &str) -> EngineError {
    EngineError::sql("0A000", format!("{what} is not supported"))
}

fn syntax(what: impl Into<String>) -> EngineError {
    EngineError::sql("42601", what.into())
}

/// Split into words, quoted strings ('…' with '' escapes, kept with a leading quote), double-
/// quoted identifiers (kept with a leading `"`), and single punctuation characters.
fn tokens(sql: &str) -> Result<Vec<String>, EngineError> {
    let mut out = Vec::new();
    let mut chars = sql.trim().trim_end_matches(';').chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut s = String::from(c);
            loop {
                match chars.next() {
                    Some(q) if q == c => {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            s.push(c);
                        } else {
                            break;
                        }
                    }
                    Some(other) => s.push(other),
                    None => return Err(syntax("unterminated quoted string in COPY")),
                }
            }
            out.push(s);
        } else if "(),=".contains(c) {
            chars.next();
            out.push(c.to_string());
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || "(),='\"".contains(c) {
                    break;
                }
                s.push(c);
                chars.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

/// An identifier token: quoted keeps its case, bare is folded to lower case.
fn ident(t: &str) -> String {
    match t.strip_prefix('"') {
        Some(quoted) => quoted.to_string(),
        None => t.to_ascii_lowercase(),
    }
}

fn string_value(t: Option<&String>, option: &str) -> Result<String, EngineError> {
    match t {
        Some(s) if s.starts_with('\'') => Ok(s[1..].to_string()),
        Some(s) => Ok(s.clone()),
        None => Err(syntax(format!("COPY option {option} needs a value"))),
    }
}

fn single_byte(s: &str, option: &str) -> Result<u8, EngineError> {
    match s.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(EngineError::sql(
            "22023",
            format!("COPY {option} must be a single one-byte character"),
        )),
    }
}

fn boolean(t: Option<&String>) -> bool {
    !matches!(
        t.map(|s| s.trim_start_matches('\'').to_ascii_lowercase())
            .as_deref(),
        Some("false" | "off" | "0")
    )
}

/// `sql` after leading whitespace and `--` / `/* */` comments.
fn skip_comments(mut sql: &str) -> &str {
    loop {
        sql = sql.trim_start();
        if let Some(rest) = sql.strip_prefix("--") {
            sql = rest.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(rest) = sql.strip_prefix("/*") {
            sql = rest.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return sql;
        }
    }
}

/// `Some` if `sql` is a COPY FROM STDIN; `None` if it is not a COPY at all; an error for COPY
/// forms OmenDB does not support (TO, files, programs, binary).
pub fn parse_copy(sql: &str) -> Result<Option<CopyStatement>, EngineError> {
    let sql = skip_comments(sql);
    let is_copy = sql.len() > 4
        && sql.as_bytes()[..4].eq_ignore_ascii_case(b"copy")
        && sql.as_bytes()[4].is_ascii_whitespace();
    if !is_copy {
        // Anything else goes to the SQL front end untouched (its quotes are not ours to judge).
        return Ok(None);
    }
    let t = tokens(sql)?;
    if !t.first().is_some_and(|w| w.eq_ignore_ascii_case("copy")) {
        return Ok(None);
    }
    let mut i = 1;
    let table_token = t.get(i).ok_or_else(|| syntax("COPY needs a table"))?;
    if table_token == "(" {
        return Err(unsupported("COPY (query)"));
    }
    let mut table = ident(table_token);
    i += 1;
    if table.ends_with('.') {
        // A schema before a quoted name: `public."T"`.
        let name = t.get(i).ok_or_else(|| syntax("COPY needs a table"))?;
        table.push_str(&ident(name));
        i += 1;
    }
    let table = table.strip_prefix("public.").unwrap_or(&table).to_string();
    let mut columns = None;
    if t.get(i).map(String::as_str) == Some("(") {
        let mut cols = Vec::new();
        i += 1;
        while let Some(tok) = t.get(i) {
            i += 1;
            match tok.as_str() {
                ")" => break,
                "," => {}
                name => cols.push(ident(name)),
            }
        }
        columns = Some(cols);
    }
    match t.get(i).map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("from") => {}
        Some("to") => return Err(unsupported("COPY TO")),
        _ => return Err(syntax("COPY needs FROM STDIN")),
    }
    i += 1;
    if !t.get(i).is_some_and(|s| s.eq_ignore_ascii_case("stdin")) {
        return Err(unsupported("COPY FROM a file or program (use FROM STDIN)"));
    }
    i += 1;
    let mut stmt = CopyStatement {
        table,
        columns,
        format: CopyFormat::Text,
        delimiter: b'\t',
        null: "\\N".into(),
        header: false,
        quote: b'"',
        escape: b'"',
    };
    let mut delimiter = None;
    let mut null = None;
    let mut escape = None;
    let rest: Vec<String> = t[i..]
        .iter()
        .filter(|s| !matches!(s.as_str(), "(" | ")" | "," | "="))
        .cloned()
        .collect();
    let mut j = 0;
    if rest.first().is_some_and(|s| s.eq_ignore_ascii_case("with")) {
        j = 1;
    }
    while j < rest.len() {
        let option = rest[j].to_ascii_lowercase();
        let value = rest.get(j + 1);
        // An option's value is the next token unless that token is itself an option name.
        let has_value = value.is_some_and(|v| {
            v.starts_with('\'')
                || matches!(
                    v.to_ascii_lowercase().as_str(),
                    "true" | "false" | "on" | "off" | "0" | "1" | "text" | "csv" | "binary"
                )
        });
        j += 1;
        match option.as_str() {
            "format" => {
                let f = string_value(value, "FORMAT")?.to_ascii_lowercase();
                j += 1;
                stmt.format = match f.as_str() {
                    "text" => CopyFormat::Text,
                    "csv" => CopyFormat::Csv,
                    "binary" => return Err(unsupported("COPY in binary format")),
                    other => {
                        return Err(EngineError::sql(
                            "22023",
                            format!("COPY format \"{other}\" not recognized"),
                        ));
                    }
                };
            }
            "csv" => stmt.format = CopyFormat::Csv,
            "binary" => return Err(unsupported("COPY in binary format")),
            "delimiter" => {
                delimiter = Some(single_byte(
                    &string_value(value, "DELIMITER")?,
                    "delimiter",
                )?);
                j += 1;
            }
            "null" => {
                null = Some(string_value(value, "NULL")?);
                j += 1;
            }
            "quote" => {
                stmt.quote = single_byte(&string_value(value, "QUOTE")?, "quote")?;
                j += 1;
            }
            "escape" => {
                escape = Some(single_byte(&string_value(value, "ESCAPE")?, "escape")?);
                j += 1;
            }
            "encoding" => {
                let enc = string_value(value, "ENCODING")?
                    .to_ascii_lowercase()
                    .replace(['-', '_'], "");
                j += 1;
                if enc != "utf8" && enc != "unicode" {
                    return Err(unsupported("a COPY encoding other than UTF8"));
                }
            }
            "header" | "freeze" | "oids" => {
                let on = if has_value {
                    j += 1;
                    boolean(value)
                } else {
                    true
                };
                match option.as_str() {
                    "header" => stmt.header = on,
                    "oids" if on => return Err(unsupported("COPY WITH OIDS")),
                    // FREEZE only promises that no older snapshot needs the rows: always true
                    // for what OmenDB keeps, so accepted as is.
                    _ => {}
                }
            }
            other => {
                return Err(syntax(format!("option \"{other}\" not recognized")));
            }
        }
    }
    if stmt.format == CopyFormat::Csv {
        stmt.delimiter = delimiter.unwrap_or(b',');
        stmt.null = null.unwrap_or_default();
        stmt.escape = escape.unwrap_or(stmt.quote);
    } else {
        stmt.delimiter = delimiter.unwrap_or(b'\t');
        stmt.null = null.unwrap_or_else(|| "\\N".into());
        if stmt.header {
            return Err(unsupported("COPY HEADER in text format"));
        }
    }
    Ok(Some(stmt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_psql_and_pgbench_send() {
        let s = parse_copy("copy pgbench_accounts from stdin with (freeze on)")
            .unwrap()
            .unwrap();
        assert_eq!(s.table, "pgbench_accounts");
        assert_eq!((s.format, s.delimiter), (CopyFormat::Text, b'\t'));
        let s = parse_copy(
            "COPY public.\"T\" (a, \"B\") FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER '|')",
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.table, "T");
        assert_eq!(s.columns, Some(vec!["a".into(), "B".into()]));
        assert_eq!(
            (s.format, s.delimiter, s.header),
            (CopyFormat::Csv, b'|', true)
        );
        assert_eq!(s.null, "");
        let s = parse_copy("COPY t FROM STDIN WITH CSV HEADER DELIMITER ';' NULL 'x'")
            .unwrap()
            .unwrap();
        assert_eq!(
            (s.format, s.delimiter, s.header),
            (CopyFormat::Csv, b';', true)
        );
        assert_eq!(s.null, "x");
        let s = parse_copy("copy t from stdin delimiter '|'")
            .unwrap()
            .unwrap();
        assert_eq!(s.delimiter, b'|');
        assert!(parse_copy("select 1").unwrap().is_none());
        assert!(parse_copy("-- don't\nselect 'x").unwrap().is_none());
        assert!(parse_copy("copying").unwrap().is_none());
        let s = parse_copy("/* load */ -- it\n COPY t FROM STDIN")
            .unwrap()
            .unwrap();
        assert_eq!(s.table, "t");
        assert_eq!(
            parse_copy("copy t to stdout").unwrap_err().sqlstate(),
            "0A000"
        );
        assert_eq!(
            parse_copy("copy t from stdin (format binary)")
                .unwrap_err()
                .sqlstate(),
            "0A000"
        );
        assert_eq!(
            parse_copy("copy t from '/etc/passwd'")
                .unwrap_err()
                .sqlstate(),
            "0A000"
        );
    }
}
