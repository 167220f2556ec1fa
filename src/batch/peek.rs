//! The ids of an input that could not be read, told from its JSON text when that is sound.

use serde::de::IgnoredAny;

use crate::label::read::LooseId;

/// The ids of an input that could not be read, as far as they can be told: nothing is lost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ids {
    pub asset_id: Option<String>,
    pub external_id: Option<String>,
    pub label_id: Option<String>,
}

impl Ids {
    /// A document's `id` is its label's when it has `jsonResponse` (a label dict), else its
    /// asset's.
    pub fn of(id: Option<String>, external_id: Option<String>, is_label: bool) -> Self {
        let (label_id, asset_id) = if is_label { (id, None) } else { (None, id) };
        Ids {
            asset_id,
            external_id,
            label_id,
        }
    }
}

/// The ids of a document that could not be read as a label, when its JSON is still sound.
pub fn peek_ids(bytes: &[u8]) -> Ids {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match peek_ids_from(&mut de) {
        Some(ids) if de.end().is_ok() => ids,
        _ => Ids::default(),
    }
}

/// The same from any source of the document (a Python dict reads through its Deserializer).
pub fn peek_ids_from<'de, D: serde::Deserializer<'de>>(de: D) -> Option<Ids> {
    #[derive(serde::Deserialize)]
    struct Peek {
        id: Option<LooseId>,
        #[serde(rename = "externalId")]
        external_id: Option<LooseId>,
        #[serde(rename = "jsonResponse")]
        json_response: Option<IgnoredAny>,
    }
    let p = <Peek as serde::Deserialize>::deserialize(de).ok()?;
    let id = p.id.and_then(|i| i.0).map(|n| n.to_string());
    let external_id = p.external_id.and_then(|i| i.0).map(|n| n.to_string());
    Some(Ids::of(id, external_id, p.json_response.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_unreadable_documents() {
        let i = peek_ids(br#"{"id": "L", "externalId": 7, "jsonResponse": {"J": []}}"#);
        assert_eq!(
            (i.label_id.as_deref(), i.asset_id, i.external_id.as_deref()),
            (Some("L"), None, Some("7"))
        );
        let i = peek_ids(br#"{"id": "A", "latestLabel": {"jsonResponse": "{broken"}}"#);
        assert_eq!((i.asset_id.as_deref(), i.label_id), (Some("A"), None));
        assert_eq!(peek_ids(b"{not json"), Ids::default());
    }
}
