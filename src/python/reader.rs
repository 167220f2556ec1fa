//! Reader from Python objects: a hand-written walk over dicts and lists with interned keys
//! (pythonize was measured 4-5x slower than a plain Python loop on label dicts).
//! It builds the same model as the JSON reader, field for field.
//!
//! Errors carry the path as segments appended while unwinding, so the success path pays
//! nothing for them.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};

use smallvec::{smallvec, SmallVec};

use crate::batch::{Failed, Ids, Input};
use crate::error::LabelError;
use crate::label::json::{float_text, make_span, parse_json_response, pick_geometry};
use crate::label::LabelField;
use crate::label::{
    frame_index, is_ignored_job, Answer, Document, Label, LabelInfo, Name, Object, ParentRef,
    ParsedLabel, Part, Pt, ReadOpts, Relation, Resolution, Ring,
};

/// Children nest jobs in objects in jobs...; real labels go a few levels deep.
const MAX_DEPTH: usize = 64;

enum Seg {
    Key(String),
    Index(usize),
}

struct PErrInner {
    segs: Vec<Seg>,
    reason: String,
}

/// Boxed, so that every `R<T>` on the hot path stays small.
struct PErr(Box<PErrInner>);

type R<T> = Result<T, PErr>;

fn fail<T>(reason: impl Into<String>) -> R<T> {
    Err(PErr(Box::new(PErrInner {
        segs: Vec::new(),
        reason: reason.into(),
    })))
}

trait At<T> {
    fn key(self, k: &str) -> R<T>;
    fn index(self, i: usize) -> R<T>;
}

impl<T> At<T> for R<T> {
    fn key(self, k: &str) -> R<T> {
        self.map_err(|mut e| {
            e.0.segs.push(Seg::Key(k.to_owned()));
            e
        })
    }
    fn index(self, i: usize) -> R<T> {
        self.map_err(|mut e| {
            e.0.segs.push(Seg::Index(i));
            e
        })
    }
}

impl PErr {
    fn into_label_error(self, prefix: &str) -> LabelError {
        let mut path = prefix.to_owned();
        for s in self.0.segs.iter().rev() {
            match s {
                Seg::Key(k) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                }
                Seg::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        LabelError::new(&path, self.0.reason)
    }
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

// Exact types first: a pointer compare, where the subclass check is a call under abi3.
fn as_dict<'a, 'py>(v: &'a Bound<'py, PyAny>, what: &str) -> R<&'a Bound<'py, PyDict>> {
    if let Ok(d) = v.cast_exact::<PyDict>() {
        return Ok(d);
    }
    v.cast::<PyDict>()
        .or_else(|_| fail(format!("expected {what} (a dict), got {}", type_name(v))))
}

/// The items of a list or tuple, iterated in place (no copy, no extra refcount traffic).
enum Items<'py> {
    List(pyo3::types::list::BoundListIterator<'py>),
    Tuple(pyo3::types::tuple::BoundTupleIterator<'py>),
}

impl<'py> Iterator for Items<'py> {
    type Item = Bound<'py, PyAny>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Items::List(i) => i.next(),
            Items::Tuple(i) => i.next(),
        }
    }
}

fn as_list<'py>(v: &Bound<'py, PyAny>, what: &str) -> R<Items<'py>> {
    if let Ok(l) = v.cast_exact::<PyList>() {
        return Ok(Items::List(l.iter()));
    }
    if let Ok(l) = v.cast::<PyList>() {
        return Ok(Items::List(l.iter()));
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        return Ok(Items::Tuple(t.iter()));
    }
    fail(format!("expected {what} (a list), got {}", type_name(v)))
}

fn is_list(v: &Bound<'_, PyAny>) -> bool {
    v.is_exact_instance_of::<PyList>()
        || v.is_instance_of::<PyList>()
        || v.is_instance_of::<PyTuple>()
}

/// Whether a list's first item is itself a list (nested vertices).
fn first_is_list(v: &Bound<'_, PyAny>) -> bool {
    let first = if let Ok(l) = v.cast::<PyList>() {
        l.get_item(0).ok()
    } else if let Ok(t) = v.cast::<PyTuple>() {
        t.get_item(0).ok()
    } else {
        None
    };
    first.is_some_and(|f| is_list(&f))
}

