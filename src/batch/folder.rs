//! Unzipped exports: a folder of label files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::jsonlist::check_file_bytes;
use super::shared::{
    hidden_reason, hidden_row, invalid, looks_like_label, unreadable, ExportError, Progress,
    MAX_DOC_BYTES,
};
use super::BatchOut;
use crate::ruleset::RuleSet;

pub(crate) fn validate_folder(
    rs: &RuleSet,
    root: &Path,
    progress: Progress,
) -> Result<BatchOut, ExportError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    collect_json(root, root, &mut files, &mut skipped, 0).map_err(|e| unreadable(root, e))?;
    files.sort();
    skipped.sort();
    let total = files.len() as u64;
    let mut out = BatchOut::default();
    // Nothing is left out silently: every path not read is a row saying why.
    for (p, reason) in skipped {
        let name = p.strip_prefix(root).unwrap_or(&p).display().to_string();
        out.extend(match reason {
            Skipped::Hidden(why) => hidden_row(&name, why),
            Skipped::Other(why) => invalid(&name, format!("not read: {why}")),
        });
    }
    let mut done = 0u64;
    for chunk in files.chunks(256) {
        let parts: Vec<BatchOut> = chunk
            .par_iter()
            .map(|p| {
                let name = p.strip_prefix(root).unwrap_or(p).display().to_string();
                match read_bounded(p) {
                    Ok(b) => check_file_bytes(rs, &b, &name),
                    Err(e) => invalid(&name, e),
                }
            })
            .collect();
        for p in parts {
            out.extend(p);
        }
        done += chunk.len() as u64;
        progress(done, total);
    }
    Ok(out)
}

fn read_bounded(p: &Path) -> Result<Vec<u8>, String> {
    let f = File::open(p).map_err(|e| e.to_string())?;
    let mut b = Vec::new();
    f.take(MAX_DOC_BYTES + 1)
        .read_to_end(&mut b)
        .map_err(|e| e.to_string())?;
    if b.len() as u64 > MAX_DOC_BYTES {
        return Err("file too large".into());
    }
    Ok(b)
}

/// Folders nested deeper than this are not read (a loop of bind mounts, a hostile tree).
const MAX_DEPTH: usize = 32;

/// Why a path was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Skipped {
    /// Hidden or a macOS resource fork, named like a label.
    Hidden(&'static str),
    Other(&'static str),
}

/// Label files under `dir`; symbolic links (not followed: they may leave the export or loop),
/// special files and hidden files named like labels and folders too deep go to `skipped` with
/// the reason. Hidden folders are walked too: a label hidden in one is a row.
fn collect_json(
    root: &Path,
    dir: &Path,
    out: &mut Vec<PathBuf>,
    skipped: &mut Vec<(PathBuf, Skipped)>,
    depth: usize,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let p = entry.path();
        if ty.is_symlink() {
            skipped.push((p, Skipped::Other("symbolic link (links are not followed)")));
        } else if ty.is_dir() {
            if depth >= MAX_DEPTH {
                let why = "folder nested too deep (more than 32 levels)";
                skipped.push((p, Skipped::Other(why)));
            } else {
                collect_json(root, &p, out, skipped, depth + 1)?;
            }
        } else {
            // Judged on the path inside the export: the export's own location may be hidden.
            let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy();
            if !looks_like_label(&rel) {
                continue;
            }
            if let Some(why) = hidden_reason(&rel) {
                skipped.push((p, Skipped::Hidden(why)));
            } else if ty.is_file() {
                out.push(p);
            } else {
                let why = "not a regular file (FIFO, socket or device)";
                skipped.push((p, Skipped::Other(why)));
            }
        }
    }
    Ok(())
}
