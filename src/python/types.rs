//! Python classes for results: Issue, Row, BatchResult.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::batch::{BatchOut, Row as CoreRow};
use crate::rules::Issue as CoreIssue;

macro_rules! issue_fields {
    ($($extra:ident),*) => {
        fn fill_dict<'py>(&self, d: &Bound<'py, PyDict>) -> PyResult<()> {
            $(d.set_item(stringify!($extra), &self.$extra)?;)*
            d.set_item("rule", &self.rule)?;
            d.set_item("kind", &self.kind)?;
            d.set_item("severity", &self.severity)?;
            d.set_item("text", &self.text)?;
            d.set_item("mid", &self.mid)?;
            d.set_item("job", &self.job)?;
            d.set_item("category", &self.category)?;
            d.set_item("frame", self.frame)?;
            d.set_item("value", self.value)?;
            d.set_item("limit", self.limit)?;
            Ok(())
        }
    };
}

/// An optional string as Python would show it.
fn py_opt(v: &Option<String>) -> String {
    v.as_ref()
        .map_or_else(|| "None".to_owned(), |s| format!("{s:?}"))
}

/// One rule violation found in one label.
#[pyclass(frozen, get_all, eq, hash, module = "kili_rules._native")]
#[derive(Clone, PartialEq)]
pub struct Issue {
    pub rule: String,
    pub kind: &'static str,
    pub severity: &'static str,
    pub text: String,
    pub mid: Option<String>,
    pub job: Option<String>,
    pub category: Option<String>,
    pub frame: Option<u32>,
    pub value: Option<f64>,
    pub limit: Option<f64>,
}

// Floats do not hash; issues hash by their identity fields and text.
impl std::hash::Hash for Issue {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (
            &self.rule,
            &self.kind,
            &self.text,
            &self.mid,
            &self.job,
            &self.category,
            self.frame,
        )
            .hash(h);
        self.value.map(f64::to_bits).hash(h);
        self.limit.map(f64::to_bits).hash(h);
    }
}

impl Issue {
    issue_fields!();
}

impl From<CoreIssue> for Issue {
    fn from(i: CoreIssue) -> Self {
        Issue {
            rule: i.rule,
            kind: i.kind,
            severity: i.severity.as_str(),
            text: i.text,
            mid: i.mid,
            job: i.job,
            category: i.category,
            frame: i.frame,
            value: i.value,
            limit: i.limit,
        }
    }
}

#[pymethods]
impl Issue {
    /// A Python rule's finding (kind "python"), or the error a rule raised (kind
    /// "rule_error"). Used by kili_rules.python_rules; not a public constructor.
    #[staticmethod]
    #[pyo3(signature = (rule, severity, text, mid=None, job=None, category=None, frame=None, value=None, limit=None, error=false))]
    #[allow(clippy::too_many_arguments)]
    fn _finding(
        rule: String,
        severity: &str,
        text: String,
        mid: Option<String>,
        job: Option<String>,
        category: Option<String>,
        frame: Option<u32>,
        value: Option<f64>,
        limit: Option<f64>,
        error: bool,
    ) -> PyResult<Issue> {
        let severity = match severity {
            "error" => "error",
            "warning" => "warning",
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "rule '{rule}': severity must be \"error\" or \"warning\", got {other:?}"
                )))
            }
        };
        Ok(Issue {
            rule,
            kind: if error { "rule_error" } else { "python" },
            severity,
            text,
            mid,
            job,
            category,
            frame,
            value,
            limit,
        })
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        self.fill_dict(&d)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Issue(rule={:?}, severity={:?}, mid={}, text={:?})",
            self.rule,
            self.severity,
            py_opt(&self.mid),
            self.text
        )
    }
}