fn list_len(v: &Bound<'_, PyAny>) -> usize {
    if is_list(v) {
        v.len().unwrap_or(0)
    } else {
        0
    }
}

/// A dict key as a string object; its `&str` is borrowed, not copied.
fn key_of<'py>(k: Bound<'py, PyAny>) -> R<Bound<'py, PyString>> {
    match k.cast_into::<PyString>() {
        Ok(s) => Ok(s),
        Err(e) => fail(format!(
            "expected string keys, got a {} key",
            type_name(e.into_inner().as_any())
        )),
    }
}

fn key_text<'a>(k: &'a Bound<'_, PyString>) -> R<&'a str> {
    k.to_str().or_else(|_| fail("a key is not valid UTF-8"))
}

fn num(v: &Bound<'_, PyAny>) -> R<f64> {
    // Exact floats first: nearly every coordinate is one.
    let x = if let Ok(f) = v.cast_exact::<PyFloat>() {
        f.value()
    } else if v.is_instance_of::<PyBool>() {
        return fail("expected a finite number, got bool");
    } else if v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>() {
        v.extract().or_else(|_| fail("number out of range"))?
    } else {
        return fail(format!("expected a finite number, got {}", type_name(v)));
    };
    if x.is_finite() {
        Ok(x)
    } else {
        fail(format!("expected a finite number, got {x}"))
    }
}

fn loose_id(v: &Bound<'_, PyAny>) -> R<Option<Name>> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(s) = v.cast::<PyString>() {
        return s
            .to_str()
            .map(|s| Some(Name::new(s)))
            .or_else(|_| fail("not valid UTF-8"));
    }
    if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Some(Name::new(i.to_string())));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Some(Name::new(u.to_string())));
        }
        // Beyond 64 bits: as the JSON reader sees it (a float), so both readers agree.
        return match v.extract::<f64>() {
            Ok(f) if f.is_finite() => Ok(Some(Name::new(format!("{f}")))),
            _ => fail("integer id out of range"),
        };
    }
    fail(format!(
        "expected a string, an integer or null, got {}",
        type_name(v)
    ))
}

fn opt_str(v: &Bound<'_, PyAny>) -> R<Option<Name>> {
    if v.is_none() {
        return Ok(None);
    }
    match v.cast::<PyString>() {
        Ok(s) => s
            .to_str()
            .map(|s| Some(Name::new(s)))
            .or_else(|_| fail("not valid UTF-8")),
        Err(_) => fail(format!("expected a string, got {}", type_name(v))),
    }
}

fn pt(v: &Bound<'_, PyAny>) -> R<Pt> {
    let d = as_dict(v, "a vertex {x, y}")?;
    let py = v.py();
    let x = coordinate(d, intern!(py, "x")).key("x")?;
    let y = coordinate(d, intern!(py, "y")).key("y")?;
    match (x, y) {
        (Some(x), Some(y)) => Ok(Pt { x, y }),
        (None, _) => fail("missing field `x`"),
        (_, None) => fail("missing field `y`"),
    }
}

/// One coordinate of a vertex dict. The hot path of the reader: under abi3 every refcount
/// change is a function call, so an exact float is read through a borrowed reference.
fn coordinate(d: &Bound<'_, PyDict>, key: &Bound<'_, PyString>) -> R<Option<f64>> {
    // SAFETY: `d` and `key` are live objects and we hold the GIL. The borrowed result is used
    // only before any Python code can run (reading an exact float runs none); anything else is
    // turned into an owned reference first.
    unsafe {
        let p = pyo3::ffi::PyDict_GetItemWithError(d.as_ptr(), key.as_ptr());
        if p.is_null() {
            if !pyo3::ffi::PyErr_Occurred().is_null() {
                pyo3::ffi::PyErr_Clear();
            }
            return Ok(None);
        }
        if pyo3::ffi::Py_TYPE(p) == std::ptr::addr_of_mut!(pyo3::ffi::PyFloat_Type) {
            let x = pyo3::ffi::PyFloat_AsDouble(p);
            return if x.is_finite() {
                Ok(Some(x))
            } else {
                fail(format!("expected a finite number, got {x}"))
            };
        }
        let owned = Bound::from_borrowed_ptr(d.py(), p);
        num(&owned).map(Some)
    }
}

