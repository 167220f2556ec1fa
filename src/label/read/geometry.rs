//! Geometry: vertices, `boundingPoly` (masks: outer rings, holes, parts), PDF layers, and which
//! geometry an annotation keeps.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smallvec::{smallvec, SmallVec};

use super::scalars::{Key, Num};
use crate::label::model::{Geometry, Part, Pt, Ring};

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
pub(super) struct BoundingPoly(Vec<PolyElem>);

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
    pub(super) fn into_parts(self, pages: &[u32]) -> Vec<Part> {
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

/// PDF: the inner `annotations` layer, `[{pageNumberArray, boundingPoly, polys}]`.
pub(super) struct PdfLayers(pub(super) Vec<Part>);

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
