//! Reader from JSON bytes: serde visitors that build the label model while parsing, borrowing
//! from the input and skipping whatever no rule needs. No JSON DOM is built (serde_json's
//! `Value` was measured 8x slower than typed parsing).
//!
//! On failure the document is parsed again under `serde_path_to_error`, so that the error
//! names the JSON path; the fast path pays nothing for that.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;
use smallvec::{smallvec, SmallVec};

use super::doc::{Document, ParsedLabel};
use super::model::{
    frame_index, is_ignored_job, Answer, Geometry, Label, LabelField, LabelInfo, Name, Object,
    ParentRef, Part, Pt, ReadOpts, Relation, Ring, Span,
};
use crate::error::{LabelError, PathPart};

/// Parse one JSON document: an asset record, a label (with `jsonResponse`) or a bare
/// jsonResponse.
pub fn parse_document(bytes: &[u8], opts: ReadOpts) -> Result<Document, LabelError> {
    // Fast path: a record's labels read in place, in one pass. Where that succeeds, holding
    // each label for a reader of its own (which counts depth from the label) gives the same
    // document, since in place the labels only have less depth to spend; so the second pass
    // runs only for a document the first could not read.
    if let Ok(doc) = parse_with(bytes, opts, true) {
        if doc.error.is_none() {
            return Ok(doc);
        }
    }
    match parse_with(bytes, opts, false) {
        Ok(mut doc) => match doc.error.take() {
            Some(e) => Err(e),
            None => Ok(doc),
        },
        Err(_) => Err(locate_error(bytes, opts)),
    }
}

fn parse_with(bytes: &[u8], opts: ReadOpts, inline: bool) -> Result<Document, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    DocSeed {
        opts,
        src: &JsonSource { inline },
    }
    .deserialize(&mut de)
    .and_then(|d| de.end().map(|_| d))
}

/// Parse a jsonResponse given as a JSON string (as the Kili API returns it).
pub fn parse_json_response(
    text: &str,
    frame: Option<u32>,
    opts: ReadOpts,
) -> Result<Label, LabelError> {
    let mut label = Label::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = ResponseSeed {
        label: &mut label,
        frame,
        opts,
    };
    match seed.deserialize(&mut de).and_then(|_| de.end()) {
        Ok(()) => Ok(label),
        Err(_) => {
            let mut label = Label::default();
            let mut de = serde_json::Deserializer::from_str(text);
            let mut track = serde_path_to_error::Track::new();
            let seed = ResponseSeed {
                label: &mut label,
                frame,
                opts,
            };
            let res = seed
                .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
                .and_then(|_| de.end());
            match res {
                Ok(()) => Err(LabelError::new("", "the label could not be read")),
                Err(e) => Err(LabelError::from_json(&track.path(), &e)),
            }
        }
    }
}

fn locate_error(bytes: &[u8], opts: ReadOpts) -> LabelError {
    let (err, read) = locate_with(bytes, opts, false);
    // A label that is not JSON fails while it is held, at the label's path: read it in place
    // to name the path inside it (a label nested past the limit from the record would be
    // refused at that limit, but it is not JSON anyway).
    let at_label = match err.parts.as_slice() {
        [PathPart::Key(k)] => k == "latestLabel",
        [PathPart::Key(k), PathPart::Index(_)] => k == "latestLabels" || k == "labels",
        _ => false,
    };
    if read && at_label {
        return locate_with(bytes, opts, true).0;
    }
    err
}

/// The located error, and whether the JSON reader (not a label's own reader) raised it.
fn locate_with(bytes: &[u8], opts: ReadOpts, inline: bool) -> (LabelError, bool) {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut track = serde_path_to_error::Track::new();
    let res = DocSeed {
        opts,
        src: &JsonSource { inline },
    }
    .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
    .and_then(|d| de.end().map(|_| d));
    match res {
        Ok(mut doc) => (
            doc.error
                .take()
                .unwrap_or_else(|| LabelError::new("", "the document could not be read")),
            false,
        ),
        Err(e) => (LabelError::from_json(&track.path(), &e), true),
    }
}

// ---------------------------------------------------------------------------------------------
// Small value types

/// A map key or string, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// An id: a string, or an integer (seen for `mid`), or null.
pub struct LooseId(pub Option<Name>);

