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
    collect_json(root, &mut files, 0).map_err(|e| unreadable(root, e))?;
    files.sort();
    let total = files.len() as u64;
    let mut out = BatchOut::default();
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

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> std::io::Result<()> {
    if depth > 32 {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let p = entry.path();
        if ty.is_dir() {
            collect_json(&p, out, depth + 1)?;
        } else if ty.is_file() && is_label_file(&p.to_string_lossy()) {
            out.push(p);
        }
    }
    Ok(())
}
