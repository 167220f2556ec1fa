//! The labels of a document: a label object, its `jsonResponse` (an object or JSON text), and
//! a record's lists of labels, read in place or each held for a reader of its own.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use super::record::{AuthorEmail, ScalarText};
use super::response::{parse_json_response, ResponseSeed};
use super::scalars::{Key, LooseId};
use crate::label::doc::ParsedLabel;
use crate::label::model::{Label, LabelField, LabelInfo, ReadOpts};

/// `jsonResponse`: an object, a JSON string holding one, or null / "".
pub(super) struct ResponseField {
    pub(super) opts: ReadOpts,
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
pub(super) struct OptLabelSeed {
    pub(super) opts: ReadOpts,
    pub(super) field: LabelField,
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
pub(super) struct LabelListSeed {
    pub(super) opts: ReadOpts,
    pub(super) field: LabelField,
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
pub(super) struct HeldListSeed<H>(pub(super) PhantomData<H>);

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
