//! Batch validation: documents in, report rows out, fanned out on rayon.

use rayon::prelude::*;

use crate::error::LabelError;
use crate::label::json::parse_document;
use crate::label::Document;
use crate::rules::{Issue, Severity};
use crate::ruleset::RuleSet;

/// One report row: an issue and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub asset_id: Option<String>,
    pub external_id: Option<String>,
    pub label_id: Option<String>,
    /// The file (or zip member) the document came from.
    pub source: Option<String>,
    pub issue: Issue,
}

/// What a batch run found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchOut {
    pub rows: Vec<Row>,
    pub labels: usize,
    pub assets: usize,
    pub invalid: usize,
    pub bytes_read: u64,
}

impl BatchOut {
    pub fn extend(&mut self, other: BatchOut) {
        self.rows.extend(other.rows);
        self.labels += other.labels;
        self.assets += other.assets;
        self.invalid += other.invalid;
        self.bytes_read += other.bytes_read;
    }
}

pub const INVALID_KIND: &str = "invalid_label";

/// The ids of an input that could not be read, as far as they can be told: nothing is lost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ids {
    pub asset_id: Option<String>,
    pub external_id: Option<String>,
    pub label_id: Option<String>,
}

/// An input that could not be read, with whatever ids it still shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub err: LabelError,
    pub ids: Ids,
}

/// The row that stands for an input that could not be read or checked.
pub fn invalid_row(
    source: Option<&str>,
    asset_id: Option<String>,
    external_id: Option<String>,
    label_id: Option<String>,
    err: &LabelError,
) -> Row {
    let text = match source {
        Some(s) if !s.is_empty() => format!("{s}: {err}"),
        _ => err.to_string(),
    };
    Row {
        asset_id,
        external_id,
        label_id,
        source: source.map(str::to_owned),
        issue: Issue {
            rule: INVALID_KIND.to_owned(),
            kind: INVALID_KIND,
            severity: Severity::Error,
            text,
            mid: None,
            job: None,
            category: None,
            frame: None,
            value: None,
            limit: None,
        },
    }
}

/// Check every label of a parsed document.
pub fn check_document(rs: &RuleSet, doc: Document, source: Option<&str>) -> BatchOut {
    let mut out = BatchOut {
        assets: usize::from(!doc.is_label && !doc.is_response),
        ..BatchOut::default()
    };
    let asset_id = if doc.is_label {
        None
    } else {
        doc.id.as_ref().map(|n| n.to_string())
    };
    let external_id = doc.external_id.as_ref().map(|n| n.to_string());
    for pl in doc.labels {
        out.labels += 1;
        match rs.check(&pl.label, &doc.resolution) {
            Ok(issues) => out.rows.extend(issues.into_iter().map(|issue| Row {
                asset_id: asset_id.clone(),
                external_id: external_id.clone(),
                label_id: pl.id.as_ref().map(|n| n.to_string()),
                source: source.map(str::to_owned),
                issue,
            })),
            Err(e) => {
                out.invalid += 1;
                out.rows.push(invalid_row(
                    source,
                    asset_id.clone(),
                    external_id.clone(),
                    pl.id.as_ref().map(|n| n.to_string()),
                    &e,
                ));
            }
        }
    }
    out
}

/// Parse and check one JSON document; a malformed one becomes an `invalid_label` row.
pub fn check_bytes(rs: &RuleSet, bytes: &[u8], source: Option<&str>) -> BatchOut {
    let mut out = match parse_document(bytes, rs.opts) {
        Ok(doc) => check_document(rs, doc, source),
        Err(e) => {
            let ids = crate::label::json::peek_ids(bytes);
            let row = invalid_row(source, ids.asset_id, ids.external_id, ids.label_id, &e);
            BatchOut {
                invalid: 1,
                rows: vec![row],
                ..BatchOut::default()
            }
        }
    };
    out.bytes_read = bytes.len() as u64;
    out
}

/// Run `f` on a pool of `threads` threads (None: rayon's global pool, one per core).
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T, String> {
    match threads {
        None | Some(0) => Ok(f()),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| format!("cannot start {n} threads: {e}")),
    }
}

/// Check many JSON documents in parallel; rows keep the input order.
pub fn check_many_bytes<S: AsRef<[u8]> + Sync>(
    rs: &RuleSet,
    docs: &[(S, Option<String>)],
) -> BatchOut {
    let parts: Vec<BatchOut> = docs
        .par_iter()
        .map(|(b, src)| check_bytes(rs, b.as_ref(), src.as_deref()))
        .collect();
    let mut out = BatchOut::default();
    for p in parts {
        out.extend(p);
    }
    out
}

