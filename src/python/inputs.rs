//! Python objects users get from the Kili SDK that are not plain records, turned into the
//! records the reader reads.
//!
//! kili's `ParsedLabel` (`kili.labels(..., output_format="parsed_label")`, and the labels of
//! `kili.assets(..., label_output_format="parsed_label")`) is a dict subclass that holds the
//! label record *without* its `jsonResponse`: the SDK moves it into `.jobs`, parsed. Read as
//! a dict it would be a label with nothing in it; its `to_dict()` gives the record back.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// A dict subclass that keeps its jsonResponse aside, in `.jobs`, and gives it back with
/// `to_dict()` (the SDK's `ParsedLabel`). Plain dicts are told apart at the cost of a type check.
fn is_parsed_label(v: &Bound<'_, PyAny>) -> bool {
    let py = v.py();
    !v.is_exact_instance_of::<PyDict>()
        && v.is_instance_of::<PyDict>()
        && v.hasattr(intern!(py, "jobs")).unwrap_or(false)
        && v.hasattr(intern!(py, "to_dict")).unwrap_or(false)
        && !v
            .cast::<PyDict>()
            .is_ok_and(|d| d.contains(intern!(py, "jsonResponse")).unwrap_or(false))
}

/// The record to read for `v`: `v` itself, or, for a `ParsedLabel` or an asset holding
/// some, a copy with each one replaced by its `to_dict()` (the SDK's own conversion).
pub fn plain<'py>(v: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if is_parsed_label(v) {
        return v.call_method0(intern!(v.py(), "to_dict"));
    }
    let Ok(d) = v.cast::<PyDict>() else {
        return Ok(v.clone());
    };
    let py = v.py();
    let mut copy: Option<Bound<'py, PyDict>> = None;
    for key in [
        intern!(py, "latestLabel"),
        intern!(py, "labels"),
        intern!(py, "latestLabels"),
    ] {
        let Some(held) = d.get_item(key)? else {
            continue;
        };
        let replaced = if is_parsed_label(&held) {
            Some(held.call_method0(intern!(py, "to_dict"))?)
        } else if let Ok(list) = held.cast::<PyList>() {
            plain_list(list)?
        } else {
            None
        };
        if let Some(r) = replaced {
            let c = match &copy {
                Some(c) => c.clone(),
                None => {
                    let c = d.copy()?;
                    copy = Some(c.clone());
                    c
                }
            };
            c.set_item(key, r)?;
        }
    }
    Ok(copy.map_or_else(|| v.clone(), |c| c.into_any()))
}

/// A list of labels with its `ParsedLabel`s converted, or None when it holds none.
fn plain_list<'py>(list: &Bound<'py, PyList>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if !list.iter().any(|l| is_parsed_label(&l)) {
        return Ok(None);
    }
    let out = PyList::empty(list.py());
    for l in list.iter() {
        if is_parsed_label(&l) {
            out.append(l.call_method0(intern!(list.py(), "to_dict"))?)?;
        } else {
            out.append(l)?;
        }
    }
    Ok(Some(out.into_any()))
}