fn ring(v: &Bound<'_, PyAny>) -> R<Ring> {
    let mut out = Vec::with_capacity(list_len(v));
    for (i, p) in as_list(v, "a list of vertices")?.enumerate() {
        out.push(pt(&p).index(i)?);
    }
    Ok(out)
}

/// `normalizedVertices`: flat vertices, or (PDF) a list of rings; says which it was.
fn vertices(v: &Bound<'_, PyAny>) -> R<(SmallVec<[Ring; 1]>, bool)> {
    if first_is_list(v) {
        let mut rings = SmallVec::new();
        for (i, r) in as_list(v, "a list of vertices")?.enumerate() {
            rings.push(ring(&r).index(i)?);
        }
        Ok((rings, true))
    } else {
        Ok((smallvec![ring(v)?], false))
    }
}

/// `{normalizedVertices}` → (rings, whether they were nested).
fn ring_obj(v: &Bound<'_, PyAny>) -> R<(SmallVec<[Ring; 1]>, bool)> {
    let d = as_dict(v, "an object with normalizedVertices")?;
    match d
        .get_item(intern!(v.py(), "normalizedVertices"))
        .ok()
        .flatten()
    {
        Some(nv) => vertices(&nv).key("normalizedVertices"),
        None => Ok((SmallVec::new(), false)),
    }
}

/// `boundingPoly`, flat or hierarchical (see the JSON reader for the conventions).
fn bounding_poly(v: &Bound<'_, PyAny>, pages: &[u32]) -> R<Vec<Part>> {
    if v.is_none() {
        return Ok(Vec::new());
    }
    let mut parts = Vec::new();
    let mut flat = Part::default();
    for (i, e) in as_list(v, "a list (boundingPoly)")?.enumerate() {
        let page = pages.get(i).copied();
        if is_list(&e) {
            let mut part = Part {
                rings: SmallVec::new(),
                page,
            };
            for (j, r) in as_list(&e, "a list of ring objects").index(i)?.enumerate() {
                let (rs, _) = ring_obj(&r).index(j).index(i)?;
                part.rings.extend(rs);
            }
            if !part.rings.is_empty() {
                parts.push(part);
            }
        } else {
            let (rs, nested) = ring_obj(&e).index(i)?;
            if nested || page.is_some() {
                parts.extend(rs.into_iter().map(|r| Part {
                    rings: smallvec![r],
                    page,
                }));
            } else {
                flat.rings.extend(rs);
            }
        }
    }
    if !flat.rings.is_empty() {
        parts.insert(0, flat);
    }
    Ok(parts)
}

fn pdf_layers(v: &Bound<'_, PyAny>) -> R<Vec<Part>> {
    if v.is_none() {
        return Ok(Vec::new());
    }
    let py = v.py();
    let mut parts = Vec::new();
    for (i, layer) in as_list(v, "a list of PDF annotation layers")?.enumerate() {
        let d = as_dict(&layer, "a PDF annotation layer").index(i)?;
        let mut pages: Vec<u32> = match d.get_item(intern!(py, "pageNumberArray")).ok().flatten() {
            Some(p) if !p.is_none() => p
                .extract()
                .or_else(|_| fail("expected a list of page numbers"))
                .key("pageNumberArray")
                .index(i)?,
            _ => Vec::new(),
        };
        if let Some(bp) = d.get_item(intern!(py, "boundingPoly")).ok().flatten() {
            if pages.is_empty() {
                pages = vec![1; list_len(&bp)];
            }
            parts.extend(bounding_poly(&bp, &pages).key("boundingPoly").index(i)?);
        }
    }
    Ok(parts)
}

struct Reader {
    opts: ReadOpts,
}

impl Reader {
    /// A whole jsonResponse into `label`.
    fn response(
        &self,
        v: &Bound<'_, PyAny>,
        label: &mut Label,
        frame: Option<u32>,
        depth: usize,
    ) -> R<()> {
        if v.is_none() {
            return Ok(());
        }
        let d = as_dict(v, "a jsonResponse object keyed by job name")?;
        for (k, val) in d.iter() {
            let ks = key_of(k)?;
            let name = key_text(&ks)?;
            self.entry(name, &val, label, frame, depth).key(name)?;
        }
        Ok(())
    }

