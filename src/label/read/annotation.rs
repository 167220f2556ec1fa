//! The annotations of object, NER, relation and pose jobs.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::geometry::{pick_geometry, BoundingPoly, PdfLayers};
use super::response::{CategorySeed, ChildrenSeed};
use super::scalars::{Key, LooseId};
use crate::label::model::{
    Label, Name, Object, ParentRef, Part, Pt, ReadOpts, Relation, Ring, Span,
};

/// `annotations` of an object / NER / relation job. Returns how many were read.
pub(super) struct AnnotationsSeed<'a, 'j> {
    pub(super) label: &'a mut Label,
    pub(super) job: &'j str,
    pub(super) frame: Option<u32>,
    pub(super) opts: ReadOpts,
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
