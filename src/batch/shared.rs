//! What every export reader shares (limits, errors, progress, which names are label files):
//! a module of its own so that the readers and `export.rs`, which picks one, never import each
//! other in a circle (scripts/check_imports.py holds it).

use std::path::Path;

use super::{invalid_row, BatchOut};
use crate::error::LabelError;

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

/// One `invalid_label` row for `source`.
pub(crate) fn invalid(source: &str, reason: String) -> BatchOut {
    let e = LabelError::new("", reason);
    BatchOut {
        invalid: 1,
        rows: vec![invalid_row(Some(source), None, None, None, &e)],
        ..BatchOut::default()
    }
}

/// Named like a label file (`*.json`), hidden or not.
pub(crate) fn looks_like_label(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".json")
}

/// Why a path inside an export (`/`-separated, relative to the export's root) is hidden, if it
/// is. Hidden files named like labels are rows, never skipped in silence: Python's `zipfile`,
/// `unzip` and Kili's importers list them like any other file.
pub(crate) fn hidden_reason(name: &str) -> Option<&'static str> {
    let mut parts = name.split(['/', '\\']).filter(|p| !p.is_empty());
    let file = parts.next_back()?;
    if parts.clone().any(|p| p == "__MACOSX") {
        return Some("a macOS resource fork (under __MACOSX/), not a label file");
    }
    if file.starts_with("._") {
        return Some("a macOS resource fork (a \"._\" file), not a label file");
    }
    if file.starts_with('.') {
        return Some("a hidden file (its name starts with \".\")");
    }
    if parts.any(|p| p.starts_with('.') && p != "." && p != "..") {
        return Some("in a hidden folder (its name starts with \".\")");
    }
    None
}

/// The text of a hidden file's row.
pub(crate) fn hidden_text(reason: &str) -> String {
    format!("not read: {reason}; remove it from the export or rename it")
}

/// The row of a hidden file named like a label: not read, and the run fails.
pub(crate) fn hidden_row(name: &str, reason: &str) -> BatchOut {
    invalid(name, hidden_text(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_names() {
        assert_eq!(hidden_reason("labels/a.json"), None);
        assert!(looks_like_label("labels/A.JSON"));
        for n in [
            "labels/.a.json",
            "labels/._a.json",
            "__MACOSX/labels/a.json",
            "labels/.git/a.json",
            ".a.json",
        ] {
            assert!(hidden_reason(n).is_some(), "{n}");
            assert!(looks_like_label(n), "{n}");
        }
    }
}
