//! A document and its kind: an asset record, a label dict or a bare jsonResponse, with its
//! record fields; the `Source` of what the reader sets aside (JSON text here, Python objects in
//! src/python/).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::labels::{HeldListSeed, LabelListSeed, OptLabelSeed, ResponseField};
use super::location::{locate_error, read_entry_from, read_label_from};
use super::record::{AuthorEmail, GeoContent, LabelOf, Metadata, PageSize, ScalarText, Size};
use super::scalars::{Key, LooseId};
use crate::error::{LabelError, PathPart};
use crate::label::doc::{Document, ParsedLabel};
use crate::label::model::{Label, LabelField, LabelInfo, ReadOpts};

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
    pub(super) inline: bool,
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
