//! Loading from existing dbgen `.tbl` files (`--from-tbl DIR`) instead of generating: each
//! table's file is cut into byte ranges at line boundaries, one per work item, and each range
//! is read in blocks and turned into COPY text chunks. The load then measures what DuckDB's
//! `COPY … FROM 'file'` does: reading the same files, generation excluded.
//!
//! Owns reading the files and the `.tbl` → COPY text conversion of whole blocks. It must never
//! alter a value: a line becomes exactly the COPY line `generate::push_copy_line` makes of it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::generate::{COPY_CHUNK_BYTES, Chunk, push_copy_line};
use super::tables::Table;

/// A byte range of one table's `.tbl` file, starting at a line's first byte and ending just
/// after a newline (or at the end of the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    pub path: PathBuf,
    pub start: u64,
    pub end: u64,
}

/// The file of `table` in `dir`.
pub fn table_file(dir: &Path, table: Table) -> PathBuf {
    dir.join(format!("{}.tbl", table.name()))
}

/// Cuts `path` into at most `parts` ranges of about equal size, each ending at a line end.
pub fn split(path: &Path, parts: usize) -> Result<Vec<FilePart>> {
    let mut file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let len = file.metadata()?.len();
    let parts = parts.max(1) as u64;
    let mut cuts = vec![0];
    for i in 1..parts {
        let guess = len * i / parts;
        let cut = next_line_start(&mut file, guess.max(*cuts.last().unwrap_or(&0)), len)?;
        if cut > *cuts.last().unwrap_or(&0) && cut < len {
            cuts.push(cut);
        }
    }
    cuts.push(len);
    Ok(cuts
        .windows(2)
        .map(|w| FilePart {
            path: path.to_owned(),
            start: w[0],
            end: w[1],
        })
        .collect())
}

/// The offset just after the first newline at or after `from` (`len` if there is none).
fn next_line_start(file: &mut File, from: u64, len: u64) -> Result<u64> {
    const PROBE: usize = 64 * 1024;
    let mut at = from;
    let mut buf = vec![0u8; PROBE];
    file.seek(SeekFrom::Start(at))?;
    while at < len {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Some(i) = buf[..n].iter().position(|&b| b == b'\n') {
            return Ok(at + i as u64 + 1);
        }
        at += n as u64;
    }
    Ok(len)
}

/// Reads `part` in blocks and hands COPY text chunks of about `COPY_CHUNK_BYTES` to `emit`;
/// stops early (returning `Ok(false)`) when `emit` returns `false`.
pub fn read_chunks(part: &FilePart, mut emit: impl FnMut(Chunk) -> bool) -> Result<bool> {
    let mut file =
        File::open(&part.path).with_context(|| format!("open {}", part.path.display()))?;
    file.seek(SeekFrom::Start(part.start))?;
    let mut left = part.end - part.start;
    let mut block: Vec<u8> = Vec::with_capacity(COPY_CHUNK_BYTES * 2);
    while left > 0 || !block.is_empty() {
        let want = (COPY_CHUNK_BYTES as u64).min(left) as usize;
        let have = block.len();
        block.resize(have + want, 0);
        file.read_exact(&mut block[have..])
            .with_context(|| format!("read {}", part.path.display()))?;
        left -= want as u64;
        // Whole lines only; the last range may end without a newline.
        let whole = if left == 0 {
            block.len()
        } else {
            match memchr::memrchr(b'\n', &block) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let chunk = copy_chunk(&block[..whole])
            .with_context(|| format!("{} near byte {}", part.path.display(), part.end - left))?;
        block.drain(..whole);
        if chunk.rows > 0 && !emit(chunk) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// COPY text for whole `.tbl` lines: each line's trailing `|` dropped and COPY's special
/// characters escaped. Lines without a backslash or carriage return (all of dbgen's) are
/// copied as they are.
pub fn copy_chunk(lines: &[u8]) -> Result<Chunk> {
    let Ok(text) = std::str::from_utf8(lines) else {
        bail!("not UTF-8");
    };
    let mut data = String::with_capacity(text.len());
    let mut rows = 0;
    // One vectorised search instead of a byte loop: this client is part of the timed load.
    let plain = memchr::memchr2(b'\\', b'\r', lines).is_none();
    if !plain {
        for line in text.split_terminator('\n') {
            push_copy_line(&mut data, line);
            rows += 1;
        }
        return Ok(Chunk { rows, data });
    }
    // Lines as `split_terminator` yields them, found by the vectorised memchr.
    let mut start = 0;
    let unterminated = !text.is_empty() && !text.ends_with('\n');
    let ends = memchr::memchr_iter(b'\n', lines).chain(unterminated.then_some(text.len()));
    for end in ends {
        let line = &text[start..end];
        data.push_str(line.strip_suffix('|').unwrap_or(line));
        data.push('\n');
        rows += 1;
        start = end + 1;
    }
    Ok(Chunk { rows, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("omendb-bench-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path
    }

    fn expected(text: &str) -> String {
        let mut out = String::new();
        for line in text.split_terminator('\n') {
            push_copy_line(&mut out, line);
        }
        out
    }

    #[test]
    fn chunks_match_the_generators_copy_lines() {
        for text in [
            "1|a b|2.5|\n2|c|3|\n",
            "1|back\\slash|\n2|x\r|\n",
            "1|no newline|",
            "",
            "\n",
            "1|a|\n\n2|b|\n",
            "1|a|\n|\n2",
        ] {
            let chunk = copy_chunk(text.as_bytes()).unwrap();
            assert_eq!(chunk.data, expected(text), "{text:?}");
            assert_eq!(chunk.rows, text.split_terminator('\n').count() as u64);
        }
        assert!(copy_chunk(&[0xff, b'\n']).is_err());
    }

    #[test]
    fn parts_cover_the_file_once_at_line_boundaries() {
        let text: String = (0..5000).map(|i| format!("{i}|row {i}|x|\n")).collect();
        let path = temp_file("split.tbl", &text);
        for parts in [1, 2, 3, 7, 64] {
            let ranges = split(&path, parts).unwrap();
            assert!(ranges.len() <= parts);
            let mut all = String::new();
            let mut rows = 0;
            for r in &ranges {
                assert!(r.start < r.end);
                read_chunks(r, |c| {
                    rows += c.rows;
                    all.push_str(&c.data);
                    true
                })
                .unwrap();
            }
            assert_eq!(rows, 5000, "{parts} parts");
            assert_eq!(all, expected(&text), "{parts} parts");
        }
    }

    #[test]
    fn an_empty_file_has_one_empty_part_and_no_rows() {
        let path = temp_file("empty.tbl", "");
        let ranges = split(&path, 4).unwrap();
        assert_eq!(ranges.len(), 1);
        let mut rows = 0;
        read_chunks(&ranges[0], |c| {
            rows += c.rows;
            true
        })
        .unwrap();
        assert_eq!(rows, 0);
    }
}
