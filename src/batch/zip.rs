//! Kili export zips (`kili.export_labels(fmt="kili")`: `labels/*.json` or `data.json`).
//!
//! The zip is streamed by its local headers, so memory does not grow with the number of
//! members (the central directory of a million-asset export is itself hundreds of MB once
//! indexed). The reading thread only copies each member's compressed bytes; workers inflate,
//! parse and check them, chunk by chunk, while the next chunk is read. Zips that cannot be
//! streamed (members with data descriptors, which Python's `zipfile` writes only to
//! unseekable outputs) are read through the central directory instead.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;
use std::sync::mpsc;

use rayon::prelude::*;

use super::export::{
    check_file_bytes, invalid, is_label_file, unreadable, ExportError, Progress, MAX_DOC_BYTES,
};
use super::BatchOut;

/// Compressed bytes per chunk handed to the workers. Label JSON inflates about 8x, and a few
/// chunks are in flight: this keeps the peak a few tens of MB whatever the export's size.
const ZIP_CHUNK_BYTES: usize = 1 << 20;
use crate::ruleset::RuleSet;

struct RawMember {
    name: String,
    data: Result<(zip::CompressionMethod, Vec<u8>, u64), String>,
}

pub fn validate_zip(
    rs: &RuleSet,
    path: &Path,
    progress: Progress,
) -> Result<BatchOut, ExportError> {
    match validate_zip_stream(rs, path, progress)? {
        Some(out) => Ok(out),
        None => validate_zip_archive(rs, path, progress),
    }
}

/// Counts the bytes read, and copies them while `capture` is on.
struct Tap<R> {
    inner: R,
    pos: u64,
    capture: Rc<RefCell<Option<Vec<u8>>>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        if let (Some(c), Some(read)) = (self.capture.borrow_mut().as_mut(), buf.get(..n)) {
            c.extend_from_slice(read);
        }
        Ok(n)
    }
}

/// Streamed pass; `Ok(None)` when the zip must be read through its central directory.
fn validate_zip_stream(
    rs: &RuleSet,
    path: &Path,
    progress: Progress,
) -> Result<Option<BatchOut>, ExportError> {
    let total = std::fs::metadata(path)
        .map_err(|e| unreadable(path, e))?
        .len();
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    let capture = Rc::new(RefCell::new(None));
    let mut tap = Tap {
        inner: BufReader::with_capacity(1 << 20, file),
        pos: 0,
        capture: Rc::clone(&capture),
    };
    let workers = rayon::current_num_threads().max(1);
    let (tx, rx) = mpsc::channel::<(usize, BatchOut)>();
    let mut results: std::collections::BTreeMap<usize, BatchOut> = Default::default();
    let mut outcome: Result<(), String> = Ok(());
    let mut first = true;
    rayon::in_place_scope(|scope| {
        let (mut sent, mut received) = (0usize, 0usize);
        let mut chunk: Vec<RawMember> = Vec::new();
        let mut size = 0usize;
        let dispatch = |chunk: Vec<RawMember>, sent: &mut usize| {
            let tx = tx.clone();
            let seq = *sent;
            *sent += 1;
            scope.spawn(move |_| {
                let parts: Vec<BatchOut> =
                    chunk.into_par_iter().map(|m| check_member(rs, m)).collect();
                let mut out = BatchOut::default();
                for p in parts {
                    out.extend(p);
                }
                let _ = tx.send((seq, out));
            });
        };
        loop {
            let entry = match zip::read::read_zipfile_from_stream(&mut tap) {
                Ok(Some(e)) => e,
                Ok(None) => break, // the central directory: every member was read
                Err(e) => {
                    outcome = Err(if first { String::new() } else { e.to_string() });
                    break;
                }
            };
            first = false;
            let name = entry.name().to_owned();
            let wanted = is_label_file(&name);
            let (method, csize, usize_) =
                (entry.compression(), entry.compressed_size(), entry.size());
            if wanted && csize <= MAX_DOC_BYTES {
                *capture.borrow_mut() = Some(Vec::with_capacity(
                    usize::try_from(csize).unwrap_or(0).min(64 << 20),
                ));
            }
            // Dropping a streamed entry reads its compressed bytes (and only them) to reach
            // the next header; the tap copies them.
            drop(entry);
            let raw = capture.borrow_mut().take();
            if !wanted {
                continue;
            }
            let data = match raw {
                Some(r) if r.len() as u64 == csize => Ok((method, r, usize_)),
                Some(_) => Err("truncated zip member".to_owned()),
                None => Err(format!("member too large ({csize} bytes compressed)")),
            };
            size += data.as_ref().map_or(0, |d| d.1.len());
            chunk.push(RawMember { name, data });
            if size >= ZIP_CHUNK_BYTES {
                dispatch(std::mem::take(&mut chunk), &mut sent);
                size = 0;
                progress(tap.pos, total);
                // Bound memory: wait while too many chunks are in flight.
                while sent - received > workers + 1 {
                    if let Some((seq, out)) = wait_one(&rx) {
                        results.insert(seq, out);
                    }
                    received += 1;
                }
            }
        }
        if !chunk.is_empty() {
            dispatch(chunk, &mut sent);
        }
        drop(tx);
    });
    for (seq, out) in rx {
        results.insert(seq, out);
    }
    match outcome {
        // Not streamable from the first header on: use the central directory.
        Err(e) if e.is_empty() => Ok(None),
        Err(e) if e.contains("data descriptor") => Ok(None),
        other => {
            let mut out = BatchOut::default();
            for (_, part) in results {
                out.extend(part);
            }
            if let Err(e) = other {
                out.extend(invalid(
                    &path.display().to_string(),
                    format!("corrupt zip, reading stopped: {e}"),
                ));
            }
            progress(total, total);
            Ok(Some(out))
        }
    }
}

