//! Fan-out: documents checked in parallel on rayon, in chunks, results in input order.

use rayon::prelude::*;

use super::{check_bytes, check_document_into, invalid_row, BatchOut, Failed};
use crate::error::LabelError;
use crate::label::read::parse_document;
use crate::label::Document;
use crate::ruleset::RuleSet;

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
// Each item is moved once into the worker queue; the size gap costs a copy, not memory.
#[allow(clippy::large_enum_variant)]
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
                ids: crate::batch::peek_ids(&b),
            }),
        }
    }
}

/// Check a chunk of inputs in order; `offset` is the position of its first item in the whole
/// input (rows of unreadable items name it).
pub fn check_chunk(rs: &RuleSet, chunk: Vec<Input>, offset: usize) -> BatchOut {
    let mut out = BatchOut::default();
    for (i, input) in chunk.into_iter().enumerate() {
        match input.resolve(rs.opts) {
            Ok(doc) => check_document_into(rs, doc, None, &mut out),
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
                out.invalid += 1;
                out.rows.push(row);
            }
        }
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
