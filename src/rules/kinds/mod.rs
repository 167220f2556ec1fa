//! The registry of rule kinds: one file each. Adding a kind = its file, one line in
//! `REGISTRY`, its tests and its docs; parsing, schema, lint and Python follow from it.

pub mod answer;
pub mod area;
pub mod bbox;
pub mod checksum;
pub mod count;
pub mod entity;
pub mod inside_image;
pub mod overlap;
pub mod required;
pub mod text;
pub mod valid_polygon;

use super::interface::{who, Interface};
use super::kind::Kind;
use super::Rule;
use crate::label::Resolution;
use crate::rules::Unit;

/// Every kind, in the order the schema and the docs list them.
pub static REGISTRY: &[&dyn Kind] = &[
    &count::Count,
    &area::Area,
    &bbox::Box,
    &inside_image::InsideImage,
    &valid_polygon::ValidPolygon,
    &overlap::Overlap,
    &required::Required,
    &answer::AnswerKind,
    &text::Text,
    &entity::Entity,
];

/// The kind of that name.
pub fn find(name: &str) -> Option<&'static dyn Kind> {
    REGISTRY.iter().copied().find(|k| k.name() == name)
}

pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|k| k.name()).collect()
}

/// The doc of the `unit` field shared by the measuring kinds
/// (`unit: Unit = Choice(Unit::NAMES), UNIT_DOC, default Unit::Normalized;`).
pub(crate) const UNIT_DOC: &str =
    "normalized (fractions of the image) or pixels (needs the asset resolution)";

/// The end of a default message about a bounded number: "at least {min}", "at most {max}" or
/// "between {min} and {max}", each bound shown with `spec` (`:%`, `:~` or "") and `unit` after.
pub(crate) fn bounds_text(min: Option<f64>, max: Option<f64>, spec: &str, unit: &str) -> String {
    match (min, max) {
        (Some(_), Some(_)) => format!("between {{min{spec}}}{unit} and {{max{spec}}}{unit}"),
        (Some(_), None) => format!("at least {{min{spec}}}{unit}"),
        _ => format!("at most {{max{spec}}}{unit}"),
    }
}

/// Geometry rules need an object detection job.
pub(crate) fn lint_geometry(
    rule: &Rule,
    iface: &Interface<'_>,
    polygonal: bool,
    out: &mut Vec<String>,
) {
    let Some(job) = iface.job(&rule.job) else {
        return;
    };
    let ml = job.ml_task();
    if ml != "OBJECT_DETECTION" {
        out.push(format!(
            "{}: a geometry rule on job '{}', whose mlTask is '{ml}', not OBJECT_DETECTION",
            who(rule),
            rule.job
        ));
    } else if polygonal {
        let tools = job.tools();
        if !tools
            .iter()
            .any(|t| matches!(*t, "rectangle" | "polygon" | "semantic"))
        {
            out.push(format!(
                "{}: job '{}' draws no rectangles, polygons or masks (tools: {})",
                who(rule),
                rule.job,
                tools.join(", ")
            ));
        }
    }
}

/// A pixel-unit rule met an object whose asset (or PDF page) has no known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingResolution;

/// Pixel scale of a group: all its parts must sit on pages of known size (or the asset's).
pub(crate) fn scale(
    res: &Resolution,
    unit: Unit,
    pages: impl Iterator<Item = Option<u32>>,
) -> Option<(f64, f64)> {
    match unit {
        Unit::Normalized => Some((1.0, 1.0)),
        Unit::Pixels => {
            let mut out = None;
            for p in pages {
                let s = res.for_page(p)?;
                out = Some(s);
            }
            out.or(res.size)
        }
    }
}