    fn entry(
        &self,
        name: &str,
        v: &Bound<'_, PyAny>,
        label: &mut Label,
        frame: Option<u32>,
        depth: usize,
    ) -> R<()> {
        if is_ignored_job(name) {
            return Ok(());
        }
        if frame.is_none() {
            if let Some(n) = frame_index(name) {
                label.frames.push(n);
                return self.response(v, label, Some(n), depth);
            }
            if name == "assetLevel" {
                label.asset_level = true;
                return self.response(v, label, None, depth);
            }
        }
        self.job(name, v, label, frame, depth).map(|_| ())
    }

    /// A job's payload; returns whether it holds an answer.
    fn job(
        &self,
        job: &str,
        v: &Bound<'_, PyAny>,
        label: &mut Label,
        frame: Option<u32>,
        depth: usize,
    ) -> R<bool> {
        if depth > MAX_DEPTH {
            return fail(format!("children nested deeper than {MAX_DEPTH} levels"));
        }
        if v.is_none() {
            return Ok(false);
        }
        let d = as_dict(v, "a job object")?;
        let mut answered = false;
        let first_answer = label.answers.len();
        let mut job_children = Vec::new();
        for (k, val) in d.iter() {
            let ks = key_of(k)?;
            let key = key_text(&ks)?;
            match key {
                "annotations" => {
                    if val.is_none() {
                        continue;
                    }
                    let items = as_list(&val, "a list of annotations").key(key)?;
                    for (i, a) in items.enumerate() {
                        let obj = self
                            .annotation(job, &a, label, frame, depth)
                            .index(i)
                            .key(key)?;
                        label.objects.push(obj);
                        answered = true;
                    }
                }
                "categories" => {
                    if val.is_none() {
                        continue;
                    }
                    let items = as_list(&val, "a list of categories").key(key)?;
                    for (i, c) in items.enumerate() {
                        let mark = label.mark();
                        let (name, children) =
                            self.category(&c, label, frame, depth).index(i).key(key)?;
                        label.adopt(mark, || ParentRef {
                            job: Name::new(job),
                            category: name.clone(),
                            mid: None,
                        });
                        label.answers.push(Answer {
                            job: Name::new(job),
                            category: name,
                            frame,
                            children,
                            ..Answer::default()
                        });
                        answered = true;
                    }
                }
                "children" => {
                    let mark = label.mark();
                    job_children = self.children(&val, label, frame, depth).key(key)?;
                    label.adopt(mark, || ParentRef {
                        job: Name::new(job),
                        ..ParentRef::default()
                    });
                }
                "text" => {
                    if let Some(t) = opt_str(&val).key(key)?.filter(|t| !t.is_empty()) {
                        label.answers.push(Answer {
                            text: Some(t.to_string()),
                            ..Answer::plain(job, frame)
                        });
                        answered = true;
                    }
                }
                // A comparison / ranking / file payload.
                "choice" | "orders" | "fileId" if !val.is_none() => {
                    label.answers.push(Answer::plain(job, frame));
                    answered = true;
                }
                _ => {}
            }
        }
        if !job_children.is_empty() {
            for a in label
                .answers
                .iter_mut()
                .skip(first_answer)
                .filter(|a| a.job == job)
            {
                a.children.extend(job_children.iter().cloned());
            }
        }
        Ok(answered)
    }

    fn children(
        &self,
        v: &Bound<'_, PyAny>,
        label: &mut Label,
        frame: Option<u32>,
        depth: usize,
    ) -> R<Vec<Name>> {
        if v.is_none() {
            return Ok(Vec::new());
        }
        if let Ok(l) = v.cast::<PyList>() {
            if l.is_empty() {
                return Ok(Vec::new());
            }
            return fail("expected an object keyed by child job name");
        }
        let d = as_dict(v, "a children object keyed by job name")?;
        let mut answered = Vec::new();
        for (k, val) in d.iter() {
            let ks = key_of(k)?;
            let name = key_text(&ks)?;
            if is_ignored_job(name) {
                continue;
            }
            if self.job(name, &val, label, frame, depth + 1).key(name)? {
                answered.push(Name::new(name));
            }
        }
        Ok(answered)
    }

