//! JSON list files and JSON Lines, streamed.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::shared::{invalid, unreadable, ExportError, Progress, CHUNK_BYTES, MAX_DOC_BYTES};
use super::{check_bytes, BatchOut};
use crate::ruleset::RuleSet;

pub(crate) fn validate_json_file(
    rs: &RuleSet,
    path: &Path,
    total: u64,
    progress: Progress,
) -> Result<BatchOut, ExportError> {
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let first = loop {
        let buf = reader.fill_buf().map_err(|e| unreadable(path, e))?;
        let Some(&c) = buf.first() else { break None };
        if c.is_ascii_whitespace() {
            reader.consume(1);
        } else {
            break Some(c);
        }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = BatchOut::default();
    let mut chunk: Vec<(Vec<u8>, Option<String>)> = Vec::new();
    let mut chunk_size = 0usize;
    let mut count = 0usize;
    let mut consumed = 0u64;
    let flush = |chunk: &mut Vec<(Vec<u8>, Option<String>)>, out: &mut BatchOut, consumed: u64| {
        out.extend(super::check_many_bytes(rs, chunk));
        chunk.clear();
        progress(consumed, total);
    };
    match first {
        None => return Err(unreadable(path, "empty file")),
        Some(b'[') => {
            let res = stream_array(&mut reader, |doc, pos| {
                chunk_size += doc.len();
                chunk.push((doc, Some(format!("{name}[{count}]"))));
                count += 1;
                if chunk_size >= CHUNK_BYTES {
                    flush(&mut chunk, &mut out, pos);
                    chunk_size = 0;
                }
            });
            if let Err(e) = res {
                // What was read so far is kept; the rest of the file is reported.
                flush(&mut chunk, &mut out, total);
                out.extend(invalid(&format!("{name}[{count}]"), e));
                return Ok(out);
            }
        }
        Some(_) => {
            // JSON Lines (or a single JSON object).
            let mut line = Vec::new();
            let mut lineno = 0usize;
            loop {
                line.clear();
                let n = (&mut reader)
                    .take(MAX_DOC_BYTES + 1)
                    .read_until(b'\n', &mut line)
                    .map_err(|e| unreadable(path, e))?;
                if n == 0 {
                    break;
                }
                lineno += 1;
                consumed += n as u64;
                if line.len() as u64 > MAX_DOC_BYTES {
                    out.extend(invalid(&format!("{name}:{lineno}"), "line too long".into()));
                    break;
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                chunk_size += line.len();
                chunk.push((line.clone(), Some(format!("{name}:{lineno}"))));
                if chunk_size >= CHUNK_BYTES {
                    flush(&mut chunk, &mut out, consumed);
                    chunk_size = 0;
                }
            }
        }
    }
    flush(&mut chunk, &mut out, total);
    Ok(out)
}

/// A label file: one asset record, or (`data.json`) a list of them.
pub(crate) fn check_file_bytes(rs: &RuleSet, b: &[u8], source: &str) -> BatchOut {
    let first = b.iter().find(|c| !c.is_ascii_whitespace());
    if first == Some(&b'[') {
        let mut out = BatchOut::default();
        let mut docs = Vec::new();
        let res = split_array(b, |d| {
            docs.push(d.to_vec());
            Ok(())
        });
        if let Err(e) = res {
            return invalid(source, e);
        }
        for (k, d) in docs.iter().enumerate() {
            out.extend(check_bytes(rs, d, Some(&format!("{source}[{k}]"))));
        }
        out.bytes_read = b.len() as u64;
        return out;
    }
    check_bytes(rs, b, Some(source))
}

/// Split a top-level JSON array held in memory into its elements.
pub(crate) fn split_array(
    b: &[u8],
    mut f: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut reader = b;
    let mut err = None;
    stream_array(&mut reader, |doc, _| {
        if err.is_none() {
            if let Err(e) = f(&doc) {
                err = Some(e);
            }
        }
    })?;
    err.map_or(Ok(()), Err)
}

/// Stream the elements of a top-level JSON array: a byte scanner that tracks strings and
/// nesting, so no element needs the whole file in memory. Elements are validated later by
/// the real parser; this only finds their bounds. `f` gets each element and the bytes
/// consumed so far.
fn stream_array<R: BufRead>(r: &mut R, mut f: impl FnMut(Vec<u8>, u64)) -> Result<(), String> {
    let mut pos = 0u64;
    let mut started = false;
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    let mut cur: Vec<u8> = Vec::new();
    let mut ended = false;
    loop {
        let buf = r.fill_buf().map_err(|e| e.to_string())?;
        if buf.is_empty() {
            break;
        }
        let len = buf.len();
        for &c in buf {
            pos += 1;
            if ended {
                if !c.is_ascii_whitespace() {
                    return Err("data after the end of the JSON list".into());
                }
                continue;
            }
            if !started {
                if c == b'[' {
                    started = true;
                } else if !c.is_ascii_whitespace() {
                    return Err("expected a JSON list".into());
                }
                continue;
            }
            if in_str {
                cur.push(c);
                if esc {
                    esc = false;
                } else if c == b'\\' {
                    esc = true;
                } else if c == b'"' {
                    in_str = false;
                }
                continue;
            }
            match c {
                b'"' => {
                    in_str = true;
                    cur.push(c);
                }
                b'{' | b'[' => {
                    depth += 1;
                    cur.push(c);
                }
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    cur.push(c);
                }
                b']' => {
                    if cur.iter().any(|c| !c.is_ascii_whitespace()) {
                        f(std::mem::take(&mut cur), pos);
                    }
                    ended = true;
                }
                b',' if depth == 0 => {
                    if cur.iter().all(u8::is_ascii_whitespace) {
                        return Err("empty element in the JSON list".into());
                    }
                    f(std::mem::take(&mut cur), pos);
                }
                _ => {
                    cur.push(c);
                    if cur.len() as u64 > MAX_DOC_BYTES {
                        return Err("list element too large".into());
                    }
                }
            }
        }
        r.consume(len);
    }
    if !ended {
        return Err(if started {
            "the JSON list is not closed (truncated file?)".into()
        } else {
            "empty file".into()
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_arrays() {
        let mut got = Vec::new();
        split_array(br#" [ {"a": "],[\"x"}, [1,2], 3 ] "#, |d| {
            got.push(String::from_utf8_lossy(d).trim().to_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![r#"{"a": "],[\"x"}"#, "[1,2]", "3"]);
        assert!(split_array(b"[1, 2", |_| Ok(())).is_err());
        assert!(split_array(b"[1,,2]", |_| Ok(())).is_err());
        assert!(split_array(b"[1] x", |_| Ok(())).is_err());
    }
}
