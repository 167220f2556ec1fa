//! Kili jsonResponse model and its one reader (`json`): every decision about what the format
//! means (document kinds, labels, jobs, children, PDF layers, video frames, the depth limit,
//! the wording of errors) is made there. Python objects reach it as JSON text written by the
//! bindings (src/python/reader.rs), so a dict and its JSON text cannot mean different things.

pub mod doc;
pub mod json;
pub mod model;

pub use doc::{Document, ParsedLabel};
pub use model::*;

#[cfg(test)]
mod tests;