/// One row of a batch report: an Issue plus the asset and label it belongs to.
#[pyclass(frozen, get_all, eq, hash, module = "kili_rules._native")]
#[derive(Clone, PartialEq)]
pub struct Row {
    pub asset_id: Option<String>,
    pub external_id: Option<String>,
    pub label_id: Option<String>,
    pub source: Option<String>,
    pub author: Option<String>,
    pub created_at: Option<String>,
    pub label_type: Option<String>,
    pub asset_status: Option<String>,
    pub rule: String,
    pub kind: &'static str,
    pub severity: &'static str,
    pub text: String,
    pub mid: Option<String>,
    pub job: Option<String>,
    pub category: Option<String>,
    pub frame: Option<u32>,
    pub value: Option<f64>,
    pub limit: Option<f64>,
}

impl std::hash::Hash for Row {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (
            &self.asset_id,
            &self.label_id,
            &self.rule,
            &self.text,
            &self.mid,
            self.frame,
        )
            .hash(h);
    }
}

impl Row {
    issue_fields!(
        asset_id,
        external_id,
        label_id,
        source,
        author,
        created_at,
        label_type,
        asset_status
    );

    pub fn from_issue(i: Issue, o: crate::batch::Origin) -> Row {
        Row {
            asset_id: o.asset_id,
            external_id: o.external_id,
            label_id: o.label_id,
            source: o.source,
            author: o.author,
            created_at: o.created_at,
            label_type: o.label_type,
            asset_status: o.asset_status,
            rule: i.rule,
            kind: i.kind,
            severity: i.severity,
            text: i.text,
            mid: i.mid,
            job: i.job,
            category: i.category,
            frame: i.frame,
            value: i.value,
            limit: i.limit,
        }
    }
}

impl From<CoreRow> for Row {
    fn from(r: CoreRow) -> Self {
        Row::from_issue(Issue::from(r.issue), r.origin)
    }
}

#[pymethods]
impl Row {
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        self.fill_dict(&d)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Row(asset_id={}, label_id={}, rule={:?}, mid={}, text={:?})",
            py_opt(&self.asset_id),
            py_opt(&self.label_id),
            self.rule,
            py_opt(&self.mid),
            self.text
        )
    }
}

/// What a batch run returns: the rows and the counts.
#[pyclass(frozen, module = "kili_rules._native")]
pub struct BatchResult {
    rows: Vec<Py<Row>>,
    #[pyo3(get)]
    labels: usize,
    #[pyo3(get)]
    assets: usize,
    #[pyo3(get)]
    invalid: usize,
    /// Label records without a jsonResponse: not checked, each has an `unchecked` row.
    #[pyo3(get)]
    unchecked: usize,
    #[pyo3(get)]
    bytes_read: u64,
    jobs: Vec<String>,
}

impl BatchResult {
    pub fn from_rows(py: Python<'_>, rows: Vec<Row>, out: &BatchOut) -> PyResult<BatchResult> {
        Ok(BatchResult {
            rows: rows
                .into_iter()
                .map(|r| Py::new(py, r))
                .collect::<PyResult<_>>()?,
            labels: out.labels,
            assets: out.assets,
            invalid: out.invalid,
            unchecked: out.unchecked,
            bytes_read: out.bytes_read,
            jobs: out.jobs.iter().map(|j| j.to_string()).collect(),
        })
    }

    pub fn from_core(py: Python<'_>, out: BatchOut) -> PyResult<BatchResult> {
        let rows = out
            .rows
            .into_iter()
            .map(|r| Py::new(py, Row::from(r)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(BatchResult {
            rows,
            labels: out.labels,
            assets: out.assets,
            invalid: out.invalid,
            unchecked: out.unchecked,
            bytes_read: out.bytes_read,
            jobs: out.jobs.iter().map(|j| j.to_string()).collect(),
        })
    }
}

#[pymethods]
impl BatchResult {
    #[getter]
    fn rows(&self, py: Python<'_>) -> Vec<Py<Row>> {
        self.rows.iter().map(|r| r.clone_ref(py)).collect()
    }

    /// The jobs that appear in the labels checked.
    #[getter]
    fn jobs(&self) -> Vec<String> {
        self.jobs.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "BatchResult(rows={}, labels={}, assets={}, invalid={}, unchecked={})",
            self.rows.len(),
            self.labels,
            self.assets,
            self.invalid,
            self.unchecked
        )
    }
}
