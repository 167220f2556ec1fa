//! Kili jsonResponse model and its one reader (`read`): every decision about what the format
//! means (document kinds, labels, jobs, children, PDF layers, video frames, the depth limit,
//! the wording of errors) is made there, as serde seeds. JSON text drives them through
//! serde_json; Python objects through the bindings' Deserializer over borrowed objects
//! (src/python/de.rs), so a dict and its JSON text cannot mean different things.

pub mod doc;
pub mod model;
pub mod read;

pub use doc::{Document, ParsedLabel};
pub use model::*;

#[cfg(test)]
mod tests;