impl<'de> de::Deserialize<'de> for LooseId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LooseId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, an integer or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LooseId(Some(Name::new(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LooseId(Some(Name::new(v.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LooseId(Some(Name::new(v.to_string()))))
            }
            // serde_json reads integers beyond u64 as floats (a Python int that large arrives
            // as its digits too): the id is that float's text.
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                if v.is_finite() && v.fract() == 0.0 && v.abs() >= 9.2e18 {
                    Ok(LooseId(Some(Name::new(format!("{v}")))))
                } else {
                    Err(E::invalid_type(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LooseId(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LooseId(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A finite number.
struct Num(f64);

impl<'de> de::Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a finite number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                if v.is_finite() {
                    Ok(Num(v))
                } else {
                    Err(E::custom("expected a finite number"))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Num(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> de::Deserialize<'de> for Pt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a vertex {\"x\": number, \"y\": number}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pt, A::Error> {
                let (mut x, mut y) = (None, None);
                while let Some(k) = map.next_key::<Key>()? {
                    match k.0.as_ref() {
                        "x" => x = Some(map.next_value::<Num>()?.0),
                        "y" => y = Some(map.next_value::<Num>()?.0),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                match (x, y) {
                    (Some(x), Some(y)) => Ok(Pt { x, y }),
                    (None, _) => Err(de::Error::missing_field("x")),
                    (_, None) => Err(de::Error::missing_field("y")),
                }
            }
        }
        d.deserialize_map(V)
    }
}

/// `normalizedVertices`: a flat list of vertices, or (PDF) a list of rings.
enum Vertices {
    Flat(Ring),
    Nested(Vec<Ring>),
}

enum PtOrRing {
    Pt(Pt),
    Ring(Ring),
}

impl<'de> de::Deserialize<'de> for PtOrRing {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PtOrRing;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a vertex or a list of vertices")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Pt::deserialize(de::value::MapAccessDeserializer::new(map)).map(PtOrRing::Pt)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut ring = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(p) = seq.next_element::<Pt>()? {
                    ring.push(p);
                }
                Ok(PtOrRing::Ring(ring))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> de::Deserialize<'de> for Vertices {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vertices;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of vertices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut flat: Ring = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                let mut nested: Vec<Ring> = Vec::new();
                while let Some(item) = seq.next_element::<PtOrRing>()? {
                    match item {
                        PtOrRing::Pt(p) if nested.is_empty() => flat.push(p),
                        PtOrRing::Ring(r) if flat.is_empty() => nested.push(r),
                        _ => return Err(de::Error::custom("mixes vertices and lists of vertices")),
                    }
                }
                Ok(if nested.is_empty() {
                    Vertices::Flat(flat)
                } else {
                    Vertices::Nested(nested)
                })
            }
        }
        d.deserialize_seq(V)
    }
}

/// One element of `boundingPoly`: a ring object `{normalizedVertices}`.
struct RingObj(Option<Vertices>);

impl<'de> de::Deserialize<'de> for RingObj {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RingObj;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with normalizedVertices")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RingObj, A::Error> {
                let mut v = None;
                while let Some(k) = map.next_key::<Key>()? {
                    if k.0 == "normalizedVertices" {
                        v = Some(map.next_value::<Vertices>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(RingObj(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// An element of `boundingPoly`: a ring object (flat form) or a list of ring objects
/// (hierarchical form: one part with its holes).
enum PolyElem {
    Ring(RingObj),
    Part(Vec<RingObj>),
}

impl<'de> de::Deserialize<'de> for PolyElem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PolyElem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a ring object or a list of ring objects")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RingObj::deserialize(de::value::MapAccessDeserializer::new(map)).map(PolyElem::Ring)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut rings = Vec::new();
                while let Some(r) = seq.next_element::<RingObj>()? {
                    rings.push(r);
                }
                Ok(PolyElem::Part(rings))
            }
        }
        d.deserialize_any(V)
    }
}

/// `boundingPoly` as a whole.
struct BoundingPoly(Vec<PolyElem>);

impl<'de> de::Deserialize<'de> for BoundingPoly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BoundingPoly;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list (boundingPoly)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(e) = seq.next_element::<PolyElem>()? {
                    out.push(e);
                }
                Ok(BoundingPoly(out))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(BoundingPoly(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

impl BoundingPoly {
    /// Parts of this boundingPoly, per Kili's conventions for masks (outer ring, holes, parts).
    /// `pages[i]` is the PDF page of element `i`.
    fn into_parts(self, pages: &[u32]) -> Vec<Part> {
        let mut parts = Vec::new();
        let mut flat = Part::default();
        for (i, elem) in self.0.into_iter().enumerate() {
            let page = pages.get(i).copied();
            match elem {
                PolyElem::Ring(RingObj(Some(Vertices::Flat(r)))) => {
                    if page.is_some() {
                        parts.push(Part {
                            rings: smallvec![r],
                            page,
                        });
                    } else {
                        flat.rings.push(r);
                    }
                }
                PolyElem::Ring(RingObj(Some(Vertices::Nested(rs)))) => {
                    parts.extend(rs.into_iter().map(|r| Part {
                        rings: smallvec![r],
                        page,
                    }));
                }
                PolyElem::Ring(RingObj(None)) => {}
                PolyElem::Part(rings) => {
                    let mut part = Part {
                        rings: SmallVec::new(),
                        page,
                    };
                    for r in rings {
                        match r.0 {
                            Some(Vertices::Flat(r)) => part.rings.push(r),
                            Some(Vertices::Nested(rs)) => part.rings.extend(rs),
                            None => {}
                        }
                    }
                    if !part.rings.is_empty() {
                        parts.push(part);
                    }
                }
            }
        }
        if !flat.rings.is_empty() {
            parts.insert(0, flat);
        }
        parts
    }
}

// ---------------------------------------------------------------------------------------------
// jsonResponse, jobs, annotations

/// A whole jsonResponse (possibly video, keyed by frame) into `label`.
struct ResponseSeed<'a> {
    label: &'a mut Label,
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for ResponseSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResponseSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a jsonResponse object keyed by job name")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<Key>()? {
            let name = k.0.as_ref();
            response_entry(self.label, name, self.frame, self.opts, &mut map)?;
        }
        Ok(())
    }
}

/// One top-level entry of a jsonResponse: a frame, `assetLevel`, a non-job key or a job.
fn response_entry<'de, A: MapAccess<'de>>(
    label: &mut Label,
    name: &str,
    frame: Option<u32>,
    opts: ReadOpts,
    map: &mut A,
) -> Result<(), A::Error> {
    map.next_value_seed(EntrySeed {
        label,
        name,
        frame,
        opts,
    })
}

/// A job's payload. Returns whether the job holds an answer.
struct JobSeed<'a, 'j> {
    label: &'a mut Label,
    job: &'j str,
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for JobSeed<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JobSeed<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a job object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let JobSeed {
            label,
            job,
            frame,
            opts,
        } = self;
        let mut answered = false;
        let first_answer = label.answers.len();
        let mut job_children: Vec<Name> = Vec::new();
        while let Some(k) = map.next_key::<Key>()? {
            match k.0.as_ref() {
                "annotations" => {
                    let n = map.next_value_seed(AnnotationsSeed {
                        label: &mut *label,
                        job,
                        frame,
                        opts,
                    })?;
                    answered |= n > 0;
                }
                "categories" => {
                    let n = map.next_value_seed(CategoriesSeed {
                        label: &mut *label,
                        job,
                        frame,
                        opts,
                    })?;
                    answered |= n > 0;
                }
                "children" => {
                    let mark = label.mark();
                    job_children = map.next_value_seed(ChildrenSeed {
                        label: &mut *label,
                        frame,
                        opts,
                    })?;
                    label.adopt(mark, || ParentRef {
                        job: Name::new(job),
                        ..ParentRef::default()
                    });
                }
                "text" => {
                    let t = map.next_value::<Option<Cow<str>>>()?;
                    if let Some(t) = t.filter(|t| !t.is_empty()) {
                        label.answers.push(Answer {
                            text: Some(t.into_owned()),
                            ..Answer::plain(job, frame)
                        });
                        answered = true;
                    }
                }
                "choice" | "orders" | "fileId" => {
                    let v = map.next_value::<Option<IgnoredAny>>()?;
                    if v.is_some() {
                        label.answers.push(Answer::plain(job, frame));
                        answered = true;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // Legacy form: children at job level belong to the job's categories.
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
}

/// `children`: a mini-jsonResponse of child jobs. Returns the names of answered child jobs.
struct ChildrenSeed<'a> {
    label: &'a mut Label,
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for ChildrenSeed<'_> {
    type Value = Vec<Name>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Name>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ChildrenSeed<'_> {
    type Value = Vec<Name>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a children object keyed by job name")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<Name>, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Name>, A::Error> {
        // `"children": []` is seen in some exports: only an empty list is meaningful.
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "expected an object keyed by child job name",
            ));
        }
        Ok(Vec::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Name>, A::Error> {
        let mut answered = Vec::new();
        while let Some(k) = map.next_key::<Key>()? {
            let name = k.0.as_ref();
            if is_ignored_job(name) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let yes = map.next_value_seed(JobSeed {
                label: &mut *self.label,
                job: name,
                frame: self.frame,
                opts: self.opts,
            })?;
            if yes {
                answered.push(Name::new(name));
            }
        }
        Ok(answered)
    }
}

/// `categories` of a classification job: one answer per category.
struct CategoriesSeed<'a, 'j> {
    label: &'a mut Label,
    job: &'j str,
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for CategoriesSeed<'_, '_> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CategoriesSeed<'_, '_> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of categories")
    }
    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while let Some((name, children)) = seq.next_element_seed(CategorySeed {
            label: &mut *self.label,
            frame: self.frame,
            opts: self.opts,
            job: Some(self.job),
        })? {
            self.label.answers.push(Answer {
                job: Name::new(self.job),
                category: name,
                frame: self.frame,
                children,
                ..Answer::default()
            });
            n += 1;
        }
        Ok(n)
    }
}

/// One category object `{name, confidence, children}`.
struct CategorySeed<'a, 'j> {
    label: &'a mut Label,
    frame: Option<u32>,
    opts: ReadOpts,
    /// The classification job the category answers; None inside an annotation (whose
    /// object is then the parent of the children).
    job: Option<&'j str>,
}

impl<'de> DeserializeSeed<'de> for CategorySeed<'_, '_> {
    type Value = (Option<Name>, Vec<Name>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CategorySeed<'_, '_> {
    type Value = (Option<Name>, Vec<Name>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a category object {\"name\": ...}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut name = None;
        let mut children = Vec::new();
        let mark = self.label.mark();
        while let Some(k) = map.next_key::<Key>()? {
            match k.0.as_ref() {
                "name" => name = map.next_value::<LooseId>()?.0,
                "children" => {
                    children = map.next_value_seed(ChildrenSeed {
                        label: &mut *self.label,
                        frame: self.frame,
                        opts: self.opts,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(job) = self.job {
            self.label.adopt(mark, || ParentRef {
                job: Name::new(job),
                category: name.clone(),
                mid: None,
            });
        }
        Ok((name, children))
    }
}

/// `annotations` of an object / NER / relation job. Returns how many were read.
struct AnnotationsSeed<'a, 'j> {
    label: &'a mut Label,
    job: &'j str,
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for AnnotationsSeed<'_, '_> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnnotationsSeed<'_, '_> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of annotations")
    }
    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while let Some(obj) = seq.next_element_seed(AnnotationSeed {
            label: &mut *self.label,
            job: self.job,
            frame: self.frame,
            opts: self.opts,
        })? {
            self.label.objects.push(obj);
            n += 1;
        }
        Ok(n)
    }
}

struct AnnotationSeed<'a, 'j> {
    label: &'a mut Label,
    job: &'j str,
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for AnnotationSeed<'_, '_> {
    type Value = Object;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Object, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AnnotationSeed<'_, '_> {
    type Value = Object;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an annotation object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
        let AnnotationSeed {
            label,
            job,
            frame,
            opts,
        } = self;
        let mut obj = Object {
            job: Name::new(job),
            frame,
            ..Object::default()
        };
        let mut parts: Option<Vec<Part>> = None;
        let mut point = None;
        let mut line: Option<Ring> = None;
        let mut pose: Option<Ring> = None;
        let (mut begin, mut end, mut content) = (None, None, None);
        let mark = label.mark();
        while let Some(k) = map.next_key::<Key>()? {
            match k.0.as_ref() {
                "mid" => obj.mid = map.next_value::<LooseId>()?.0,
                "beginOffset" => begin = map.next_value::<Option<u64>>()?,
                "endOffset" => end = map.next_value::<Option<u64>>()?,
                "content" => content = map.next_value::<Option<String>>()?,
                "startEntities" | "startObjects" => {
                    let mids = map.next_value::<MidList>()?.0;
                    obj.relation
                        .get_or_insert_with(Relation::default)
                        .start
                        .extend(mids);
                }
                "endEntities" | "endObjects" => {
                    let mids = map.next_value::<MidList>()?.0;
                    obj.relation
                        .get_or_insert_with(Relation::default)
                        .end
                        .extend(mids);
                }
                "categories" => {
                    let cats = map.next_value_seed(AnnotationCategoriesSeed {
                        label: &mut *label,
                        frame,
                        opts,
                    })?;
                    obj.category = cats.0;
                    obj.children.extend(cats.1);
                }
                "children" => {
                    let c = map.next_value_seed(ChildrenSeed {
                        label: &mut *label,
                        frame,
                        opts,
                    })?;
                    obj.children.extend(c);
                }
                "boundingPoly" if opts.geometry => {
                    let bp = map.next_value::<BoundingPoly>()?;
                    parts
                        .get_or_insert_with(Vec::new)
                        .extend(bp.into_parts(&[]));
                }
                "annotations" if opts.geometry => {
                    let p = map.next_value::<PdfLayers>()?;
                    parts.get_or_insert_with(Vec::new).extend(p.0);
                }
                "point" if opts.geometry => point = map.next_value::<Option<Pt>>()?,
                "polyline" if opts.geometry => line = map.next_value::<Option<Vec<Pt>>>()?,
                "points" => {
                    let p = map.next_value_seed(PosePointsSeed {
                        label: &mut *label,
                        frame,
                        opts,
                    })?;
                    obj.children.extend(p.1);
                    if opts.geometry {
                        pose = Some(p.0);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        obj.geometry = pick_geometry(parts, point, line, pose);
        obj.span = make_span(begin, end, content);
        label.adopt(mark, || ParentRef {
            job: obj.job.clone(),
            category: obj.category.clone(),
            mid: obj.mid.clone(),
        });
        Ok(obj)
    }
}

/// A NER span from its offsets; without `endOffset` (imports, predictions) the end is the
/// begin plus the content's length in characters.
pub(crate) fn make_span(
    begin: Option<u64>,
    end: Option<u64>,
    content: Option<String>,
) -> Option<Span> {
    let begin = begin?;
    let end = match (end, &content) {
        (Some(e), _) => e,
        (None, Some(c)) => begin.saturating_add(c.chars().count() as u64),
        (None, None) => begin,
    };
    Some(Span {
        begin,
        end,
        content,
    })
}

/// `startEntities` / `endEntities` (or `...Objects`): a list of `{mid}` objects, or null.
struct MidList(Vec<Name>);

impl<'de> de::Deserialize<'de> for MidList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct MidObj {
            mid: Option<LooseId>,
        }
        let items = Option::<Vec<MidObj>>::deserialize(d)?.unwrap_or_default();
        Ok(MidList(
            items
                .into_iter()
                .filter_map(|m| m.mid.and_then(|i| i.0))
                .collect(),
        ))
    }
}

/// When an annotation carries several geometry keys (a rectangle with `"polyline": []`),
/// the most specific non-empty one wins.
pub(crate) fn pick_geometry(
    parts: Option<Vec<Part>>,
    point: Option<Pt>,
    line: Option<Ring>,
    pose: Option<Ring>,
) -> Geometry {
    match (parts, point, line, pose) {
        (Some(p), _, _, _) if !p.is_empty() => Geometry::Parts(SmallVec::from_vec(p)),
        (_, Some(pt), _, _) => Geometry::Point(pt),
        (_, _, Some(l), _) if !l.is_empty() => Geometry::Line(l),
        (_, _, _, Some(p)) if !p.is_empty() => Geometry::Line(p),
        _ => Geometry::None,
    }
}

/// `categories` of an annotation: the first name; children nested under categories too.
struct AnnotationCategoriesSeed<'a> {
    label: &'a mut Label,
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for AnnotationCategoriesSeed<'_> {
    type Value = (Option<Name>, Vec<Name>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnnotationCategoriesSeed<'_> {
    type Value = (Option<Name>, Vec<Name>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of categories")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((None, Vec::new()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut first = None;
        let mut children = Vec::new();
        while let Some((name, c)) = seq.next_element_seed(CategorySeed {
            label: &mut *self.label,
            frame: self.frame,
            opts: self.opts,
            job: None,
        })? {
            if first.is_none() {
                first = name;
            }
            children.extend(c);
        }
        Ok((first, children))
    }
}

/// Pose `points`: their coordinates, and their answered children.
struct PosePointsSeed<'a> {
    label: &'a mut Label,
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for PosePointsSeed<'_> {
    type Value = (Ring, Vec<Name>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PosePointsSeed<'_> {
    type Value = (Ring, Vec<Name>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of pose points")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((Vec::new(), Vec::new()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut pts = Vec::new();
        let mut children = Vec::new();
        while let Some((p, c)) = seq.next_element_seed(PosePointSeed {
            label: &mut *self.label,
            frame: self.frame,
            opts: self.opts,
        })? {
            pts.extend(p);
            children.extend(c);
        }
        Ok((pts, children))
    }
}

struct PosePointSeed<'a> {
    label: &'a mut Label,
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for PosePointSeed<'_> {
    type Value = (Option<Pt>, Vec<Name>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PosePointSeed<'_> {
    type Value = (Option<Pt>, Vec<Name>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a pose point object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pt = None;
        let mut children = Vec::new();
        while let Some(k) = map.next_key::<Key>()? {
            match k.0.as_ref() {
                "point" if self.opts.geometry => pt = map.next_value::<Option<Pt>>()?,
                "children" => {
                    children = map.next_value_seed(ChildrenSeed {
                        label: &mut *self.label,
                        frame: self.frame,
                        opts: self.opts,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((pt, children))
    }
}

/// PDF: the inner `annotations` layer, `[{pageNumberArray, boundingPoly, polys}]`.
struct PdfLayers(Vec<Part>);

impl<'de> de::Deserialize<'de> for PdfLayers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PdfLayers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of PDF annotation layers")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(PdfLayers(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::new();
                while let Some(layer) = seq.next_element::<PdfLayer>()? {
                    parts.extend(layer.0);
                }
                Ok(PdfLayers(parts))
            }
        }
        d.deserialize_any(V)
    }
}

struct PdfLayer(Vec<Part>);

impl<'de> de::Deserialize<'de> for PdfLayer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PdfLayer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a PDF annotation layer object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pages: Vec<u32> = Vec::new();
                let mut bp = None;
                while let Some(k) = map.next_key::<Key>()? {
                    match k.0.as_ref() {
                        "pageNumberArray" => {
                            pages = map.next_value::<Option<Vec<u32>>>()?.unwrap_or_default()
                        }
                        "boundingPoly" => bp = Some(map.next_value::<BoundingPoly>()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let parts = match bp {
                    Some(bp) => {
                        // Each boundingPoly element sits on its own page; give page 1 when
                        // the array is missing so that elements stay separate parts.
                        if pages.is_empty() {
                            pages = vec![1; bp.0.len()];
                        }
                        bp.into_parts(&pages)
                    }
                    None => Vec::new(),
                };
                Ok(PdfLayer(parts))
            }
        }
        d.deserialize_map(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Documents: asset records, label dicts, bare jsonResponses

/// Where a document comes from, for what the reader sets aside: a bare jsonResponse's keys are
/// kept until the document's kind is known, then read as jobs; the labels of an asset record
/// are read each by a reader of its own. JSON text keeps them as raw text; Python objects keep
/// a reference to the value (src/python/).
pub trait Source<'de> {
    /// A value set aside, to be read later.
    type Deferred: Deserialize<'de>;
    /// A label of an asset record (`latestLabel`, an element of `latestLabels`), taken as it is.
    type Held: Deserialize<'de>;
    /// Read a held label (an object or null) by a fresh reader, so that its nesting is counted
    /// from the label, as in a label document: the same label is read, or refused with the
    /// same reason, alone or in a record. Errors name paths from the label.
    fn read_label(
        &self,
        held: &Self::Held,
        field: LabelField,
        opts: ReadOpts,
    ) -> Result<Option<ParsedLabel>, LabelError>;
    /// Read the labels of a record in place, by the document's reader (only to locate an
    /// error that holding a label cannot: see `locate_error`).
    fn inline_labels(&self) -> bool {
        false
    }
    /// Read a set-aside entry of a bare jsonResponse into `label`; errors name `name` first.
    fn read_entry(
        &self,
        label: &mut Label,
        name: &str,
        value: &Self::Deferred,
        opts: ReadOpts,
    ) -> Result<(), LabelError>;
}

/// JSON text: set-aside values are raw slices of the input.
pub struct JsonSource {
    /// See `Source::inline_labels`.
    inline: bool,
}

impl<'de> Source<'de> for JsonSource {
    type Deferred = &'de RawValue;
    type Held = &'de RawValue;
    fn inline_labels(&self) -> bool {
        self.inline
    }
    fn read_label(
        &self,
        held: &&'de RawValue,
        field: LabelField,
        opts: ReadOpts,
    ) -> Result<Option<ParsedLabel>, LabelError> {
        let mut fast = serde_json::Deserializer::from_str(held.get());
        let mut slow = serde_json::Deserializer::from_str(held.get());
        read_label_from(&mut fast, &mut slow, field, opts)
    }
    fn read_entry(
        &self,
        label: &mut Label,
        name: &str,
        value: &&'de RawValue,
        opts: ReadOpts,
    ) -> Result<(), LabelError> {
        parse_entry(label, name, value.get(), opts)
    }
}

/// The document reader, over any source.
pub struct DocSeed<'s, S> {
    pub opts: ReadOpts,
    pub src: &'s S,
}

impl<'de, S: Source<'de>> DeserializeSeed<'de> for DocSeed<'_, S> {
    type Value = Document;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Document, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: Source<'de>> Visitor<'de> for DocSeed<'_, S> {
    type Value = Document;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object (an asset, a label or a jsonResponse)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let opts = self.opts;
        let mut doc = Document::default();
        let mut response: Option<Label> = None;
        let mut is_labelish = false;
        let mut rest: Vec<(Cow<'de, str>, S::Deferred)> = Vec::new();
        let mut info = LabelInfo::default();
        let mut has_label_of = false;
        // Keys only an asset record has: without any label key it is an asset whose label
        // was not fetched (kili.assets(fields=["id", "externalId"])), not a jsonResponse.
        let mut asset_keys = false;
        let mut latest = 0;
        while let Some(k) = map.next_key::<Key<'de>>()? {
            match k.0.as_ref() {
                "jsonResponse" => {
                    response = Some(map.next_value_seed(ResponseField { opts })?);
                    is_labelish = true;
                }
                "latestLabel" => {
                    // The latest label comes first, wherever the key sits in the record.
                    let field = LabelField::LatestLabel;
                    if self.src.inline_labels() {
                        if let Some(l) = map.next_value_seed(OptLabelSeed { opts, field })? {
                            doc.labels.insert(latest, l);
                            latest += 1;
                        }
                        is_labelish = true;
                        continue;
                    }
                    let held = map.next_value::<S::Held>()?;
                    if doc.error.is_none() {
                        match self.src.read_label(&held, field, opts) {
                            Ok(Some(l)) => {
                                doc.labels.insert(latest, l);
                                latest += 1;
                            }
                            Ok(None) => {}
                            Err(e) => doc.error = Some(e.under(field.key())),
                        }
                    }
                    is_labelish = true;
                }
                "latestLabels" | "labels" => {
                    let field = if k.0 == "labels" {
                        LabelField::Labels
                    } else {
                        LabelField::LatestLabels
                    };
                    if self.src.inline_labels() {
                        let ls = map.next_value_seed(LabelListSeed { opts, field })?;
                        doc.labels.extend(ls);
                        is_labelish = true;
                        continue;
                    }
                    let held = map.next_value_seed(HeldListSeed::<S::Held>(PhantomData))?;
                    for (i, h) in held.iter().enumerate() {
                        if doc.error.is_some() {
                            break;
                        }
                        match self.src.read_label(h, field, opts) {
                            Ok(l) => doc.labels.extend(l),
                            Err(mut e) => {
                                e.parts.insert(0, PathPart::Index(i));
                                doc.error = Some(e.under(field.key()));
                            }
                        }
                    }
                    is_labelish = true;
                }
                "id" => doc.id = map.next_value::<LooseId>()?.0,
                "externalId" => {
                    asset_keys = true;
                    doc.external_id = map.next_value::<LooseId>()?.0;
                }
                "author" => info.author = map.next_value::<AuthorEmail>()?.0,
                "createdAt" => info.created_at = map.next_value::<ScalarText>()?.name(),
                "labelType" => info.label_type = map.next_value::<ScalarText>()?.name(),
                "status" => {
                    asset_keys = true;
                    doc.status = map.next_value::<ScalarText>()?.name();
                }
                "jsonMetadata" => {
                    asset_keys = true;
                    doc.metadata = map.next_value::<Metadata>()?.0;
                }
                "labelOf" => {
                    has_label_of = true;
                    let (id, ext) = map.next_value::<LabelOf>()?.0;
                    doc.label_of_id = id;
                    doc.label_of_external_id = ext;
                }
                "jsonContent" => {
                    asset_keys = true;
                    doc.lonlat = map.next_value::<GeoContent>()?.0;
                }
                "resolution" => {
                    doc.resolution.size = map
                        .next_value::<Option<Size>>()?
                        .map(|s| (s.width, s.height))
                }
                "pageResolutions" => {
                    let pages = map
                        .next_value::<Option<Vec<PageSize>>>()?
                        .unwrap_or_default();
                    doc.resolution.pages = pages
                        .into_iter()
                        .map(|p| (p.page_number, p.width, p.height))
                        .collect();
                }
                _ => {
                    asset_keys |= k.0 == "content";
                    let raw = map.next_value::<S::Deferred>()?;
                    rest.push((k.0, raw));
                }
            }
        }
        let asset_record = asset_keys || (doc.id.is_some() && rest.is_empty());
        if let Some(label) = response {
            // A label dict: its `id` is the label id.
            doc.is_label = true;
            doc.labels.insert(
                0,
                ParsedLabel {
                    id: doc.id.take(),
                    label,
                    info,
                },
            );
        } else if has_label_of && !is_labelish {
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
        } else if !is_labelish && asset_record {
            // An asset record that carries no label field at all: nothing was read to judge.
            doc.labels.push(ParsedLabel {
                id: None,
                label: Label {
                    no_response: Some(LabelField::LatestLabel),
                    ..Label::default()
                },
                info,
            });
        } else if !is_labelish {
            // A bare jsonResponse: every key we skipped is a job (or a frame).
            doc.is_response = true;
            let mut label = Label::default();
            doc.id = None;
            for (name, raw) in rest {
                if let Err(e) = self.src.read_entry(&mut label, &name, &raw, opts) {
                    doc.error = Some(e);
                    break;
                }
            }
            doc.labels.push(ParsedLabel {
                id: None,
                label,
                info: LabelInfo::default(),
            });
        }
        if doc.lonlat {
            for pl in &mut doc.labels {
                pl.label.set_lonlat();
            }
        }
        Ok(doc)
    }
}

/// One entry of a bare jsonResponse that was skipped as raw JSON while the document's kind
/// was unknown.
fn parse_entry(label: &mut Label, name: &str, raw: &str, opts: ReadOpts) -> Result<(), LabelError> {
    let mut fast = serde_json::Deserializer::from_str(raw);
    let mut slow = serde_json::Deserializer::from_str(raw);
    read_entry_from(label, name, &mut fast, &mut slow, opts)
}

/// Read one set-aside entry from `fast`; on failure read it again from `slow` (the same value)
/// to name the path of the error, prefixed with the entry's name.
pub fn read_entry_from<'de, D>(
    label: &mut Label,
    name: &str,
    fast: D,
    slow: D,
    opts: ReadOpts,
) -> Result<(), LabelError>
where
    D: Deserializer<'de, Error = serde_json::Error>,
{
    if EntrySeed::top(&mut *label, name, opts)
        .deserialize(fast)
        .is_ok()
    {
        return Ok(());
    }
    let mut scratch = Label::default();
    let mut track = serde_path_to_error::Track::new();
    let res = EntrySeed::top(&mut scratch, name, opts)
        .deserialize(serde_path_to_error::Deserializer::new(slow, &mut track));
    match res {
        Ok(()) => Err(LabelError::new(name, "could not be read")),
        Err(e) => Err(LabelError::from_json(&track.path(), &e).under(name)),
    }
}

pub struct EntrySeed<'a, 'n> {
    label: &'a mut Label,
    name: &'n str,
    /// Set inside a video frame: frames do not nest.
    frame: Option<u32>,
    opts: ReadOpts,
}

impl<'a, 'n> EntrySeed<'a, 'n> {
    /// A top-level entry of a bare jsonResponse (a job, a frame or `assetLevel`).
    pub fn top(label: &'a mut Label, name: &'n str, opts: ReadOpts) -> Self {
        EntrySeed {
            label,
            name,
            frame: None,
            opts,
        }
    }
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let EntrySeed {
            label,
            name,
            frame,
            opts,
        } = self;
        if is_ignored_job(name) {
            return IgnoredAny::deserialize(d).map(|_| ());
        }
        if frame.is_none() {
            if let Some(n) = frame_index(name) {
                label.frames.push(n);
                return ResponseSeed {
                    label,
                    frame: Some(n),
                    opts,
                }
                .deserialize(d);
            }
            if name == "assetLevel" {
                label.asset_level = true;
                return ResponseSeed {
                    label,
                    frame: None,
                    opts,
                }
                .deserialize(d);
            }
        }
        JobSeed {
            label,
            job: name,
            frame,
            opts,
        }
        .deserialize(d)
        .map(|_| ())
    }
}

#[derive(serde::Deserialize)]
struct Size {
    width: f64,
    height: f64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageSize {
    page_number: u32,
    width: f64,
    height: f64,
}

/// `jsonResponse`: an object, a JSON string holding one, or null / "".
struct ResponseField {
    opts: ReadOpts,
}

impl<'de> DeserializeSeed<'de> for ResponseField {
    type Value = Label;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Label, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResponseField {
    type Value = Label;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a jsonResponse object or a JSON string")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Label, E> {
        Ok(Label::default())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Label, E> {
        if v.trim().is_empty() {
            return Ok(Label::default());
        }
        parse_json_response(v, None, self.opts)
            .map_err(|e| E::custom(format!("in the jsonResponse string: {e}")))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Label, A::Error> {
        let mut label = Label::default();
        ResponseSeed {
            label: &mut label,
            frame: None,
            opts: self.opts,
        }
        .visit_map(map)?;
        Ok(label)
    }
}

/// A label object `{id, jsonResponse, ...}` or null.
struct OptLabelSeed {
    opts: ReadOpts,
    field: LabelField,
}

impl<'de> DeserializeSeed<'de> for OptLabelSeed {
    type Value = Option<ParsedLabel>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OptLabelSeed {
    type Value = Option<ParsedLabel>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a label object or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut id = None;
        let mut label = Label::default();
        let mut info = LabelInfo::default();
        let mut has_response = false;
        while let Some(k) = map.next_key::<Key>()? {
            match k.0.as_ref() {
                "id" => id = map.next_value::<LooseId>()?.0,
                "author" => info.author = map.next_value::<AuthorEmail>()?.0,
                "createdAt" => info.created_at = map.next_value::<ScalarText>()?.name(),
                "labelType" => info.label_type = map.next_value::<ScalarText>()?.name(),
                "jsonResponse" => {
                    label = map.next_value_seed(ResponseField { opts: self.opts })?;
                    has_response = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !has_response {
            label.no_response = Some(self.field);
        }
        Ok(Some(ParsedLabel { id, label, info }))
    }
}

/// A list of labels read in place (see `Source::inline_labels`).
struct LabelListSeed {
    opts: ReadOpts,
    field: LabelField,
}

impl<'de> DeserializeSeed<'de> for LabelListSeed {
    type Value = Vec<ParsedLabel>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LabelListSeed {
    type Value = Vec<ParsedLabel>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of labels")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        let seed = || OptLabelSeed {
            opts: self.opts,
            field: self.field,
        };
        while let Some(l) = seq.next_element_seed(seed())? {
            out.extend(l);
        }
        Ok(out)
    }
}

/// A list of labels (or null), each held for its own reader.
struct HeldListSeed<H>(PhantomData<H>);

impl<'de, H: Deserialize<'de>> DeserializeSeed<'de> for HeldListSeed<H> {
    type Value = Vec<H>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, H: Deserialize<'de>> Visitor<'de> for HeldListSeed<H> {
    type Value = Vec<H>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of labels")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(h) = seq.next_element::<H>()? {
            out.push(h);
        }
        Ok(out)
    }
}

/// Read one held label from `fast`; on failure read it again from `slow` (the same value) to
/// name the path of the error, from the label.
pub fn read_label_from<'de, D>(
    fast: D,
    slow: D,
    field: LabelField,
    opts: ReadOpts,
) -> Result<Option<ParsedLabel>, LabelError>
where
    D: Deserializer<'de, Error = serde_json::Error>,
{
    if let Ok(l) = (OptLabelSeed { opts, field }).deserialize(fast) {
        return Ok(l);
    }
    let mut track = serde_path_to_error::Track::new();
    let res = OptLabelSeed { opts, field }
        .deserialize(serde_path_to_error::Deserializer::new(slow, &mut track));
    match res {
        Ok(_) => Err(LabelError::new("", "the label could not be read")),
        Err(e) => Err(LabelError::from_json(&track.path(), &e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Record fields that only describe (author, status, metadata...): any shape is accepted, what
// is not a scalar is skipped, so that they never make a label unreadable.

/// A scalar as text: strings as they are, numbers and booleans written out; others None.
pub(crate) struct ScalarText(pub Option<String>);

impl ScalarText {
    fn name(self) -> Option<Name> {
        self.0.map(Name::from)
    }
}

/// Numbers are written as Rust writes an f64 / integer, the same from either reader.
pub(crate) fn float_text(v: f64) -> String {
    format!("{v}")
}

impl<'de> de::Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ScalarText(Some(v.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(ScalarText(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ScalarText(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ScalarText(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ScalarText(Some(float_text(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ScalarText(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ScalarText(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ScalarText(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// `author`: its `email`.
struct AuthorEmail(Option<Name>);

impl<'de> de::Deserialize<'de> for AuthorEmail {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = LooseMap::deserialize(d)?.0;
        Ok(AuthorEmail(
            pairs
                .into_iter()
                .find(|(k, _)| k == "email")
                .and_then(|(_, v)| v.0)
                .map(Name::from),
        ))
    }
}

/// `labelOf`: the asset's `id` and `externalId`.
struct LabelOf((Option<Name>, Option<Name>));

impl<'de> de::Deserialize<'de> for LabelOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = LooseMap::deserialize(d)?.0;
        let get = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.0.clone())
                .map(Name::from)
        };
        Ok(LabelOf((get("id"), get("externalId"))))
    }
}

/// `jsonMetadata`: a map (or a JSON string of one); its scalar entries.
struct Metadata(Vec<(Name, String)>);

impl<'de> de::Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = LooseMap::deserialize(d)?.0;
        Ok(Metadata(
            pairs
                .into_iter()
                .filter_map(|(k, v)| v.0.map(|v| (Name::from(k), v)))
                .collect(),
        ))
    }
}

/// A map's entries with scalar values as text; a JSON string holding a map is read as that
/// map (the API returns `jsonMetadata` so); anything else gives no entries.
struct LooseMap(Vec<(String, ScalarText)>);

impl<'de> de::Deserialize<'de> for LooseMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LooseMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let mut de = serde_json::Deserializer::from_str(v);
                Ok(
                    match LooseMap::deserialize(&mut de).and_then(|m| de.end().map(|_| m)) {
                        Ok(m) => m,
                        Err(_) => LooseMap(Vec::new()),
                    },
                )
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LooseMap(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LooseMap(Vec::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LooseMap(Vec::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LooseMap(Vec::new()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LooseMap(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LooseMap(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Key>()? {
                    let v = map.next_value::<ScalarText>()?;
                    out.push((k.0.into_owned(), v));
                }
                Ok(LooseMap(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `jsonContent` of a geospatial asset: lon/lat coordinates when its first layer says
/// `useClassicCoordinates: false` with a real EPSG code (not `TiledImage`). The API returns it
/// as JSON text (`kili.assets()` leaves it so), exports as a list: both are read.
struct GeoContent(bool);

/// Whether a `jsonContent` given as JSON text says lon/lat coordinates (a URL or any other text
/// does not).
pub(crate) fn geo_content_text(text: &str) -> bool {
    let mut de = serde_json::Deserializer::from_str(text);
    GeoContent::deserialize(&mut de)
        .and_then(|g| de.end().map(|_| g.0))
        .unwrap_or(false)
}

impl<'de> de::Deserialize<'de> for GeoContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GeoContent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                // Text holding a list is read as that list; text holding text is not read
                // again (no nesting).
                Ok(GeoContent(
                    v.trim_start().starts_with('[') && geo_content_text(v),
                ))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(GeoContent(false))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(GeoContent(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(GeoContent(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(GeoContent(false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(GeoContent(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(GeoContent(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<LooseMap>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                let Some(LooseMap(pairs)) = first else {
                    return Ok(GeoContent(false));
                };
                let get = |key: &str| {
                    pairs
                        .iter()
                        .rev()
                        .find(|(k, _)| k == key)
                        .and_then(|(_, v)| v.0.clone())
                };
                let classic = get("useClassicCoordinates");
                let epsg = get("epsg");
                Ok(GeoContent(
                    classic.as_deref() == Some("false") && epsg.is_some_and(|e| e != "TiledImage"),
                ))
            }
        }
        d.deserialize_any(V)
    }
}
