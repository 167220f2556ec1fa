//! Read-only views of a parsed label for Python rules, and the merge of their findings into
//! batch rows. Built from the core's model: Python rules see exactly what native rules see.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::batch::{BatchOut, KeptLabel};
use crate::label::{Answer, Geometry, Label, Object, Pt};

use super::types::{BatchResult, Issue, Row};

fn pt_tuple<'py>(py: Python<'py>, ring: &[Pt]) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, ring.iter().map(|p| (p.x, p.y)))
}

/// One object of a label (a box, polygon, point, line, entity...), read-only.
#[pyclass(frozen, module = "kili_rules._native", name = "ObjectView")]
pub struct ObjectView {
    obj: Object,
}

#[pymethods]
impl ObjectView {
    #[getter]
    fn job(&self) -> &str {
        &self.obj.job
    }
    #[getter]
    fn category(&self) -> Option<&str> {
        self.obj.category.as_deref()
    }
    #[getter]
    fn mid(&self) -> Option<&str> {
        self.obj.mid.as_deref()
    }
    #[getter]
    fn frame(&self) -> Option<u32> {
        self.obj.frame
    }
    /// Child jobs answered under this object, by name.
    #[getter]
    fn children<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.obj.children.iter().map(|c| c.as_str()))
    }
    /// "polygon" (rectangles, polygons, masks), "point", "line" or "none" (no geometry).
    #[getter]
    fn shape(&self) -> &'static str {
        match self.obj.geometry {
            Geometry::None => "none",
            Geometry::Point(_) => "point",
            Geometry::Line(_) => "line",
            Geometry::Parts(_) => "polygon",
        }
    }
    /// Polygon parts (annotations sharing the mid): each a tuple of rings, the outer contour
    /// first, then its holes; a ring is a tuple of (x, y), open as Kili stores it.
    #[getter]
    fn parts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match &self.obj.geometry {
            Geometry::Parts(parts) => PyTuple::new(
                py,
                parts
                    .iter()
                    .map(|p| PyTuple::new(py, p.rings.iter().map(|r| pt_tuple(py, r).ok())))
                    .collect::<PyResult<Vec<_>>>()?,
            ),
            _ => Ok(PyTuple::empty(py)),
        }
    }
    /// Every ring of the object in order (outer then holes, part after part); a line is one
    /// ring, a point a ring of one vertex.
    #[getter]
    fn rings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let rings: Vec<Bound<'py, PyTuple>> = match &self.obj.geometry {
            Geometry::None => Vec::new(),
            Geometry::Point(p) => vec![pt_tuple(py, std::slice::from_ref(p))?],
            Geometry::Line(l) => vec![pt_tuple(py, l)?],
            Geometry::Parts(parts) => parts
                .iter()
                .flat_map(|p| p.rings.iter())
                .map(|r| pt_tuple(py, r))
                .collect::<PyResult<_>>()?,
        };
        PyTuple::new(py, rings)
    }
    /// PDF page numbers of the parts (None where the label has no pages).
    #[getter]
    fn pages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match &self.obj.geometry {
            Geometry::Parts(parts) => PyTuple::new(py, parts.iter().map(|p| p.page)),
            _ => Ok(PyTuple::empty(py)),
        }
    }
    fn __repr__(&self) -> String {
        format!(
            "ObjectView(job={:?}, category={:?}, mid={:?}, shape={:?})",
            self.obj.job.as_str(),
            self.obj.category.as_deref(),
            self.obj.mid.as_deref(),
            self.shape()
        )
    }
}

/// One answer of a classification (one per chosen category) or another non-object job.
#[pyclass(frozen, module = "kili_rules._native", name = "AnswerView")]
pub struct AnswerView {
    ans: Answer,
}

#[pymethods]
impl AnswerView {
    #[getter]
    fn job(&self) -> &str {
        &self.ans.job
    }
    #[getter]
    fn category(&self) -> Option<&str> {
        self.ans.category.as_deref()
    }
    #[getter]
    fn frame(&self) -> Option<u32> {
        self.ans.frame
    }
    #[getter]
    fn children<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.ans.children.iter().map(|c| c.as_str()))
    }
    fn __repr__(&self) -> String {
        format!(
            "AnswerView(job={:?}, category={:?})",
            self.ans.job.as_str(),
            self.ans.category.as_deref()
        )
    }
}

/// A parsed label, read-only: what a Python rule receives.
#[pyclass(frozen, module = "kili_rules._native", name = "LabelView")]
pub struct LabelView {
    objects: Vec<Py<ObjectView>>,
    answers: Vec<Py<AnswerView>>,
    frames: Vec<u32>,
    #[pyo3(get)]
    asset_id: Option<String>,
    #[pyo3(get)]
    external_id: Option<String>,
    #[pyo3(get)]
    label_id: Option<String>,
    /// The file (or zip member) the label came from, in batch runs over exports.
    #[pyo3(get)]
    source: Option<String>,
}

impl LabelView {
    pub fn build(
        py: Python<'_>,
        label: Label,
        asset_id: Option<String>,
        external_id: Option<String>,
        label_id: Option<String>,
        source: Option<String>,
    ) -> PyResult<LabelView> {
        Ok(LabelView {
            objects: label
                .objects
                .into_iter()
                .map(|obj| Py::new(py, ObjectView { obj }))
                .collect::<PyResult<_>>()?,
            answers: label
                .answers
                .into_iter()
                .map(|ans| Py::new(py, AnswerView { ans }))
                .collect::<PyResult<_>>()?,
            frames: label.frames,
            asset_id,
            external_id,
            label_id,
            source,
        })
    }
}

#[pymethods]
impl LabelView {
    #[getter]
    fn objects<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.objects.iter().map(|o| o.clone_ref(py)))
    }
    #[getter]
    fn answers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.answers.iter().map(|o| o.clone_ref(py)))
    }
    /// Video frames present in the label (empty outside video).
    #[getter]
    fn frames<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.frames)
    }
    fn __repr__(&self) -> String {
        format!(
            "LabelView(label_id={:?}, objects={}, answers={})",
            self.label_id,
            self.objects.len(),
            self.answers.len()
        )
    }
}

/// Batch rows with the Python rules' rows of each kept label right after its native rows.
/// `check` gets a LabelView and returns a list of Issue (it turns rule exceptions into
/// `rule_error` issues itself).
pub fn merge_python_rows(
    py: Python<'_>,
    mut out: BatchOut,
    check: Option<&Bound<'_, PyAny>>,
) -> PyResult<BatchResult> {
    let Some(check) = check else {
        return BatchResult::from_core(py, out);
    };
    let kept = std::mem::take(&mut out.kept);
    let mut native = std::mem::take(&mut out.rows).into_iter();
    let mut rows: Vec<Row> = Vec::with_capacity(native.len());
    let mut done = 0;
    for k in kept {
        let KeptLabel {
            origin,
            label,
            rows_end,
        } = k;
        rows.extend(
            native
                .by_ref()
                .take(rows_end.saturating_sub(done))
                .map(Row::from),
        );
        done = done.max(rows_end);
        let view = LabelView::build(
            py,
            label,
            origin.asset_id.clone(),
            origin.external_id.clone(),
            origin.label_id.clone(),
            origin.source.clone(),
        )?;
        let found = check.call1((view,))?;
        for item in found.try_iter()? {
            let item = item?;
            let issue: Issue = item.cast::<Issue>()?.get().clone();
            rows.push(Row::from_issue(issue, origin.clone()));
        }
    }
    rows.extend(native.map(Row::from));
    BatchResult::from_rows(py, rows, &out)
}
