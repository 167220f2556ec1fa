//! A compiled rule: scope, severity, message, condition, and its kind's check.

use std::sync::Arc;

use super::kind::{Check, Needs};
use super::template::Template;
use super::when::When;
use super::Severity;
use crate::label::Name;

/// Lengths are measured in normalized units (fractions of the image) or pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Normalized,
    Pixels,
}

impl Unit {
    pub const NAMES: &'static [&'static str] = &["normalized", "pixels"];

    pub fn name(self) -> &'static str {
        match self {
            Unit::Normalized => "normalized",
            Unit::Pixels => "pixels",
        }
    }

    pub fn from_name(s: Option<&str>) -> Unit {
        match s {
            Some("pixels") => Unit::Pixels,
            _ => Unit::Normalized,
        }
    }
}

impl super::kind::DocDefault for Unit {
    fn doc_default(&self) -> super::kind::Default {
        super::kind::Default::Text(self.name())
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub kind: &'static str,
    pub job: Name,
    pub category: Option<Name>,
    pub severity: Severity,
    pub message: Template,
    pub when: Option<When>,
    pub check: Arc<dyn Check>,
}

impl Rule {
    pub fn needs(&self) -> Needs {
        self.check.needs()
    }

    pub fn needs_geometry(&self) -> bool {
        self.needs().geometry
    }

    pub fn needs_pixels(&self) -> bool {
        self.needs().pixels
    }
}
