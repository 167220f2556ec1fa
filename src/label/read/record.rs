//! Record fields that only describe (author, status, metadata...): any shape is accepted, what
//! is not a scalar is skipped, so that they never make a label unreadable.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::scalars::Key;
use crate::label::model::Name;

#[derive(serde::Deserialize)]
pub(super) struct Size {
    pub(super) width: f64,
    pub(super) height: f64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageSize {
    pub(super) page_number: u32,
    pub(super) width: f64,
    pub(super) height: f64,
}

/// A scalar as text: strings as they are, numbers and booleans written out; others None.
pub(crate) struct ScalarText(pub Option<String>);

impl ScalarText {
    pub(super) fn name(self) -> Option<Name> {
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
pub(super) struct AuthorEmail(pub(super) Option<Name>);

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
pub(super) struct LabelOf(pub(super) (Option<Name>, Option<Name>));

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
pub(super) struct Metadata(pub(super) Vec<(Name, String)>);

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
pub(super) struct GeoContent(pub(super) bool);

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