    fn category(
        &self,
        v: &Bound<'_, PyAny>,
        label: &mut Label,
        frame: Option<u32>,
        depth: usize,
    ) -> R<(Option<Name>, Vec<Name>)> {
        let d = as_dict(v, "a category object {name: ...}")?;
        let py = v.py();
        let name = match d.get_item(intern!(py, "name")).ok().flatten() {
            Some(n) => loose_id(&n).key("name")?,
            None => None,
        };
        let children = match d.get_item(intern!(py, "children")).ok().flatten() {
            Some(c) => self.children(&c, label, frame, depth).key("children")?,
            None => Vec::new(),
        };
        Ok((name, children))
    }

    fn annotation<'py>(
        &self,
        job: &str,
        v: &Bound<'py, PyAny>,
        label: &mut Label,
        frame: Option<u32>,
        depth: usize,
    ) -> R<Object> {
        let d = as_dict(v, "an annotation object")?;
        let mut obj = Object {
            job: Name::new(job),
            frame,
            ..Object::default()
        };
        // Look up the keys the model reads rather than walking every key: annotations carry
        // several keys no rule needs (`type`, `score`, `jobName`, pixel copies...).
        let py = v.py();
        let get = |k: &Bound<'py, PyString>| d.get_item(k).ok().flatten().filter(|x| !x.is_none());
        let (mut parts, mut point, mut line, mut pose) = (None::<Vec<Part>>, None, None, None);
        let mark = label.mark();
        if let Some(val) = get(intern!(py, "mid")) {
            obj.mid = loose_id(&val).key("mid")?;
        }
        let offset = |k: &Bound<'py, PyString>, name: &str| -> R<Option<u64>> {
            match get(k) {
                Some(v) if !v.is_instance_of::<PyBool>() => v
                    .extract::<u64>()
                    .map(Some)
                    .or_else(|_| fail("expected a non-negative integer offset"))
                    .key(name),
                Some(_) => fail("expected a non-negative integer offset").key(name),
                None => Ok(None),
            }
        };
        let begin = offset(intern!(py, "beginOffset"), "beginOffset")?;
        let end = offset(intern!(py, "endOffset"), "endOffset")?;
        let content = match get(intern!(py, "content")) {
            Some(c) => opt_str(&c).key("content")?.map(|c| c.to_string()),
            None => None,
        };
        obj.span = make_span(begin, end, content);
        for (k, start) in [
            (intern!(py, "startEntities"), true),
            (intern!(py, "startObjects"), true),
            (intern!(py, "endEntities"), false),
            (intern!(py, "endObjects"), false),
        ] {
            if let Some(val) = get(k) {
                let name = k.to_str().unwrap_or("startEntities").to_owned();
                let mut mids = Vec::new();
                for (i, m) in as_list(&val, "a list of {mid} objects")
                    .key(&name)?
                    .enumerate()
                {
                    let md = as_dict(&m, "a {mid} object").index(i).key(&name)?;
                    if let Some(mid) = md.get_item(intern!(py, "mid")).ok().flatten() {
                        mids.extend(loose_id(&mid).key("mid").index(i).key(&name)?);
                    }
                }
                let rel = obj.relation.get_or_insert_with(Relation::default);
                if start {
                    rel.start.extend(mids);
                } else {
                    rel.end.extend(mids);
                }
            }
        }
        if let Some(val) = get(intern!(py, "categories")) {
            let key = "categories";
            for (i, c) in as_list(&val, "a list of categories").key(key)?.enumerate() {
                let (name, children) = self.category(&c, label, frame, depth).index(i).key(key)?;
                if obj.category.is_none() {
                    obj.category = name;
                }
                obj.children.extend(children);
            }
        }
        if let Some(val) = get(intern!(py, "children")) {
            let c = self.children(&val, label, frame, depth).key("children")?;
            obj.children.extend(c);
        }
        let geo = self.opts.geometry;
        if geo {
            if let Some(val) = get(intern!(py, "boundingPoly")) {
                parts
                    .get_or_insert_with(Vec::new)
                    .extend(bounding_poly(&val, &[]).key("boundingPoly")?);
            }
            if let Some(val) = get(intern!(py, "annotations")) {
                parts
                    .get_or_insert_with(Vec::new)
                    .extend(pdf_layers(&val).key("annotations")?);
            }
            if let Some(val) = get(intern!(py, "point")) {
                point = Some(pt(&val).key("point")?);
            }
            if let Some(val) = get(intern!(py, "polyline")) {
                line = Some(ring(&val).key("polyline")?);
            }
        }
        if let Some(val) = get(intern!(py, "points")) {
            let key = "points";
            let mut pts = Vec::new();
            for (i, p) in as_list(&val, "a list of pose points").key(key)?.enumerate() {
                let pd = as_dict(&p, "a pose point object").index(i).key(key)?;
                if geo {
                    if let Some(xy) = pd.get_item(intern!(py, "point")).ok().flatten() {
                        if !xy.is_none() {
                            pts.push(pt(&xy).key("point").index(i).key(key)?);
                        }
                    }
                }
                if let Some(c) = pd.get_item(intern!(py, "children")).ok().flatten() {
                    obj.children.extend(
                        self.children(&c, label, frame, depth)
                            .key("children")
                            .index(i)
                            .key(key)?,
                    );
                }
            }
            if geo {
                pose = Some(pts);
            }
        }
        obj.geometry = pick_geometry(parts, point, line, pose);
        label.adopt(mark, || ParentRef {
            job: obj.job.clone(),
            category: obj.category.clone(),
            mid: obj.mid.clone(),
        });
        Ok(obj)
    }
}

