//! A parsed input document: an asset record, a label dict or a bare jsonResponse.

use super::model::{Label, Name, Resolution};
use crate::error::LabelError;

/// One label of a document, with its id when the document gives one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedLabel {
    pub id: Option<Name>,
    pub label: Label,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// The asset id (for an asset record).
    pub id: Option<Name>,
    pub external_id: Option<Name>,
    pub resolution: Resolution,
    /// Every label the document holds: one for a label dict or a jsonResponse; for an asset
    /// record, `latestLabel`, then `latestLabels` / `labels`.
    pub labels: Vec<ParsedLabel>,
    /// The document was a label dict (it had `jsonResponse`).
    pub is_label: bool,
    /// The document was a bare jsonResponse.
    pub is_response: bool,
    /// An error found after the document's kind was known (bare jsonResponse entries).
    pub(crate) error: Option<LabelError>,
}
