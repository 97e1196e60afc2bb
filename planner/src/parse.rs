//! SQL text to statements: splits a query string, recognises utility statements sqlparser does
//! not know, and parses the rest with sqlparser's PostgreSQL dialect.

use crate::error::PlanError;
use crate::plan::Statement;
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// One statement of a query string.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// Handed to the binder.
    Sql(Box<ast::Statement>),
    /// Already bound: utility statements recognised before parsing.
    Bound(Box<Statement>),
}

/// Parse a query string into its statements. An empty or comment-only string yields no
/// statements (the caller answers EmptyQueryResponse).
pub fn parse(sql: &str) -> Result<Vec<Parsed>, PlanError> {
    let pieces = split_statements(sql)?;
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces {
        if let Some(stmt) = utility(piece)? {
            out.push(Parsed::Bound(Box::new(stmt)));
            continue;
        }
        let mut parsed = Parser::parse_sql(&PostgreSqlDialect {}, piece).map_err(syntax_error)?;
        match parsed.len() {
            0 => {}
            1 => out.push(Parsed::Sql(Box::new(parsed.remove(0)))),
            _ => out.extend(parsed.into_iter().map(|s| Parsed::Sql(Box::new(s)))),
        }
    }
    Ok(out)
}

/// sqlparser's "Expected: X, found: Y at Line: 1, Column: 8" as PostgreSQL words it.
fn syntax_error(e: sqlparser::parser::ParserError) -> PlanError {
    let text = e.to_string();
    let text = text.strip_prefix("sql parser error: ").unwrap_or(&text);
    if let Some(found) = text.split("found: ").nth(1) {
        let token = found.split(" at Line:").next().unwrap_or(found).trim();
        if token == "EOF" {
            return PlanError::syntax("syntax error at end of input");
        }
        return PlanError::syntax(format!("syntax error at or near \"{token}\""));
    }
    PlanError::syntax(format!("syntax error: {text}"))
}

/// Utility statements: accepted without effect where they have none here, refused where
/// OmenDB does not have the feature yet.
fn utility(piece: &str) -> Result<Option<Statement>, PlanError> {
    let lower = piece.trim_start().to_ascii_lowercase();
    let first = lower
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or("");
    let noop = |tag: &str| Ok(Some(Statement::NoOp { tag: tag.into() }));
    match first {
        "vacuum" => noop("VACUUM"),
        "analyze" | "analyse" => noop("ANALYZE"),
        "checkpoint" => Ok(Some(Statement::Checkpoint)),
        "discard" => noop("DISCARD ALL"),
        "reset" => {
            let name = lower
                .trim_start_matches("reset")
                .trim()
                .trim_end_matches(';')
                .trim();
            if name == "all" {
                return noop("RESET");
            }
            Ok(Some(Statement::Set {
                name: crate::binder::canonical_setting(name),
                value: None,
            }))
        }
        "copy" => Err(PlanError::not_supported("COPY is not supported yet")),
        "listen" | "unlisten" | "notify" => Err(PlanError::not_supported(format!(
            "{} is not supported",
            first.to_uppercase()
        ))),
        _ => Ok(None),
    }
}

/// Split on top-level semicolons, respecting quotes, dollar quotes and comments. Pieces that
/// hold only white space and comments are dropped.
pub fn split_statements(sql: &str) -> Result<Vec<&str>, PlanError> {
    let bytes = sql.as_bytes();
    let mut pieces = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut has_content = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\'' | b'"' => {
                i = skip_quoted(bytes, i, b)?;
                has_content = true;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i)?;
                continue;
            }
            b'$' => {
                if let Some(end) = skip_dollar_quoted(sql, i)? {
                    i = end;
                    has_content = true;
                    continue;
                }
                has_content = true;
            }
            b';' => {
                if has_content {
                    pieces.push(&sql[start..i]);
                }
                start = i + 1;
                has_content = false;
            }
            b if !b.is_ascii_whitespace() => has_content = true,
            _ => {}
        }
        i += 1;
    }
    if has_content {
        pieces.push(&sql[start..]);
    }
    Ok(pieces)
}

fn skip_quoted(bytes: &[u8], open: usize, quote: u8) -> Result<usize, PlanError> {
    // E'...' strings allow backslash escapes of the quote.
    let escapes = quote == b'\'' && open > 0 && matches!(bytes[open - 1], b'e' | b'E');
    let mut i = open + 1;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return Ok(i + 1);
        }
        i += 1;
    }
    Err(PlanError::syntax(if quote == b'\'' {
        "unterminated quoted string at or near \"'\""
    } else {
        "unterminated quoted identifier at or near \"\"\""
    }))
}

fn skip_block_comment(bytes: &[u8], open: usize) -> Result<usize, PlanError> {
    let (mut depth, mut i) = (0usize, open);
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i += 1;
        }
    }
    Err(PlanError::syntax("unterminated /* comment"))
}

/// `$tag$ ... $tag$`; `None` if the `$` does not open a dollar quote (e.g. a `$1` parameter).
fn skip_dollar_quoted(sql: &str, open: usize) -> Result<Option<usize>, PlanError> {
    let rest = &sql[open + 1..];
    let tag_len = rest.find('$');
    let Some(tag_len) = tag_len else {
        return Ok(None);
    };
    let tag = &rest[..tag_len];
    if !tag.chars().all(|c| c.is_alphanumeric() || c == '_')
        || tag.starts_with(|c: char| c.is_ascii_digit())
    {
        return Ok(None);
    }
    let delimiter = &sql[open..open + tag_len + 2];
    let body_start = open + tag_len + 2;
    match sql[body_start..].find(delimiter) {
        Some(end) => Ok(Some(body_start + end + delimiter.len())),
        None => Err(PlanError::syntax("unterminated dollar-quoted string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_top_level_semicolons_only() {
        let pieces =
            split_statements("select 'a;b'; select \"x;\" from t; -- c;\n /* d; */ select $$e;$$;")
                .unwrap();
        assert_eq!(pieces.len(), 3);
        assert!(pieces[0].contains("'a;b'"));
        assert!(pieces[2].contains("$$e;$$"));
    }

    #[test]
    fn empty_and_comment_only_strings_have_no_statements() {
        assert!(split_statements("").unwrap().is_empty());
        assert!(split_statements(" ; ;-- x\n").unwrap().is_empty());
    }

    #[test]
    fn unterminated_quotes_are_syntax_errors() {
        assert_eq!(
            split_statements("select 'abc").unwrap_err().sqlstate(),
            "42601"
        );
        assert_eq!(
            split_statements("select 1 /* x").unwrap_err().sqlstate(),
            "42601"
        );
    }

    #[test]
    fn parameters_are_not_dollar_quotes() {
        assert_eq!(split_statements("select $1; select $2").unwrap().len(), 2);
    }

    #[test]
    fn utility_statements_bypass_sqlparser() {
        let parsed = parse("VACUUM ANALYZE t; select 1").unwrap();
        assert!(
            matches!(&parsed[0], Parsed::Bound(b) if matches!(b.as_ref(), Statement::NoOp { tag } if tag == "VACUUM"))
        );
        assert!(matches!(&parsed[1], Parsed::Sql(_)));
    }
}
