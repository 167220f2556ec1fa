//! Read-only views of a parsed label for Python rules, and the merge of their findings into
//! batch rows. Built from the core's model: Python rules see exactly what native rules see.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::batch::{BatchOut, KeptLabel};
use crate::label::{Answer, Geometry, Label, Name, Object, ParentRef, Pt};

use super::types::{BatchResult, Issue, Row};

/// An optional string as Python writes it: None or a quoted string.
fn py_opt(o: Option<&str>) -> String {
    o.map_or_else(|| "None".to_owned(), |s| format!("{s:?}"))
}

fn pt_tuple<'py>(py: Python<'py>, ring: &[Pt]) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, ring.iter().map(|p| (p.x, p.y)))
}

/// Where nested content sits: the enclosing object (job, category, mid), or the
/// classification answer it is nested under (job, category; mid None).
#[pyclass(frozen, module = "kili_rules._native", name = "ParentView")]
pub struct ParentView {
    #[pyo3(get)]
    job: String,
    #[pyo3(get)]
    category: Option<String>,
    #[pyo3(get)]
    mid: Option<String>,
}

#[pymethods]
impl ParentView {
    fn __repr__(&self) -> String {
        format!(
            "ParentView(job={:?}, category={}, mid={})",
            self.job,
            py_opt(self.category.as_deref()),
            py_opt(self.mid.as_deref())
        )
    }
}

fn parent_view(py: Python<'_>, p: Option<&ParentRef>) -> PyResult<Option<Py<ParentView>>> {
    p.map(|p| {
        Py::new(
            py,
            ParentView {
                job: p.job.to_string(),
                category: p.category.as_ref().map(|c| c.to_string()),
                mid: p.mid.as_ref().map(|m| m.to_string()),
            },
        )
    })
    .transpose()
}

/// A named-entity span: character offsets (end exclusive) and the text Kili stored.
#[pyclass(frozen, module = "kili_rules._native", name = "SpanView")]
pub struct SpanView {
    #[pyo3(get)]
    begin: u64,
    #[pyo3(get)]
    end: u64,
    #[pyo3(get)]
    content: Option<String>,
}

#[pymethods]
impl SpanView {
    fn __repr__(&self) -> String {
        format!(
            "SpanView(begin={}, end={}, content={})",
            self.begin,
            self.end,
            py_opt(self.content.as_deref())
        )
    }
}

/// A relation: the mids of its start and end entities (or objects).
#[pyclass(frozen, module = "kili_rules._native", name = "RelationView")]
pub struct RelationView {
    start: Vec<Name>,
    end: Vec<Name>,
}

#[pymethods]
impl RelationView {
    #[getter]
    fn start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.start.iter().map(|m| m.as_str()))
    }
    #[getter]
    fn end<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.end.iter().map(|m| m.as_str()))
    }
    fn __repr__(&self) -> String {
        let names = |v: &[Name]| v.iter().map(|m| m.to_string()).collect::<Vec<_>>();
        format!(
            "RelationView(start={:?}, end={:?})",
            names(&self.start),
            names(&self.end)
        )
    }
}