fn size(v: &Bound<'_, PyAny>) -> R<Option<(f64, f64)>> {
    if v.is_none() {
        return Ok(None);
    }
    let d = as_dict(v, "a resolution {width, height}")?;
    let py = v.py();
    let w = d.get_item(intern!(py, "width")).ok().flatten();
    let h = d.get_item(intern!(py, "height")).ok().flatten();
    match (w, h) {
        (Some(w), Some(h)) => Ok(Some((num(&w).key("width")?, num(&h).key("height")?))),
        _ => fail("missing field `width` or `height`"),
    }
}

fn page_sizes(v: &Bound<'_, PyAny>) -> R<Vec<(u32, f64, f64)>> {
    if v.is_none() {
        return Ok(Vec::new());
    }
    let py = v.py();
    let mut out = Vec::new();
    for (i, p) in as_list(v, "a list of page resolutions")?.enumerate() {
        let d = as_dict(&p, "a page resolution").index(i)?;
        let n: u32 = match d.get_item(intern!(py, "pageNumber")).ok().flatten() {
            Some(n) => n
                .extract()
                .or_else(|_| fail("expected a page number"))
                .key("pageNumber")
                .index(i)?,
            None => return fail("missing field `pageNumber`").index(i),
        };
        if let Some((w, h)) = size(&p).index(i)? {
            out.push((n, w, h));
        }
    }
    Ok(out)
}

fn failed(err: LabelError) -> Failed {
    Failed {
        err,
        ids: Ids::default(),
    }
}

/// The ids an unreadable dict still shows (its `id` is the label's when it has `jsonResponse`).
fn dict_ids(v: &Bound<'_, PyAny>) -> Ids {
    let py = v.py();
    let Ok(d) = v.cast::<PyDict>() else {
        return Ids::default();
    };
    let get = |k: &Bound<'_, PyString>| {
        d.get_item(k)
            .ok()
            .flatten()
            .and_then(|x| loose_id(&x).ok().flatten())
            .map(|n| n.to_string())
    };
    let id = get(intern!(py, "id"));
    let external_id = get(intern!(py, "externalId"));
    if d.contains(intern!(py, "jsonResponse")).unwrap_or(false) {
        Ids {
            label_id: id,
            external_id,
            asset_id: None,
        }
    } else {
        Ids {
            asset_id: id,
            external_id,
            label_id: None,
        }
    }
}

