//! A compiled rule: scope, severity, message and the kind's parameters.

use super::template::Template;
use super::Severity;
use crate::label::Name;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Normalized,
    Pixels,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Count {
        min: Option<f64>,
        max: Option<f64>,
    },
    Area {
        min: Option<f64>,
        max: Option<f64>,
        unit: Unit,
    },
    Box {
        bounds: BoxBounds,
        unit: Unit,
    },
    InsideImage {
        tolerance: f64,
    },
    ValidPolygon,
    Overlap {
        max_iou: f64,
        same_category: bool,
    },
    Required {
        child: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BoxBounds {
    pub min_width: Option<f64>,
    pub max_width: Option<f64>,
    pub min_height: Option<f64>,
    pub max_height: Option<f64>,
    pub min_aspect: Option<f64>,
    pub max_aspect: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub kind: &'static str,
    pub job: Name,
    pub category: Option<Name>,
    pub severity: Severity,
    pub message: Template,
    pub spec: Spec,
}

impl Rule {
    pub fn needs_geometry(&self) -> bool {
        !matches!(self.spec, Spec::Count { .. } | Spec::Required { .. })
    }

    pub fn needs_pixels(&self) -> bool {
        matches!(
            self.spec,
            Spec::Area {
                unit: Unit::Pixels,
                ..
            } | Spec::Box {
                unit: Unit::Pixels,
                ..
            }
        )
    }
}
