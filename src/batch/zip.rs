//! Kili export zips (`kili.export_labels(fmt="kili")`: `labels/*.json` or `data.json`).
//!
//! The zip's central directory is the truth: it is what `unzip`, Python's `zipfile` and Kili's
//! importers list. The fast path streams the local headers, so memory does not grow with the
//! number of members (the central directory of a million-asset export is itself hundreds of
//! MB once indexed): the reading thread only copies each member's compressed bytes, and
//! workers inflate, parse and check them, chunk by chunk, while the next chunk is read. While
//! streaming, every member is folded into a count and a keyed hash of (local-header offset,
//! name, compressed size); at the end the central directory is read once, in constant memory,
//! and folded the same way ([`super::central`]). Equal folds: every member the directory
//! names was read, and nothing else. Otherwise the zip is reconciled through the `zip`
//! crate's index of the directory: what the stream missed is read by the directory, and each
//! member read that the directory does not name, or named and not reached, is a row (the run
//! fails). Zips that cannot be streamed (members with data descriptors, which Python's
//! `zipfile` writes only to unseekable outputs) are read through the central directory from
//! the first such member on.

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;
use std::sync::mpsc;

use rayon::prelude::*;
use zip::result::ZipError;

use super::central::{member_hash, read_central_directory, CdError, Fold};
use super::jsonlist::check_file_bytes;
use super::shared::{
    hidden_reason, hidden_text, invalid, looks_like_label, unreadable, ExportError, Progress,
    MAX_DOC_BYTES,
};
use super::BatchOut;
use crate::ruleset::RuleSet;

/// Compressed bytes per chunk handed to the workers. Label JSON inflates about 8x, and a few
/// chunks are in flight: this keeps the peak a few tens of MB whatever the export's size.
const ZIP_CHUNK_BYTES: usize = 1 << 20;