/// One object of a label (a box, polygon, point, line, entity...), read-only.
#[pyclass(frozen, module = "kili_rules._native", name = "ObjectView")]
pub struct ObjectView {
    obj: Object,
    /// Transcription texts of the child jobs answered directly under this object.
    texts: Vec<(Name, String)>,
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
    /// The transcription texts of the child jobs answered under this object: {child job: text}
    /// (a new dict at each access).
    #[getter]
    fn texts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (job, text) in &self.texts {
            d.set_item(job.as_str(), text)?;
        }
        Ok(d)
    }
    /// The enclosing object or classification answer when this object is nested in
    /// `children`; None at the top level.
    #[getter]
    fn parent(&self, py: Python<'_>) -> PyResult<Option<Py<ParentView>>> {
        parent_view(py, self.obj.parent.as_ref())
    }
    /// Named entities: the span (`begin`, `end`, `content`); None for other objects.
    #[getter]
    fn span(&self, py: Python<'_>) -> PyResult<Option<Py<SpanView>>> {
        self.obj
            .span
            .as_ref()
            .map(|s| {
                Py::new(
                    py,
                    SpanView {
                        begin: s.begin,
                        end: s.end,
                        content: s.content.clone(),
                    },
                )
            })
            .transpose()
    }
    /// Relations: the mids at each end (`start`, `end`); None for other objects.
    #[getter]
    fn relation(&self, py: Python<'_>) -> PyResult<Option<Py<RelationView>>> {
        self.obj
            .relation
            .as_ref()
            .map(|r| {
                Py::new(
                    py,
                    RelationView {
                        start: r.start.clone(),
                        end: r.end.clone(),
                    },
                )
            })
            .transpose()
    }
    fn __repr__(&self) -> String {
        format!(
            "ObjectView(job={:?}, category={}, mid={}, shape={:?})",
            self.obj.job.as_str(),
            py_opt(self.obj.category.as_deref()),
            py_opt(self.obj.mid.as_deref()),
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
    /// A transcription's text (None for classification answers and empty texts).
    #[getter]
    fn text(&self) -> Option<&str> {
        self.ans.text.as_deref()
    }
    /// The enclosing object or classification answer when this answer is nested in
    /// `children`; None at the top level.
    #[getter]
    fn parent(&self, py: Python<'_>) -> PyResult<Option<Py<ParentView>>> {
        parent_view(py, self.ans.parent.as_ref())
    }
    fn __repr__(&self) -> String {
        format!(
            "AnswerView(job={:?}, category={})",
            self.ans.job.as_str(),
            py_opt(self.ans.category.as_deref())
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
    metadata: Vec<(Name, String)>,
}

/// Where a label came from: its ids, and its asset's metadata.
#[derive(Debug, Clone, Default)]
pub struct ViewOrigin {
    pub asset_id: Option<String>,
    pub external_id: Option<String>,
    pub label_id: Option<String>,
    pub source: Option<String>,
    pub metadata: Vec<(Name, String)>,
}

/// The transcription texts answered directly under each object, by (frame, job, mid).
type TextsByObject<'a> = HashMap<(Option<u32>, &'a str, &'a str), Vec<(Name, String)>>;

fn texts_by_object(answers: &[Answer]) -> TextsByObject<'_> {
    let mut out: TextsByObject<'_> = HashMap::new();
    for a in answers {
        let (Some(text), Some(p)) = (&a.text, &a.parent) else {
            continue;
        };
        let Some(mid) = p.mid.as_deref() else {
            continue;
        };
        let texts = out.entry((a.frame, p.job.as_str(), mid)).or_default();
        // Parts of one object (annotations sharing a mid) may each answer the child: the
        // first text of a child job is kept.
        if !texts.iter().any(|(j, _)| *j == a.job) {
            texts.push((a.job.clone(), text.clone()));
        }
    }
    out
}

impl LabelView {
    pub fn build(py: Python<'_>, label: Label, origin: ViewOrigin) -> PyResult<LabelView> {
        let ViewOrigin {
            asset_id,
            external_id,
            label_id,
            source,
            metadata,
        } = origin;
        let texts = texts_by_object(&label.answers);
        let objects = label
            .objects
            .iter()
            .map(|obj| {
                let texts = obj
                    .mid
                    .as_deref()
                    .and_then(|m| texts.get(&(obj.frame, obj.job.as_str(), m)))
                    .cloned()
                    .unwrap_or_default();
                Py::new(
                    py,
                    ObjectView {
                        obj: obj.clone(),
                        texts,
                    },
                )
            })
            .collect::<PyResult<_>>()?;
        Ok(LabelView {
            objects,
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
            metadata,
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
    /// The asset's `jsonMetadata`, scalar entries as text (a new dict at each access); empty
    /// when the input was a bare label rather than an asset record.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.metadata {
            d.set_item(k.as_str(), v)?;
        }
        Ok(d)
    }
    fn __repr__(&self) -> String {
        format!(
            "LabelView(label_id={}, objects={}, answers={})",
            py_opt(self.label_id.as_deref()),
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
            metadata: k_metadata,
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
            ViewOrigin {
                asset_id: origin.asset_id.clone(),
                external_id: origin.external_id.clone(),
                label_id: origin.label_id.clone(),
                source: origin.source.clone(),
                metadata: k_metadata,
            },
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
