//! PyO3 bindings: conversions, GIL release, error mapping. No rule logic lives here.

mod de;
mod inputs;
mod json_text;
mod reader;
mod types;
mod view;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::batch::{validate_export, ExportError};
use crate::batch::{with_threads, Input, Pipeline};
use crate::error::{LabelError as CoreLabelError, PathPart, RulesError as CoreRulesError};
use crate::label::Resolution;
use crate::ruleset::config::{parse_json, parse_toml, rules_from_value, RulesDoc};
use crate::ruleset::RuleSet;
use reader::{read_document, read_input};
use types::{BatchResult, Issue, Row};
use view::{
    merge_python_rows, AnswerView, LabelView, ObjectView, ParentView, RelationView, SpanView,
    ViewOrigin,
};

create_exception!(
    kili_rules._native,
    LabelError,
    PyValueError,
    "A label (jsonResponse) is malformed; the message names the JSON path and the reason."
);
create_exception!(
    kili_rules._native,
    RulesError,
    PyValueError,
    "A rules file or rule object is invalid; the message names the rule and the field."
);

/// A LabelError with its structure: `path` (the keys and indexes down to the bad value, a
/// tuple) and `reason`, beside the message, so no caller parses the text.
fn label_err(e: CoreLabelError) -> PyErr {
    Python::attach(|py| {
        let err = LabelError::new_err(e.to_string());
        let parts: Vec<Bound<'_, PyAny>> = e
            .parts
            .iter()
            .map(|p| match p {
                PathPart::Key(k) => PyString::new(py, k).into_any(),
                PathPart::Index(i) => i
                    .into_pyobject(py)
                    .map(Bound::into_any)
                    .unwrap_or_else(|x| match x {}),
            })
            .collect();
        let v = err.value(py);
        let set = || -> PyResult<()> {
            v.setattr("path", PyTuple::new(py, parts)?)?;
            v.setattr("reason", &e.reason)
        };
        if let Err(x) = set() {
            return x;
        }
        err
    })
}

/// A RulesError with `rule` (the rule's id, else its index; None for the file), `field`
/// (None for the whole rule) and `reason`.
fn rules_err(e: CoreRulesError) -> PyErr {
    Python::attach(|py| {
        let err = RulesError::new_err(e.to_string());
        let v = err.value(py);
        let set = || -> PyResult<()> {
            match &e {
                CoreRulesError::File(reason) => {
                    v.setattr("rule", py.None())?;
                    v.setattr("field", py.None())?;
                    v.setattr("reason", reason)
                }
                CoreRulesError::Rule {
                    index,
                    id,
                    field,
                    reason,
                } => {
                    match id {
                        Some(id) => v.setattr("rule", id)?,
                        None => v.setattr("rule", index)?,
                    }
                    v.setattr("field", field.as_deref())?;
                    v.setattr("reason", reason)
                }
            }
        };
        if let Err(x) = set() {
            return x;
        }
        err
    })
}

fn thread_err(e: String) -> PyErr {
    PyValueError::new_err(e)
}

/// One label's native issues and its view.
type LabelChecked = (Vec<Issue>, LabelView);

/// A compiled rule set.
#[pyclass(frozen, module = "kili_rules._native")]
struct Engine {
    rs: Arc<RuleSet>,
}

impl Engine {
    fn build(doc: RulesDoc) -> PyResult<Engine> {
        RuleSet::compile(doc)
            .map(|rs| Engine { rs: Arc::new(rs) })
            .map_err(rules_err)
    }

    fn resolution(
        doc_res: &Resolution,
        resolution: Option<(f64, f64)>,
        pages: Option<BTreeMap<u32, (f64, f64)>>,
    ) -> PyResult<Resolution> {
        let mut res = doc_res.clone();
        if let Some((w, h)) = resolution {
            if !(w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0) {
                return Err(PyValueError::new_err(format!(
                    "resolution must be positive (width, height), got ({w}, {h})"
                )));
            }
            res.size = Some((w, h));
        }
        if let Some(p) = pages {
            for (n, (w, h)) in p {
                if !(w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0) {
                    return Err(PyValueError::new_err(format!(
                        "page {n}: resolution must be positive (width, height), got ({w}, {h})"
                    )));
                }
                res.pages.retain(|(m, _, _)| *m != n);
                res.pages.push((n, w, h));
            }
        }
        Ok(res)
    }
}

#[pymethods]
impl Engine {
    #[staticmethod]
    fn from_dict(config: &Bound<'_, PyAny>) -> PyResult<Engine> {
        let value: serde_json::Value = pythonize::depythonize(config)
            .map_err(|e| RulesError::new_err(format!("rules: not a rules mapping: {e}")))?;
        Engine::build(rules_from_value(value).map_err(rules_err)?)
    }

    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Engine> {
        Engine::build(parse_toml(text).map_err(rules_err)?)
    }

