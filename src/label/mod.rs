//! Kili jsonResponse model and its readers. The reader from Python objects lives with the
//! bindings (src/python/), since it needs PyO3; both build the same model.

pub mod doc;
pub mod json;
pub mod model;

pub use doc::{Document, ParsedLabel};
pub use model::*;

#[cfg(test)]
mod tests;