/// Why a member was not read; each is a row naming the member.
#[derive(Debug, thiserror::Error)]
enum MemberError {
    #[error("member too large ({0} bytes compressed)")]
    TooLarge(u64),
    #[error("truncated zip member")]
    Truncated,
    #[error("corrupt zip member: {0}")]
    Corrupt(#[from] ZipError),
    #[error("corrupt zip member: {0}")]
    Inflate(std::io::Error),
    #[error("member too large ({0} bytes inflated; the limit is {INFLATE_BUDGET})")]
    TooLargeInflated(u64),
    #[error("member inflates past its declared size of {0} bytes (zip bomb?), not read")]
    PastDeclared(u64),
    #[error("unsupported zip compression {0:?}")]
    Method(zip::CompressionMethod),
    #[error("{}", hidden_text(.0))]
    Hidden(&'static str),
}

struct RawMember {
    name: String,
    data: Result<(zip::CompressionMethod, Vec<u8>, u64), MemberError>,
}

/// Where the streamed reading of the local headers stopped.
enum StreamEnd {
    /// At a central-directory signature.
    Directory,
    /// At a header that cannot be streamed (a data descriptor, encryption, an unknown
    /// method), at this offset: the rest is read through the central directory.
    Unsupported(u64),
    /// At a corrupt header, or the end of the file.
    Broken(ZipError),
}

struct Streamed {
    out: BatchOut,
    fold: Fold,
    end: StreamEnd,
}

/// A reconciliation that could not start: the zip crate cannot read the central directory.
struct NoDirectory(ZipError);

pub fn validate_zip(
    rs: &RuleSet,
    path: &Path,
    progress: Progress,
) -> Result<BatchOut, ExportError> {
    // Keyed per run: a crafted zip cannot aim at a collision it cannot compute.
    let key = RandomState::new();
    let total = std::fs::metadata(path)
        .map_err(|e| unreadable(path, e))?
        .len();
    let Streamed { mut out, fold, end } = validate_zip_stream(rs, path, progress, &key, total)?;
    let zip_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tolerated_from = match &end {
        StreamEnd::Directory => {
            let mut file = File::open(path).map_err(|e| unreadable(path, e))?;
            match read_central_directory(&mut file, &key) {
                Ok(cd) if cd == fold => {
                    progress(total, total);
                    return Ok(out);
                }
                Ok(_) => None,
                // The file cannot be read (a short read is a directory cut short: below).
                Err(CdError::Io(e)) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
                    return Err(unreadable(path, e))
                }
                Err(e) => {
                    out.extend(invalid(
                        &zip_name,
                        format!(
                            "the zip's central directory is inconsistent ({e}): tools may \
                             list different members; read as the zip crate reads it"
                        ),
                    ));
                    None
                }
            }
        }
        StreamEnd::Unsupported(at) => Some(*at),
        StreamEnd::Broken(_) => None,
    };
    let streamed_labels = out.labels;
    match reconcile(rs, path, &key, tolerated_from, progress) {
        Ok(more) => {
            out.extend(more);
            progress(total, total);
            Ok(out)
        }
        Err(NoDirectory(e)) => Err(unreadable(
            path,
            match end {
                StreamEnd::Unsupported(0) => format!("not a readable zip: {e}"),
                StreamEnd::Broken(s) => format!(
                    "corrupt zip, reading stopped after {streamed_labels} labels: {s}; \
                     its central directory cannot be read either: {e}"
                ),
                _ => format!("corrupt zip: its central directory cannot be read: {e}"),
            },
        )),
    }
}

/// Where a tap copies the bytes read, while it holds a buffer.
type Capture = Rc<RefCell<Option<Vec<u8>>>>;

/// Counts the bytes read, and copies them while `capture` is on.
struct Tap<R> {
    inner: R,
    pos: u64,
    capture: Capture,
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

fn tap_of(path: &Path) -> Result<(Tap<BufReader<File>>, Capture), ExportError> {
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    let capture = Rc::new(RefCell::new(None));
    let tap = Tap {
        inner: BufReader::with_capacity(1 << 20, file),
        pos: 0,
        capture: Rc::clone(&capture),
    };
    Ok((tap, capture))
}

/// How a header read ends the walk over the local headers.
fn end_of(err: ZipError, at: u64, first: bool) -> StreamEnd {
    match err {
        ZipError::UnsupportedArchive(_) => StreamEnd::Unsupported(at),
        // Not a zip from its first byte on (bytes in front of it): the directory decides.
        _ if first => StreamEnd::Unsupported(0),
        e => StreamEnd::Broken(e),
    }
}

/// The streamed pass: checks every label member its local headers show, folds every member.
fn validate_zip_stream(
    rs: &RuleSet,
    path: &Path,
    progress: Progress,
    key: &RandomState,
    total: u64,
) -> Result<Streamed, ExportError> {
    let (mut tap, capture) = tap_of(path)?;
    let workers = rayon::current_num_threads().max(1);
    let (tx, rx) = mpsc::channel::<(usize, BatchOut)>();
    let mut results: std::collections::BTreeMap<usize, BatchOut> = Default::default();
    let mut end = StreamEnd::Directory;
    let mut fold = Fold::default();
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
            let at = tap.pos;
            let entry = match zip::read::read_zipfile_from_stream(&mut tap) {
                Ok(Some(e)) => e,
                Ok(None) => break, // a central-directory signature
                Err(e) => {
                    end = end_of(e, at, fold.count == 0);
                    break;
                }
            };
            // A streamed entry does not know its offset (header_start is 0): the tap does.
            fold.add(key, at, entry.name_raw(), entry.compressed_size());
            let name = entry.name().to_owned();
            let (method, csize, usize_) =
                (entry.compression(), entry.compressed_size(), entry.size());
            let hidden = hidden_reason(&name);
            let wanted = looks_like_label(&name);
            let read = wanted && hidden.is_none();
            if read && csize <= MAX_DOC_BYTES {
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
            let data = match (hidden, raw) {
                (Some(why), _) => Err(MemberError::Hidden(why)),
                (None, Some(r)) if r.len() as u64 == csize => Ok((method, r, usize_)),
                (None, Some(_)) => Err(MemberError::Truncated),
                (None, None) => Err(MemberError::TooLarge(csize)),
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
    let mut out = BatchOut::default();
    for (_, part) in results {
        out.extend(part);
    }
    Ok(Streamed { out, fold, end })
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

const NOT_NAMED: &str = "read from its local header, but the zip's central directory does not \
     name it: unzip, Python's zipfile and Kili see other members (a zip joined to another, or \
     a crafted one?)";
const NOT_REACHED: &str = "named in the zip's central directory, but not reached by reading \
     its local headers (hidden behind other bytes, or a crafted zip?); read through the \
     central directory";
const OVERLAPPING: &str = "shares its local header with another member of the central \
     directory (overlapping members, a crafted zip?); read through the central directory";

/// The zip read by its central directory, after a streamed pass that did not match it (or
/// stopped early). Memory grows with the number of members (the zip crate's index, and one
/// small record per member): this runs only on a zip that is not what it seems, or cannot be
/// streamed. `tolerated_from`: the offset from which the stream could not go on (a data
/// descriptor), so members from there on are read without a row.
fn reconcile(
    rs: &RuleSet,
    path: &Path,
    key: &RandomState,
    tolerated_from: Option<u64>,
    progress: Progress,
) -> Result<BatchOut, NoDirectory> {
    let file = File::open(path).map_err(|e| NoDirectory(ZipError::Io(e)))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(NoDirectory)?;
    let mut out = BatchOut::default();
    // Local-header offset -> (index, keyed hash of the member); overlapping entries aside.
    let mut named: HashMap<u64, (usize, u64)> = HashMap::new();
    let mut overlapping: Vec<usize> = Vec::new();
    for i in 0..zip.len() {
        let name = zip.name_for_index(i).unwrap_or_default().to_owned();
        let member = zip
            .by_index_raw(i)
            .map(|f| (f.header_start(), member_hash_of(key, &f)));
        match member {
            Ok((at, h)) => match named.entry(at) {
                // The first entry keeps the offset: the others are rows of their own.
                std::collections::hash_map::Entry::Occupied(_) => overlapping.push(i),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert((i, h));
                }
            },
            Err(e) if looks_like_label(&name) => {
                out.extend(invalid(&name, MemberError::Corrupt(e).to_string()));
            }
            Err(_) => {}
        }
    }
    // Walk the local headers again, as the stream did (no inflating): what it read and the
    // directory does not name is a row; what the directory names and it read is done.
    if let Ok((mut tap, _)) = tap_of(path) {
        loop {
            let at = tap.pos;
            let Ok(Some(entry)) = zip::read::read_zipfile_from_stream(&mut tap) else {
                break;
            };
            let h = member_hash(key, at, entry.name_raw(), entry.compressed_size());
            match named.get(&at) {
                Some(&(_, nh)) if nh == h => {
                    named.remove(&at);
                }
                _ if looks_like_label(entry.name()) => {
                    let name = entry.name().to_owned();
                    out.extend(invalid(&name, NOT_NAMED.to_owned()));
                }
                _ => {}
            }
        }
    }
    // What is left: named and not read by the stream, with the row each gets (none past the
    // point where the stream could not go on).
    let mut rest: Vec<(usize, Option<&str>)> = named
        .into_iter()
        .map(|(at, (i, _))| {
            let tolerated = tolerated_from.is_some_and(|t| at >= t);
            (i, (!tolerated).then_some(NOT_REACHED))
        })
        .chain(overlapping.into_iter().map(|i| (i, Some(OVERLAPPING))))
        .collect();
    rest.sort_unstable();
    let total = rest.len() as u64;
    let mut done = 0u64;
    let mut chunk: Vec<RawMember> = Vec::new();
    let mut size = 0usize;
    let flush = |chunk: &mut Vec<RawMember>, out: &mut BatchOut| {
        let parts: Vec<BatchOut> = std::mem::take(chunk)
            .into_par_iter()
            .map(|m| check_member(rs, m))
            .collect();
        for p in parts {
            out.extend(p);
        }
    };
    for (i, why) in rest {
        done += 1;
        let Some(name) = zip.name_for_index(i).map(str::to_owned) else {
            continue;
        };
        if !looks_like_label(&name) {
            continue;
        }
        if let Some(why) = why {
            out.extend(invalid(&name, why.to_owned()));
        }
        let data = match hidden_reason(&name) {
            Some(why) => Err(MemberError::Hidden(why)),
            None => read_raw(&mut zip, i),
        };
        size += data.as_ref().map_or(0, |d| d.1.len());
        chunk.push(RawMember { name, data });
        if size >= ZIP_CHUNK_BYTES {
            flush(&mut chunk, &mut out);
            size = 0;
            progress(done, total);
        }
    }
    flush(&mut chunk, &mut out);
    Ok(out)
}

/// The keyed hash of a member as the central directory shows it.
fn member_hash_of<R: Read>(key: &RandomState, f: &zip::read::ZipFile<'_, R>) -> u64 {
    member_hash(key, f.header_start(), f.name_raw(), f.compressed_size())
}

fn read_raw<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    idx: usize,
) -> Result<(zip::CompressionMethod, Vec<u8>, u64), MemberError> {
    let f = zip.by_index_raw(idx)?;
    let method = f.compression();
    let declared = f.size();
    let csize = f.compressed_size();
    if csize > MAX_DOC_BYTES {
        return Err(MemberError::TooLarge(csize));
    }
    let mut buf = Vec::with_capacity(usize::try_from(csize).unwrap_or(0).min(64 << 20));
    f.take(MAX_DOC_BYTES)
        .read_to_end(&mut buf)
        .map_err(MemberError::Inflate)?;
    Ok((method, buf, declared))
}

/// Inflated bytes in flight across all worker threads, whatever their number: a member
/// reserves its declared size before inflating and gives it back once checked. It is also
/// the largest member accepted.
const INFLATE_BUDGET: u64 = 160 << 20;

/// The shared budget of inflated bytes (a counting semaphore).
struct Budget {
    used: std::sync::Mutex<u64>,
    freed: std::sync::Condvar,
}

static BUDGET: Budget = Budget {
    used: std::sync::Mutex::new(0),
    freed: std::sync::Condvar::new(),
};

/// A reservation, returned to the budget when dropped.
struct Reserved(u64);

impl Budget {
    /// Wait until `n` bytes fit. Reservations are taken whole, before any inflating, so no
    /// holder ever waits for more: the waiters only wait for holders that are finishing.
    fn reserve(&'static self, n: u64) -> Reserved {
        let n = n.min(INFLATE_BUDGET);
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + n > INFLATE_BUDGET {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += n;
        Reserved(n)
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let mut used = BUDGET.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.0);
        BUDGET.freed.notify_all();
    }
}

fn inflate(
    method: zip::CompressionMethod,
    raw: Vec<u8>,
    declared: u64,
) -> Result<Vec<u8>, MemberError> {
    if declared > MAX_DOC_BYTES.min(INFLATE_BUDGET) {
        return Err(MemberError::TooLargeInflated(declared));
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
            // A member may not inflate past its declared size: a zip bomb lying about its
            // sizes is stopped after `declared` bytes, which the budget has reserved.
            flate2::read::DeflateDecoder::new(raw.as_slice())
                .take(declared + 1)
                .read_to_end(&mut out)
                .map_err(MemberError::Inflate)?;
            if out.len() as u64 > declared {
                return Err(MemberError::PastDeclared(declared));
            }
            Ok(out)
        }
        other => Err(MemberError::Method(other)),
    }
}

fn check_member(rs: &RuleSet, m: RawMember) -> BatchOut {
    let declared = m.data.as_ref().map_or(0, |d| d.2);
    // Held until the member is checked: its inflated bytes and the model built from them.
    let _reserved = BUDGET.reserve(declared);
    let bytes = m
        .data
        .and_then(|(method, raw, declared)| inflate(method, raw, declared));
    match bytes {
        Ok(b) => check_file_bytes(rs, &b, &m.name),
        Err(reason) => invalid(&m.name, reason.to_string()),
    }
}