    #[staticmethod]
    fn from_json(text: &Bound<'_, PyAny>) -> PyResult<Engine> {
        let bytes: Vec<u8> = if let Ok(s) = text.cast::<PyString>() {
            s.to_str()?.as_bytes().to_vec()
        } else if let Ok(b) = text.cast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else {
            return Err(RulesError::new_err(
                "rules file: JSON rules must be str or bytes",
            ));
        };
        Engine::build(parse_json(&bytes).map_err(rules_err)?)
    }

    #[staticmethod]
    fn json_schema() -> String {
        crate::ruleset::schema::json_schema().to_string()
    }

    /// The kinds in the registry's order, with their fields (see schema::registry_json).
    #[staticmethod]
    fn registry_json() -> String {
        crate::ruleset::schema::registry_json().to_string()
    }

    /// The rules as normalized JSON (ids filled in): what pickles and fingerprints use.
    fn config_json(&self) -> String {
        let mut doc = serde_json::json!({ "rule": self.rs.configs });
        if let (Some(actions), Some(m)) = (&self.rs.actions, doc.as_object_mut()) {
            m.insert("actions".into(), serde_json::Value::Object(actions.clone()));
        }
        doc.to_string()
    }

    /// The rules file's `actions` table as written (None when it has none).
    fn actions<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.rs
            .actions
            .as_ref()
            .map(|a| pythonize::pythonize(py, a).map_err(|e| PyValueError::new_err(e.to_string())))
            .transpose()
    }

    /// The same rules, reading geometry and handing each checked label of a batch back
    /// (for Python rules). Native-only sets never pay for this.
    fn with_label_views(&self) -> Engine {
        let mut rs = (*self.rs).clone();
        rs.keep_labels = true;
        rs.opts.geometry = true;
        Engine { rs: Arc::new(rs) }
    }

    /// Per label of the document: its native issues and a read-only view of it; and the
    /// number of objects of the document (for accuracy).
    #[pyo3(signature = (label, resolution=None, page_resolutions=None))]
    fn validate_views(
        &self,
        py: Python<'_>,
        label: &Bound<'_, PyAny>,
        resolution: Option<(f64, f64)>,
        page_resolutions: Option<BTreeMap<u32, (f64, f64)>>,
    ) -> PyResult<(Vec<LabelChecked>, usize)> {
        let doc = read_document(&inputs::plain(label)?, self.rs.opts).map_err(label_err)?;
        let res = Engine::resolution(&doc.resolution, resolution, page_resolutions)?;
        let asset_id = if doc.is_label {
            None
        } else {
            doc.id.as_ref().map(|n| n.to_string())
        };
        let external_id = doc.external_id.as_ref().map(|n| n.to_string());
        let mut out = Vec::with_capacity(doc.labels.len());
        let mut objects = 0;
        for pl in doc.labels {
            let issues = self
                .rs
                .check_asset(&pl.label, &res, &doc.metadata)
                .map_err(label_err)?;
            objects += RuleSet::object_count(&pl.label);
            let view = LabelView::build(
                py,
                pl.label,
                ViewOrigin {
                    asset_id: asset_id.clone(),
                    external_id: external_id.clone(),
                    label_id: pl.id.as_ref().map(|n| n.to_string()),
                    source: None,
                    metadata: doc.metadata.clone(),
                },
            )?;
            out.push((issues.into_iter().map(Issue::from).collect(), view));
        }
        Ok((out, objects))
    }

    /// Whether a rule measures pixels (and so needs the asset's resolution).
    #[getter]
    fn needs_resolution(&self) -> bool {
        self.rs.needs_pixels()
    }

    fn rules<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.rs
            .configs
            .iter()
            .map(|c| pythonize::pythonize(py, c).map_err(|e| PyValueError::new_err(e.to_string())))
            .collect()
    }

    #[pyo3(signature = (label, resolution=None, page_resolutions=None))]
    fn validate(
        &self,
        label: &Bound<'_, PyAny>,
        resolution: Option<(f64, f64)>,
        page_resolutions: Option<BTreeMap<u32, (f64, f64)>>,
    ) -> PyResult<Vec<Issue>> {
        Ok(self
            .validate_counted(label, resolution, page_resolutions)?
            .0)
    }

    /// The issues of a label and its number of objects (for accuracy = 1 - issues / objects).
    #[pyo3(signature = (label, resolution=None, page_resolutions=None))]
    fn validate_counted(
        &self,
        label: &Bound<'_, PyAny>,
        resolution: Option<(f64, f64)>,
        page_resolutions: Option<BTreeMap<u32, (f64, f64)>>,
    ) -> PyResult<(Vec<Issue>, usize)> {
        let doc = read_document(&inputs::plain(label)?, self.rs.opts).map_err(label_err)?;
        let res = Engine::resolution(&doc.resolution, resolution, page_resolutions)?;
        let mut issues = Vec::new();
        let mut objects = 0;
        for pl in &doc.labels {
            // Small labels: releasing the GIL would cost more than the check.
            issues.extend(
                self.rs
                    .check_asset(&pl.label, &res, &doc.metadata)
                    .map_err(label_err)?,
            );
            objects += RuleSet::object_count(&pl.label);
        }
        Ok((issues.into_iter().map(Issue::from).collect(), objects))
    }

    /// Items are read under the GIL in chunks; each chunk is then parsed (JSON text) and
    /// checked on all cores with the GIL released.
    #[pyo3(signature = (items, threads=None, progress=None, python_rules=None))]
    fn validate_many(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        threads: Option<usize>,
        progress: Option<Bound<'_, PyAny>>,
        python_rules: Option<Bound<'_, PyAny>>,
    ) -> PyResult<BatchResult> {
        const CHUNK: usize = 2048;
        let total = items.len().ok();
        let mut pipe = Pipeline::new(Arc::clone(&self.rs), threads).map_err(thread_err)?;
        let mut chunk = Vec::with_capacity(total.unwrap_or(CHUNK).min(CHUNK));
        let hand_over = |chunk: Vec<Input>, pipe: &mut Pipeline| -> PyResult<()> {
            py.detach(|| {
                pipe.submit(chunk);
                while pipe.must_wait() {
                    pipe.wait_one();
                }
            });
            if let Some(cb) = &progress {
                cb.call1((pipe.items(), total))?;
            }
            Ok(())
        };
        for it in items.try_iter()? {
            let input = read_input(&inputs::plain(&it?)?, self.rs.opts);
            chunk.push(input);
            if chunk.len() >= CHUNK {
                hand_over(
                    std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)),
                    &mut pipe,
                )?;
            }
        }
        if !chunk.is_empty() {
            hand_over(chunk, &mut pipe)?;
        }
        let out = py.detach(|| pipe.finish());
        merge_python_rows(py, out, python_rules.as_ref())
    }

    #[pyo3(signature = (docs, threads=None, python_rules=None))]
    fn validate_json_many(
        &self,
        py: Python<'_>,
        docs: &Bound<'_, PyAny>,
        threads: Option<usize>,
        python_rules: Option<Bound<'_, PyAny>>,
    ) -> PyResult<BatchResult> {
        self.validate_many(py, docs, threads, None, python_rules)
    }

    #[pyo3(signature = (path, threads=None, progress=None, python_rules=None))]
    fn validate_export(
        &self,
        py: Python<'_>,
        path: PathBuf,
        threads: Option<usize>,
        progress: Option<Py<PyAny>>,
        python_rules: Option<Bound<'_, PyAny>>,
    ) -> PyResult<BatchResult> {
        let rs = &self.rs;
        let report = |done: u64, total: u64| {
            if let Some(cb) = &progress {
                Python::attach(|py| {
                    if let Err(e) = cb.call1(py, (done, total)) {
                        e.write_unraisable(py, None);
                    }
                });
            }
        };
        let out = py
            .detach(|| with_threads(threads, || validate_export(rs, &path, &report)))
            .map_err(thread_err)?
            .map_err(|e| match e {
                ExportError::Unreadable { .. } => PyOSError::new_err(e.to_string()),
            })?;
        merge_python_rows(py, out, python_rules.as_ref())
    }

    /// Problems of the rules against a project's jsonInterface, as readable lines.
    fn lint(&self, json_interface: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let value: serde_json::Value = if let Ok(s) = json_interface.cast::<PyString>() {
            serde_json::from_str(s.to_str()?)
                .map_err(|e| PyValueError::new_err(format!("jsonInterface: {e}")))?
        } else {
            pythonize::depythonize(json_interface)
                .map_err(|e| PyValueError::new_err(format!("jsonInterface: {e}")))?
        };
        Ok(crate::ruleset::lint::lint(&self.rs, &value))
    }
}

