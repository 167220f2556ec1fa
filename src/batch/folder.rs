//! Unzipped exports: a folder of label files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::export::{
    check_file_bytes, invalid, is_label_file, unreadable, ExportError, Progress, MAX_DOC_BYTES,
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
    collect_json(root, &mut files, &mut skipped, 0).map_err(|e| unreadable(root, e))?;
    files.sort();
    skipped.sort();
    let total = files.len() as u64;
    let mut out = BatchOut::default();
    // Nothing is left out silently: every path not read is a row saying why.
    for (p, reason) in skipped {
        let name = p.strip_prefix(root).unwrap_or(&p).display().to_string();
        out.extend(invalid(&name, format!("not read: {reason}")));
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

/// Label files under `dir`; symbolic links (not followed: they may leave the export or loop),
/// special files named like labels and folders too deep go to `skipped` with the reason.
fn collect_json(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    skipped: &mut Vec<(PathBuf, &'static str)>,
    depth: usize,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let p = entry.path();
        if ty.is_symlink() {
            skipped.push((p, "symbolic link (links are not followed)"));
        } else if ty.is_dir() {
            if depth >= MAX_DEPTH {
                skipped.push((p, "folder nested too deep (more than 32 levels)"));
            } else {
                collect_json(&p, out, skipped, depth + 1)?;
            }
        } else if is_label_file(&p.to_string_lossy()) {
            if ty.is_file() {
                out.push(p);
            } else {
                skipped.push((p, "not a regular file (FIFO, socket or device)"));
            }
        }
    }
    Ok(())
}