pub fn read_input(v: &Bound<'_, PyAny>, opts: ReadOpts) -> Input {
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
    if v.is_instance_of::<PyDict>() {
        return Input::Doc(read_dict_document(v, opts).map_err(|e| Failed {
            err: e.into_label_error(""),
            ids: dict_ids(v),
        }));
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
    read_input(v, opts).resolve(opts).map_err(|f| f.err)
}

fn read_dict_document<'py>(v: &Bound<'py, PyAny>, opts: ReadOpts) -> R<Document> {
    let py = v.py();
    let d = as_dict(v, "a label")?;
    let reader = Reader { opts };
    let get = |k: &Bound<'py, PyString>| d.get_item(k).ok().flatten();
    let mut doc = Document::default();
    if let Some(id) = get(intern!(py, "id")) {
        doc.id = loose_id(&id).key("id")?;
    }
    if let Some(e) = get(intern!(py, "externalId")) {
        doc.external_id = loose_id(&e).key("externalId")?;
    }
    if let Some(r) = get(intern!(py, "resolution")) {
        doc.resolution.size = size(&r).key("resolution")?;
    }
    if let Some(p) = get(intern!(py, "pageResolutions")) {
        doc.resolution.pages = page_sizes(&p).key("pageResolutions")?;
    }
    if let Some(s) = get(intern!(py, "status")) {
        doc.status = scalar_text(&s).map(Name::from);
    }
    if let Some(m) = get(intern!(py, "jsonMetadata")) {
        doc.metadata = loose_map(&m)
            .into_iter()
            .map(|(k, v)| (Name::from(k), v))
            .collect();
    }
    if let Some(l) = get(intern!(py, "labelOf")) {
        let pairs = loose_map(&l);
        let find = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| Name::from(v.as_str()))
        };
        doc.label_of_id = find("id");
        doc.label_of_external_id = find("externalId");
    }
    if let Some(c) = get(intern!(py, "jsonContent")) {
        doc.lonlat = geo_content(&c);
    }
    let info = label_info(d);
    if let Some(jr) = get(intern!(py, "jsonResponse")) {
        doc.is_label = true;
        let label = response_value(&reader, &jr).key("jsonResponse")?;
        doc.labels.push(ParsedLabel {
            id: doc.id.take(),
            label,
            info,
        });
        mark_lonlat(&mut doc);
        return Ok(doc);
    }
    let mut labelish = false;
    if let Some(l) = get(intern!(py, "latestLabel")) {
        labelish = true;
        if !l.is_none() {
            let field = LabelField::LatestLabel;
            doc.labels
                .push(label_obj(&reader, &l, field).key("latestLabel")?);
        }
    }
    for key in [intern!(py, "latestLabels"), intern!(py, "labels")] {
        if let Some(ls) = get(key) {
            labelish = true;
            if ls.is_none() {
                continue;
            }
            let name = key.to_str().unwrap_or("labels").to_owned();
            let field = if name == "labels" {
                LabelField::Labels
            } else {
                LabelField::LatestLabels
            };
            for (i, l) in as_list(&ls, "a list of labels").key(&name)?.enumerate() {
                if !l.is_none() {
                    doc.labels
                        .push(label_obj(&reader, &l, field).index(i).key(&name)?);
                }
            }
        }
    }
    if labelish {
        mark_lonlat(&mut doc);
        return Ok(doc);
    }
    if get(intern!(py, "labelOf")).is_some() {
        // A label record (`kili.labels()` output) whose jsonResponse was not fetched.
        doc.is_label = true;
        doc.labels.push(ParsedLabel {
            id: doc.id.take(),
            label: Label {
                no_response: Some(LabelField::Record),
                ..Label::default()
            },
            info,
        });
        mark_lonlat(&mut doc);
        return Ok(doc);
    }
    // A bare jsonResponse: its keys are jobs (or frames).
    doc.is_response = true;
    doc.id = None;
    doc.external_id = None;
    doc.resolution = Resolution::default();
    let mut label = Label::default();
    reader.response(v, &mut label, None, 0)?;
    doc.labels.push(ParsedLabel {
        id: None,
        label,
        info: LabelInfo::default(),
    });
    Ok(doc)
}

fn mark_lonlat(doc: &mut Document) {
    if doc.lonlat {
        for pl in &mut doc.labels {
            pl.label.set_lonlat();
        }
    }
}

/// A scalar as text (as the JSON reader writes it); other values None.
fn scalar_text(v: &Bound<'_, PyAny>) -> Option<String> {
    if let Ok(s) = v.cast::<PyString>() {
        return s.to_str().ok().map(str::to_owned);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Some(b.is_true().to_string());
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Some(i.to_string());
        }
        if let Ok(u) = v.extract::<u64>() {
            return Some(u.to_string());
        }
        return v.extract::<f64>().ok().map(float_text);
    }
    if v.is_instance_of::<PyFloat>() {
        return v.extract::<f64>().ok().map(float_text);
    }
    None
}

