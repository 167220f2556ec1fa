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
    check_chunk_into(rs, chunk, offset, &mut out);
    out
}

/// `check_chunk`, adding to `out`.
fn check_chunk_into(rs: &RuleSet, chunk: Vec<Input>, offset: usize, out: &mut BatchOut) {
    for (i, input) in chunk.into_iter().enumerate() {
        match input.resolve(rs.opts) {
            Ok(doc) => check_document_into(rs, doc, None, out),
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
    /// Inline (one thread): every chunk's rows go straight here, in order; merging per-chunk
    /// results cost about a fifth of a 100k-label run (moving every row twice, regrowing).
    inline: BatchOut,
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
            inline: BatchOut::default(),
        })
    }

    /// Hand a chunk over (inline: check it now).
    pub fn submit(&mut self, chunk: Vec<Input>) {
        let seq = self.submitted;
        let offset = self.offset;
        self.submitted += 1;
        self.offset += chunk.len();
        match &self.pool {
            None => {
                run_guarded_into(&self.rs, chunk, offset, &mut self.inline);
                self.received += 1;
            }
            Some(pool) => {
                let rs = std::sync::Arc::clone(&self.rs);
                let job = move || run_guarded(&rs, chunk, offset);
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
        let parts = std::mem::take(&mut self.results);
        let mut out = std::mem::take(&mut self.inline);
        // One allocation of the final size, not a regrowth by doubling while merging.
        out.rows
            .reserve_exact(parts.values().map(|p| p.rows.len()).sum());
        out.kept
            .reserve_exact(parts.values().map(|p| p.kept.len()).sum());
        for part in parts.into_values() {
            out.extend(part);
        }
        out
    }
}

/// A chunk's check, with any panic turned into rows: a panic on a pool thread would abort.
fn run_guarded(rs: &RuleSet, chunk: Vec<Input>, offset: usize) -> BatchOut {
    let mut out = BatchOut::default();
    run_guarded_into(rs, chunk, offset, &mut out);
    out
}

/// `run_guarded`, adding to `out`: a panic takes back what the chunk had added, so the chunk
/// leaves only its one row, as on a pool thread.
fn run_guarded_into(rs: &RuleSet, chunk: Vec<Input>, offset: usize, out: &mut BatchOut) {
    let n = chunk.len();
    let before = (
        out.rows.len(),
        out.kept.len(),
        out.labels,
        out.assets,
        out.invalid,
        out.unchecked,
        out.bytes_read,
    );
    let jobs = out.jobs.len();
    let jobs_before = (jobs > 0).then(|| out.jobs.clone());
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_chunk_into(rs, chunk, offset, out)
    }));
    if run.is_err() {
        out.rows.truncate(before.0);
        out.kept.truncate(before.1);
        (out.labels, out.assets, out.unchecked, out.bytes_read) =
            (before.2, before.3, before.5, before.6);
        out.invalid = before.4 + n;
        out.jobs = jobs_before.unwrap_or_default();
        let e = LabelError::new(
            "",
            "internal error while checking these items (please report them)",
        );
        let src = format!("items {offset}..{}", offset + n);
        out.rows.push(invalid_row(Some(&src), None, None, None, &e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::config::parse_json;
    use std::sync::Arc;

    fn rules() -> Arc<RuleSet> {
        let doc = parse_json(br#"{"rule": [{"kind": "count", "job": "J", "max": 0}]}"#);
        Arc::new(RuleSet::compile(doc.expect("rules")).expect("compile"))
    }

    /// Chunks of labels with one issue each, an unreadable item among them.
    fn run(threads: Option<usize>) -> BatchOut {
        let mut pipe = Pipeline::new(rules(), threads).expect("pipeline");
        for c in 0..5 {
            let chunk = (0..7)
                .map(|i| {
                    let text = if c == 2 && i == 3 {
                        "{".to_owned()
                    } else {
                        format!(
                            r#"{{"id": "l{c}-{i}", "jsonResponse": {{"J": {{"annotations": [{{"mid": "m"}}]}}}}}}"#
                        )
                    };
                    Input::Json(text.into_bytes())
                })
                .collect();
            pipe.submit(chunk);
        }
        pipe.finish()
    }

    fn ids(out: &BatchOut) -> Vec<Option<String>> {
        out.rows.iter().map(|r| r.origin.label_id.clone()).collect()
    }

    #[test]
    fn inline_and_pooled_runs_give_the_same_rows_in_input_order() {
        let inline = run(Some(1));
        let pooled = run(Some(2));
        assert_eq!(inline, pooled);
        assert_eq!(
            (inline.labels, inline.invalid, inline.rows.len()),
            (34, 1, 35)
        );
        let ids = ids(&inline);
        assert_eq!(ids[0].as_deref(), Some("l0-0"));
        assert_eq!(ids[17], None); // item 17: the unreadable one
        assert_eq!(ids[34].as_deref(), Some("l4-6"));
        assert!(inline.rows[17].issue.text.starts_with("item 17: "));
    }

    #[test]
    fn pooled_results_are_merged_into_one_allocation() {
        let out = run(Some(2));
        assert_eq!(out.rows.capacity(), out.rows.len());
    }
}
