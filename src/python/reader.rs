//! Reading Python objects: a label dict (or asset record, or bare jsonResponse) is read by the
//! one reader of the Kili format (`label::read`'s seeds) through the Deserializer over Python
//! objects (`de.rs`), so a dict and its JSON text give the same model, issues and errors.
//!
//! When a dict cannot be read, `json_text` first names what JSON cannot say in it.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyString};
use pyo3::Borrowed;

use serde::de::DeserializeSeed;

use super::de::{Deferred, Held, PyDe, State};
use super::json_text::{to_json, type_name};
use crate::batch::{Failed, Ids, Input};
use crate::error::LabelError;
use crate::label::read::{parse_document, read_entry_from, read_label_from, DocSeed, Source};
use crate::label::{Document, Label, LabelField, ParsedLabel, ReadOpts};

fn failed(err: LabelError) -> Failed {
    Failed {
        err,
        ids: Ids::default(),
    }
}

/// The ids a dict still shows when it has no JSON text (as `json::peek_ids` tells them from
/// text: its `id` is the label's when it has `jsonResponse`).
fn dict_ids(d: &Bound<'_, PyDict>) -> Ids {
    let get = |k: &str| {
        let v = d.get_item(k).ok().flatten()?;
        if let Ok(s) = v.cast::<PyString>() {
            return s.to_str().ok().map(str::to_owned);
        }
        if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
            return v.extract::<i64>().ok().map(|i| i.to_string());
        }
        None
    };
    let id = get("id");
    let external_id = get("externalId");
    Ids::of(id, external_id, d.contains("jsonResponse").unwrap_or(false))
}

/// Set-aside values of a Python document: references into it.
struct PySource<'py> {
    py: Python<'py>,
    root: *mut pyo3::ffi::PyObject,
}

impl<'de> Source<'de> for PySource<'_> {
    type Deferred = Deferred;
    type Held = Held;
    fn read_label(
        &self,
        held: &Held,
        field: LabelField,
        opts: ReadOpts,
    ) -> Result<Option<ParsedLabel>, LabelError> {
        // SAFETY: as in `read_entry`.
        let obj = unsafe { Borrowed::from_ptr(self.py, held.0) };
        // A reader of its own, counting from the label (the record stays an ancestor, for the
        // cycle check); a failure is named as `read_dict` names it, from the label.
        let (fast, slow) = (State::new(&[self.root]), State::new(&[self.root]));
        read_label_from(PyDe::new(obj, &fast), PyDe::new(obj, &slow), field, opts).map_err(|e| {
            match to_json(&obj.to_owned(), 256) {
                Err(not_json) => not_json,
                Ok(_) => e,
            }
        })
    }
    fn read_entry(
        &self,
        label: &mut Label,
        name: &str,
        value: &Deferred,
        opts: ReadOpts,
    ) -> Result<(), LabelError> {
        // SAFETY: the pointer was taken from the document being read, which holds it alive
        // and cannot change while it is read (no Python code runs).
        let obj = unsafe { Borrowed::from_ptr(self.py, value.0) };
        let (fast, slow) = (State::new(&[self.root]), State::new(&[self.root]));
        read_entry_from(
            label,
            name,
            PyDe::new(obj, &fast),
            PyDe::new(obj, &slow),
            opts,
        )
    }
}

/// Read a dict (a label, an asset record or a bare jsonResponse).
pub fn read_dict(d: &Bound<'_, PyDict>, opts: ReadOpts) -> Result<Document, LabelError> {
    let obj = d.as_any().as_borrowed();
    let src = PySource {
        py: d.py(),
        root: d.as_ptr(),
    };
    let st = State::new(&[]);
    match (DocSeed { opts, src: &src }).deserialize(PyDe::new(obj, &st)) {
        Ok(mut doc) => match doc.error.take() {
            Some(e) => Err(e),
            None => Ok(doc),
        },
        Err(_) => Err(locate(d, opts, &src)),
    }
}

/// Where and why a dict could not be read: first what JSON cannot say (as the encoder names
/// it), else the reader's error on the path `serde_path_to_error` tracked.
fn locate(d: &Bound<'_, PyDict>, opts: ReadOpts, src: &PySource<'_>) -> LabelError {
    if let Err(e) = to_json(d.as_any(), 256) {
        return e;
    }
    let st = State::new(&[]);
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(
        PyDe::new(d.as_any().as_borrowed(), &st),
        &mut track,
    );
    match (DocSeed { opts, src }).deserialize(de) {
        Ok(mut doc) => doc
            .error
            .take()
            .unwrap_or_else(|| LabelError::new("", "the document could not be read")),
        Err(e) => LabelError::from_json(&track.path(), &e),
    }
}

/// The ids of a dict that could not be read: as the JSON text's would be told, when it has
/// one; else as far as its keys show them.
fn failed_ids(d: &Bound<'_, PyDict>) -> Ids {
    if to_json(d.as_any(), 256).is_err() {
        return dict_ids(d);
    }
    let st = State::new(&[]);
    crate::batch::peek_ids_from(PyDe::new(d.as_any().as_borrowed(), &st)).unwrap_or_default()
}

/// One input item: JSON text (str, bytes) as it is, parsed later (on a worker thread, in a
/// batch); a dict read now, with the GIL held, as it must be.
pub fn read_input(v: &Bound<'_, PyAny>, opts: ReadOpts) -> Input {
    if let Ok(d) = v.cast::<PyDict>() {
        return Input::Doc(read_dict(d, opts).map_err(|err| Failed {
            err,
            ids: failed_ids(d),
        }));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return match s.to_str() {
            Ok(s) => Input::Json(s.as_bytes().to_vec()),
            Err(_) => Input::Doc(Err(failed(LabelError::new(
                "",
                "the string is not valid UTF-8",
            )))),
        };
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Input::Json(b.as_bytes().to_vec());
    }
    if let Ok(b) = v.cast::<PyByteArray>() {
        return Input::Json(b.to_vec());
    }
    Input::Doc(Err(failed(LabelError::new(
        "",
        format!(
            "expected a label dict, a jsonResponse dict, or JSON str/bytes; got {}",
            type_name(v)
        ),
    ))))
}

/// Read one input object: a label dict, an asset record or a bare jsonResponse (dict), or
/// JSON text of one of them.
pub fn read_document(v: &Bound<'_, PyAny>, opts: ReadOpts) -> Result<Document, LabelError> {
    // Big texts are parsed with the GIL released; small ones are not worth the switch.
    const DETACH_BYTES: usize = 1 << 16;
    match read_input(v, opts) {
        Input::Json(b) if b.len() >= DETACH_BYTES => v.py().detach(|| parse_document(&b, opts)),
        input => input.resolve(opts).map_err(|f| f.err),
    }
}
