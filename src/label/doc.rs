//! A parsed input document: an asset record, a label dict or a bare jsonResponse.

use super::model::{Label, LabelInfo, Name, Resolution};
use crate::error::LabelError;

/// One label of a document, with its id when the document gives one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedLabel {
    pub id: Option<Name>,
    pub label: Label,
    /// Author, creation time and type of the label, when the record has them.
    pub info: LabelInfo,
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
    /// The asset's workflow status (`status`: TODO, ONGOING, LABELED, REVIEWED, TO_REVIEW).
    pub status: Option<Name>,
    /// The asset's `jsonMetadata`: its scalar entries, as strings, in the record's order.
    pub metadata: Vec<(Name, String)>,
    /// A label record's asset (`labelOf.id`, `labelOf.externalId`), as `kili.labels()` gives.
    pub label_of_id: Option<Name>,
    pub label_of_external_id: Option<Name>,
    /// The asset's coordinates are longitude/latitude (a geospatial asset: `jsonContent[0]`
    /// with `useClassicCoordinates: false`); its objects are marked `lonlat`.
    pub lonlat: bool,
    /// An error found after the document's kind was known (bare jsonResponse entries).
    pub(crate) error: Option<LabelError>,
}

impl Document {
    /// The asset the labels belong to: the record's id, or a label record's `labelOf.id`.
    pub fn asset_id(&self) -> Option<&Name> {
        if self.is_label {
            self.label_of_id.as_ref()
        } else {
            self.id.as_ref()
        }
    }

    /// The asset's external id, from the record or from a label record's `labelOf`.
    pub fn asset_external_id(&self) -> Option<&Name> {
        self.external_id
            .as_ref()
            .or(self.label_of_external_id.as_ref())
    }
}
