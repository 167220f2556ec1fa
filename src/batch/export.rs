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
use super::jsonlist::validate_json_file;
use super::shared::{unreadable, ExportError, Progress};
use super::BatchOut;
use crate::ruleset::RuleSet;

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
    let named_zip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if named_zip {
        return Err(unreadable(path, "not a zip file (no zip signature)"));
    }
    validate_json_file(rs, path, meta.len(), progress)
}
