//! Kili export readers: the zip `kili.export_labels(fmt="kili")` writes (`labels/*.json` or
//! `data.json`), the same unzipped, a JSON list file, JSON Lines.
//!
//! Everything streams in chunks of bounded size: the main thread reads a chunk (raw
//! compressed zip members, or complete JSON documents), rayon inflates, parses and checks it,
//! and the next chunk is read. Peak memory is a few chunks, whatever the export's size.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::folder::validate_folder;
use super::jsonlist::{split_array, validate_json_file};
use super::{check_bytes, invalid_row, BatchOut};
use crate::error::LabelError;
use crate::ruleset::RuleSet;

/// Bytes read before a chunk is handed to the workers.
pub(crate) const CHUNK_BYTES: usize = 8 << 20;
/// Largest JSON document (inflated zip member, list element or line) accepted.
pub(crate) const MAX_DOC_BYTES: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {reason}")]
    Unreadable { path: String, reason: String },
}

pub(crate) fn unreadable(path: &Path, reason: impl ToString) -> ExportError {
    ExportError::Unreadable {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Progress: (units done, units total); units are files or bytes depending on the source.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

pub fn validate_export(
    rs: &RuleSet,
    path: &Path,
    progress: Progress,
) -> Result<BatchOut, ExportError> {
    let meta = std::fs::metadata(path).map_err(|e| unreadable(path, e))?;
    if meta.is_dir() {
        return validate_folder(rs, path, progress);
    }
    let mut head = [0u8; 4];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| unreadable(path, e))?;
    if head.get(..n).is_some_and(|h| h.starts_with(b"PK")) {
        return super::zip::validate_zip(rs, path, progress);
    }
    validate_json_file(rs, path, meta.len(), progress)
}

pub(crate) fn invalid(source: &str, reason: String) -> BatchOut {
    let e = LabelError::new("", reason);
    BatchOut {
        invalid: 1,
        rows: vec![invalid_row(Some(source), None, None, None, &e)],
        ..BatchOut::default()
    }
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

/// Label files of an export: `*.json`, not hidden.
pub(crate) fn is_label_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".json") && !lower.rsplit('/').next().is_some_and(|f| f.starts_with('.'))
}