/// The model a reader builds, as debug text: tests check that both readers agree.
#[pyfunction]
fn _read_model(py: Python<'_>, label: &Bound<'_, PyAny>, via_json: bool) -> PyResult<String> {
    let opts = crate::label::ReadOpts::default();
    let doc = if via_json {
        let b: Vec<u8> = if let Ok(s) = label.cast::<PyString>() {
            s.to_str()?.as_bytes().to_vec()
        } else {
            label.cast::<PyBytes>()?.as_bytes().to_vec()
        };
        py.detach(|| crate::label::read::parse_document(&b, opts))
    } else {
        read_document(label, opts)
    }
    .map_err(label_err)?;
    Ok(format!("{doc:?}"))
}

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The kinds of the rows the core makes itself, defined once (crate::batch) for both languages.
    m.add("INVALID_KIND", crate::batch::INVALID_KIND)?;
    m.add("UNCHECKED_KIND", crate::batch::UNCHECKED_KIND)?;
    m.add("LabelError", m.py().get_type::<LabelError>())?;
    m.add("RulesError", m.py().get_type::<RulesError>())?;
    m.add_class::<Engine>()?;
    m.add_class::<Issue>()?;
    m.add_class::<Row>()?;
    m.add_class::<BatchResult>()?;
    m.add_class::<LabelView>()?;
    m.add_class::<ObjectView>()?;
    m.add_class::<AnswerView>()?;
    m.add_class::<ParentView>()?;
    m.add_class::<SpanView>()?;
    m.add_class::<RelationView>()?;
    m.add_function(wrap_pyfunction!(_read_model, m)?)?;
    Ok(())
}
