//! A jsonResponse: its entries (video frames, `assetLevel`, jobs), a job's payload, `children`
//! and the categories of a classification job.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use super::annotation::AnnotationsSeed;
use super::scalars::{Key, LooseId};
use crate::error::LabelError;
use crate::label::model::{frame_index, is_ignored_job, Answer, Label, Name, ParentRef, ReadOpts};

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

/// A whole jsonResponse (possibly video, keyed by frame) into `label`.
pub(super) struct ResponseSeed<'a> {
    pub(super) label: &'a mut Label,
    pub(super) frame: Option<u32>,
    pub(super) opts: ReadOpts,
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
pub(super) struct ChildrenSeed<'a> {
    pub(super) label: &'a mut Label,
    pub(super) frame: Option<u32>,
    pub(super) opts: ReadOpts,
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
pub(super) struct CategorySeed<'a, 'j> {
    pub(super) label: &'a mut Label,
    pub(super) frame: Option<u32>,
    pub(super) opts: ReadOpts,
    /// The classification job the category answers; None inside an annotation (whose
    /// object is then the parent of the children).
    pub(super) job: Option<&'j str>,
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