/// A dict's (or a JSON string's map's) scalar entries as text; anything else none.
fn loose_map(v: &Bound<'_, PyAny>) -> Vec<(String, String)> {
    if let Ok(s) = v.cast::<PyString>() {
        let Ok(text) = s.to_str() else {
            return Vec::new();
        };
        return match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
            Ok(m) => m
                .into_iter()
                .filter_map(|(k, v)| {
                    let t = match v {
                        serde_json::Value::String(s) => Some(s),
                        serde_json::Value::Bool(b) => Some(b.to_string()),
                        serde_json::Value::Number(n) => Some(
                            n.as_i64()
                                .map(|i| i.to_string())
                                .or_else(|| n.as_u64().map(|u| u.to_string()))
                                .unwrap_or_else(|| float_text(n.as_f64().unwrap_or(f64::NAN))),
                        ),
                        _ => None,
                    };
                    t.map(|t| (k, t))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
    }
    let Ok(d) = v.cast::<PyDict>() else {
        return Vec::new();
    };
    d.iter()
        .filter_map(|(k, v)| {
            let k = k.cast::<PyString>().ok()?.to_str().ok()?.to_owned();
            scalar_text(&v).map(|t| (k, t))
        })
        .collect()
}

/// Whether a `jsonContent` says lon/lat coordinates (see the JSON reader).
fn geo_content(v: &Bound<'_, PyAny>) -> bool {
    if let Ok(s) = v.cast::<PyString>() {
        return s.to_str().is_ok_and(|t| {
            t.trim_start().starts_with('[') && crate::label::json::geo_content_text(t)
        });
    }
    let Ok(l) = v.cast::<PyList>() else {
        return false;
    };
    let Ok(first) = l.get_item(0) else {
        return false;
    };
    let pairs = loose_map(&first);
    let get = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    get("useClassicCoordinates").as_deref() == Some("false")
        && get("epsg").is_some_and(|e| e != "TiledImage")
}

/// `author.email`, `createdAt`, `labelType` of a label record.
fn label_info<'py>(d: &Bound<'py, PyDict>) -> LabelInfo {
    let py = d.py();
    let get = |k: &Bound<'py, PyString>| d.get_item(k).ok().flatten();
    let author = get(intern!(py, "author")).and_then(|a| {
        loose_map(&a)
            .into_iter()
            .rev()
            .find(|(k, _)| k == "email")
            .map(|(_, v)| Name::from(v))
    });
    LabelInfo {
        author,
        created_at: get(intern!(py, "createdAt"))
            .and_then(|v| scalar_text(&v))
            .map(Name::from),
        label_type: get(intern!(py, "labelType"))
            .and_then(|v| scalar_text(&v))
            .map(Name::from),
    }
}

fn label_obj(reader: &Reader, v: &Bound<'_, PyAny>, field: LabelField) -> R<ParsedLabel> {
    let d = as_dict(v, "a label object")?;
    let py = v.py();
    let id = match d.get_item(intern!(py, "id")).ok().flatten() {
        Some(i) => loose_id(&i).key("id")?,
        None => None,
    };
    let label = match d.get_item(intern!(py, "jsonResponse")).ok().flatten() {
        Some(jr) => response_value(reader, &jr).key("jsonResponse")?,
        None => Label {
            no_response: Some(field),
            ..Label::default()
        },
    };
    Ok(ParsedLabel {
        id,
        label,
        info: label_info(d),
    })
}

/// `jsonResponse`: a dict, a JSON string (as the API returns it), or None / "".
fn response_value(reader: &Reader, v: &Bound<'_, PyAny>) -> R<Label> {
    if let Ok(s) = v.cast::<PyString>() {
        let text = s
            .to_str()
            .or_else(|_| fail("the jsonResponse string is not valid UTF-8"))?;
        if text.trim().is_empty() {
            return Ok(Label::default());
        }
        return parse_json_response(text, None, reader.opts)
            .or_else(|e| fail(format!("in the jsonResponse string: {e}")));
    }
    let mut label = Label::default();
    reader.response(v, &mut label, None, 0)?;
    Ok(label)
}
