//! The one reader of the Kili format: serde seeds and visitors that build the label model while
//! reading, borrowing from the input and skipping whatever no rule needs. No JSON DOM is built
//! (serde_json's `Value` was measured 8x slower than typed parsing). JSON text drives them
//! through serde_json; Python objects through the bindings' Deserializer (src/python/de.rs).
//!
//! One file per job, from the document down:
//! - `document`: the entry point, a document's kind (asset record, label, bare jsonResponse),
//!   its record fields, and the `Source` of what the reader sets aside;
//! - `labels`: a label object, its `jsonResponse`, a record's lists of labels;
//! - `response`: a jsonResponse's entries (frames, `assetLevel`, jobs), jobs, children, the
//!   categories of classification jobs;
//! - `annotation`: annotations of object, NER, relation and pose jobs;
//! - `geometry`: vertices, `boundingPoly`, PDF layers;
//! - `record`: the describing fields of a record (author, status, metadata, `jsonContent`);
//! - `scalars`: keys, ids, finite numbers;
//! - `location`: reading a failed document again to name the path of its error.

mod annotation;
mod document;
mod geometry;
mod labels;
mod location;
mod record;
mod response;
mod scalars;

pub use document::{parse_document, DocSeed, Source};
pub use location::{read_entry_from, read_label_from};
pub use response::parse_json_response;
pub use scalars::LooseId;