/// Wait for a chunk's result. On a pool thread (an explicit thread count), run queued work
/// while waiting: with one thread, the chunks wait for this very thread.
fn wait_one(rx: &mpsc::Receiver<(usize, BatchOut)>) -> Option<(usize, BatchOut)> {
    loop {
        match rx.try_recv() {
            Ok(x) => return Some(x),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            match rx.recv_timeout(std::time::Duration::from_millis(1)) {
                Ok(x) => return Some(x),
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

/// Through the central directory (memory grows with the number of members).
fn validate_zip_archive(
    rs: &RuleSet,
    path: &Path,
    progress: Progress,
) -> Result<BatchOut, ExportError> {
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| unreadable(path, format!("not a readable zip: {e}")))?;
    let indices: Vec<usize> = (0..zip.len())
        .filter(|&i| zip.name_for_index(i).is_some_and(is_label_file))
        .collect();
    let total = indices.len() as u64;
    let mut out = BatchOut::default();
    let mut done = 0u64;
    let mut i = 0;
    while i < indices.len() {
        // Read raw (still compressed) members up to the chunk size.
        let mut chunk: Vec<RawMember> = Vec::new();
        let mut size = 0usize;
        while let Some(&idx) = indices.get(i) {
            if size >= ZIP_CHUNK_BYTES && !chunk.is_empty() {
                break;
            }
            i += 1;
            let name = zip.name_for_index(idx).unwrap_or_default().to_owned();
            let data = read_raw(&mut zip, idx);
            size += data.as_ref().map_or(0, |d| d.1.len());
            chunk.push(RawMember { name, data });
        }
        done += chunk.len() as u64;
        let parts: Vec<BatchOut> = chunk.into_par_iter().map(|m| check_member(rs, m)).collect();
        for p in parts {
            out.extend(p);
        }
        progress(done, total);
    }
    Ok(out)
}

fn read_raw<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    idx: usize,
) -> Result<(zip::CompressionMethod, Vec<u8>, u64), String> {
    let f = zip
        .by_index_raw(idx)
        .map_err(|e| format!("corrupt zip member: {e}"))?;
    let method = f.compression();
    let declared = f.size();
    let csize = f.compressed_size();
    if csize > MAX_DOC_BYTES {
        return Err(format!("member too large ({csize} bytes compressed)"));
    }
    let mut buf = Vec::with_capacity(usize::try_from(csize).unwrap_or(0).min(64 << 20));
    f.take(MAX_DOC_BYTES)
        .read_to_end(&mut buf)
        .map_err(|e| format!("corrupt zip member: {e}"))?;
    Ok((method, buf, declared))
}

fn inflate(method: zip::CompressionMethod, raw: Vec<u8>, declared: u64) -> Result<Vec<u8>, String> {
    if declared > MAX_DOC_BYTES {
        return Err(format!("member too large ({declared} bytes inflated)"));
    }
    match method {
        zip::CompressionMethod::Stored => Ok(raw),
        zip::CompressionMethod::Deflated => {
            // The declared size is a hint from the archive, not a promise: reserve modestly,
            // and stop reading at the limit whatever it says (zip bombs).
            let hint = usize::try_from(declared)
                .unwrap_or(0)
                .min(raw.len().saturating_mul(64))
                .min(16 << 20);
            let mut out = Vec::with_capacity(hint);
            flate2::read::DeflateDecoder::new(raw.as_slice())
                .take(MAX_DOC_BYTES + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("corrupt zip member: {e}"))?;
            if out.len() as u64 > MAX_DOC_BYTES {
                return Err("member too large when inflated".into());
            }
            Ok(out)
        }
        other => Err(format!("unsupported zip compression {other:?}")),
    }
}

fn check_member(rs: &RuleSet, m: RawMember) -> BatchOut {
    let bytes = m
        .data
        .and_then(|(method, raw, declared)| inflate(method, raw, declared));
    match bytes {
        Ok(b) => check_file_bytes(rs, &b, &m.name),
        Err(reason) => invalid(&m.name, reason),
    }
}