/// An input item before parsing: a document already read (from Python objects), or JSON text
/// to parse on a worker.
pub enum Input {
    Doc(Result<Document, Failed>),
    Json(Vec<u8>),
}

impl Input {
    pub fn resolve(self, opts: crate::label::ReadOpts) -> Result<Document, Failed> {
        match self {
            Input::Doc(d) => d,
            Input::Json(b) => parse_document(&b, opts).map_err(|err| Failed {
                err,
                ids: crate::label::json::peek_ids(&b),
            }),
        }
    }
}

/// Check a chunk of inputs in order; `offset` is the position of its first item in the whole
/// input (rows of unreadable items name it).
pub fn check_chunk(rs: &RuleSet, chunk: Vec<Input>, offset: usize) -> BatchOut {
    let mut out = BatchOut::default();
    for (i, input) in chunk.into_iter().enumerate() {
        let part = match input.resolve(rs.opts) {
            Ok(doc) => check_document(rs, doc, None),
            Err(f) => {
                let src = format!("item {}", offset + i);
                let ids = f.ids;
                let row = invalid_row(
                    Some(&src),
                    ids.asset_id,
                    ids.external_id,
                    ids.label_id,
                    &f.err,
                );
                BatchOut {
                    invalid: 1,
                    rows: vec![row],
                    ..BatchOut::default()
                }
            }
        };
        out.extend(part);
    }
    out
}

/// Checks chunks while the caller reads the next ones: the caller (holding the GIL) reads
/// chunk k+1 while workers check chunk k. With one thread everything runs inline, on the
/// caller's thread. Results come back in input order.
pub struct Pipeline {
    rs: std::sync::Arc<RuleSet>,
    pool: Option<rayon::ThreadPool>,
    tx: std::sync::mpsc::Sender<(usize, BatchOut)>,
    rx: std::sync::mpsc::Receiver<(usize, BatchOut)>,
    submitted: usize,
    received: usize,
    offset: usize,
    max_in_flight: usize,
    results: std::collections::BTreeMap<usize, BatchOut>,
}

impl Pipeline {
    pub fn new(rs: std::sync::Arc<RuleSet>, threads: Option<usize>) -> Result<Pipeline, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let pool = match threads {
            Some(1) => None,
            n => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n.unwrap_or(0))
                    .build()
                    .map_err(|e| format!("cannot start worker threads: {e}"))?,
            ),
        };
        let workers = pool
            .as_ref()
            .map_or(1, rayon::ThreadPool::current_num_threads);
        Ok(Pipeline {
            rs,
            pool,
            tx,
            rx,
            submitted: 0,
            received: 0,
            offset: 0,
            max_in_flight: 2 * workers,
            results: std::collections::BTreeMap::new(),
        })
    }

    /// Hand a chunk over (inline: check it now).
    pub fn submit(&mut self, chunk: Vec<Input>) {
        let seq = self.submitted;
        let offset = self.offset;
        self.submitted += 1;
        self.offset += chunk.len();
        let rs = std::sync::Arc::clone(&self.rs);
        let job = move || run_guarded(&rs, chunk, offset);
        match &self.pool {
            None => {
                self.results.insert(seq, job());
                self.received += 1;
            }
            Some(pool) => {
                let tx = self.tx.clone();
                pool.spawn(move || {
                    let _ = tx.send((seq, job()));
                });
            }
        }
    }

    /// Whether the caller should wait for results before reading more (bounds memory).
    pub fn must_wait(&self) -> bool {
        self.submitted - self.received >= self.max_in_flight
    }

    /// Wait for one chunk's result.
    pub fn wait_one(&mut self) {
        if self.received < self.submitted {
            if let Ok((seq, out)) = self.rx.recv() {
                self.results.insert(seq, out);
            }
            self.received += 1;
        }
    }

    /// Items handed over so far.
    pub fn items(&self) -> usize {
        self.offset
    }

    pub fn finish(mut self) -> BatchOut {
        while self.received < self.submitted {
            self.wait_one();
        }
        let mut out = BatchOut::default();
        for (_, part) in std::mem::take(&mut self.results) {
            out.extend(part);
        }
        out
    }
}

/// A chunk's check, with any panic turned into rows: a panic on a pool thread would abort.
fn run_guarded(rs: &RuleSet, chunk: Vec<Input>, offset: usize) -> BatchOut {
    let n = chunk.len();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_chunk(rs, chunk, offset)
    }))
    .unwrap_or_else(|_| {
        let e = LabelError::new(
            "",
            "internal error while checking these items (please report them)",
        );
        let src = format!("items {offset}..{}", offset + n);
        BatchOut {
            invalid: n,
            rows: vec![invalid_row(Some(&src), None, None, None, &e)],
            ..BatchOut::default()
        }
    })
}
