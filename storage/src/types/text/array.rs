//! `text[]` in PostgreSQL's text form: `{a,"b c",NULL}` (array_in / array_out for one
//! dimension; a multi-dimensional literal is refused).

use crate::types::TypeError;

/// PostgreSQL's `array_isspace`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

fn malformed(s: &str) -> TypeError {
    TypeError::InvalidSyntax(format!("malformed array literal: \"{s}\""))
}

/// Parse `{…}` into its elements.
pub(super) fn parse_text_array(s: &str) -> Result<Vec<Option<String>>, TypeError> {
    let body = s
        .trim_matches(is_space)
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(|| malformed(s))?;
    let mut items = Vec::new();
    if body.trim_matches(is_space).is_empty() {
        return Ok(items);
    }
    let mut chars = body.chars().peekable();
    loop {
        while chars.next_if(|&c| is_space(c)).is_some() {}
        let mut item = String::new();
        let mut quoted = false;
        // Unquoted white space is kept only between non-space characters.
        let mut pending_space = String::new();
        loop {
            match chars.peek().copied() {
                None | Some(',') => break,
                Some('"') => {
                    chars.next();
                    quoted = true;
                    item.push_str(&std::mem::take(&mut pending_space));
                    loop {
                        match chars.next() {
                            None => return Err(malformed(s)),
                            Some('"') => break,
                            Some('\\') => item.push(chars.next().ok_or_else(|| malformed(s))?),
                            Some(c) => item.push(c),
                        }
                    }
                }
                Some('{' | '}') => return Err(malformed(s)),
                Some('\\') => {
                    chars.next();
                    item.push_str(&std::mem::take(&mut pending_space));
                    item.push(chars.next().ok_or_else(|| malformed(s))?);
                    quoted = true;
                }
                Some(c) if is_space(c) => {
                    chars.next();
                    pending_space.push(c);
                }
                Some(c) => {
                    chars.next();
                    item.push_str(&std::mem::take(&mut pending_space));
                    item.push(c);
                }
            }
        }
        if !quoted && item.is_empty() {
            return Err(malformed(s));
        }
        items.push((quoted || !item.eq_ignore_ascii_case("NULL")).then_some(item));
        if chars.next().is_none() {
            return Ok(items);
        }
    }
}

/// Append `{…}` with elements quoted where array_in would otherwise misread them.
pub(super) fn write_text_array(items: &[Option<String>], out: &mut String) {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let Some(s) = item else {
            out.push_str("NULL");
            continue;
        };
        let quote = s.is_empty()
            || s.eq_ignore_ascii_case("NULL")
            || s.chars()
                .any(|c| matches!(c, '"' | '\\' | '{' | '}' | ',') || is_space(c));
        if !quote {
            out.push_str(s);
            continue;
        }
        out.push('"');
        for c in s.chars() {
            if matches!(c, '"' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) -> String {
        let mut out = String::new();
        write_text_array(&parse_text_array(s).unwrap(), &mut out);
        out
    }

    #[test]
    fn reads_and_writes_like_postgres() {
        assert_eq!(round_trip("{}"), "{}");
        assert_eq!(round_trip("{pg_catalog,public}"), "{pg_catalog,public}");
        assert_eq!(
            round_trip(" { a b , \"c,d\" ,NULL,\"NULL\",\"\"} "),
            "{\"a b\",\"c,d\",NULL,\"NULL\",\"\"}"
        );
        assert_eq!(round_trip("{x\\\"y}"), "{\"x\\\"y\"}");
        assert_eq!(
            parse_text_array("{a,NULL}").unwrap(),
            vec![Some("a".into()), None]
        );
    }

    #[test]
    fn refuses_malformed_literals() {
        for bad in ["a", "{a", "{a,}", "{{a}}", "{\"a}", "{,}"] {
            assert!(parse_text_array(bad).is_err(), "{bad}");
        }
    }
}
