//! `valid_polygon`: enough distinct vertices, positive area, no self-intersection, holes inside.

use std::sync::Arc;

use super::lint_geometry;
use crate::geometry::{validate_part, Invalid};
use crate::label::{Label, Resolution};
use crate::rules::interface::Interface;
use crate::rules::kind::{fields, Check, FieldError, Needs, TypedKind};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, MissingResolution, Rule};

pub struct ValidPolygon;

fields! {
    pub struct ValidPolygonFields {}
}

impl TypedKind for ValidPolygon {
    type Fields = ValidPolygonFields;
    const NAME: &'static str = "valid_polygon";
    const DOC: &'static str =
        ">= 3 distinct vertices, non-zero area, no self-intersection, holes inside.";
    fn compile(&self, _f: ValidPolygonFields) -> Result<Arc<dyn Check>, FieldError> {
        Ok(Arc::new(ValidCheck))
    }
}

#[derive(Debug)]
struct ValidCheck;

impl Check for ValidCheck {
    fn default_message(&self, _has_category: bool) -> String {
        "This {what} shape {reason}.".into()
    }
    fn needs(&self) -> Needs {
        Needs {
            geometry: true,
            pixels: false,
        }
    }
    fn check(
        &self,
        rule: &Rule,
        label: &Label,
        _res: &Resolution,
        out: &mut Vec<Issue>,
    ) -> Result<(), MissingResolution> {
        check(rule, label, out);
        Ok(())
    }
    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        lint_geometry(rule, iface, true, out);
    }
}

fn check(rule: &Rule, label: &Label, out: &mut Vec<Issue>) {
    for g in group_by_mid(in_scope(rule, label)) {
        let problem = g
            .parts
            .iter()
            .enumerate()
            .find_map(|(i, p)| validate_part(p).err().map(|e| (i, e)));
        if let Some((i, why)) = problem {
            let reason = if g.parts.len() > 1 {
                format!(
                    "has a part ({} of {}) that {}",
                    i + 1,
                    g.parts.len(),
                    advice(&why)
                )
            } else {
                advice(&why)
            };
            let vars = Vars {
                mid: g.mid,
                category: g.category,
                frame: g.frame,
                reason: Some(&reason),
                ..Vars::default()
            };
            out.push(issue(rule, vars, None, None));
        }
    }
}

/// What is wrong with a shape and how to fix it, in the annotator's words (the coordinates
/// of a crossing are left out: the annotator sees the shape).
fn advice(why: &Invalid) -> String {
    let hole = |r: &usize| *r > 0;
    match why {
        Invalid::NonFinite { .. } => "has a point with no valid position: redraw it".into(),
        Invalid::TooFewPoints { ring } if hole(ring) => {
            "has a hole with fewer than 3 distinct points: remove the hole or redraw it".into()
        }
        Invalid::TooFewPoints { .. } => {
            "has fewer than 3 distinct points: redraw it with at least 3 points".into()
        }
        Invalid::ZeroArea { ring } if hole(ring) => {
            "has a hole with no area (its points are on one line): remove the hole".into()
        }
        Invalid::ZeroArea { .. } => "has no area (its points are on one line): redraw it".into(),
        Invalid::SelfIntersection { ring, .. } if hole(ring) => {
            "has a hole whose edges cross: redraw the hole without crossing edges".into()
        }
        Invalid::SelfIntersection { .. } => {
            "crosses itself: redraw it without crossing edges".into()
        }
        Invalid::RingsIntersect { a, b, .. } if hole(a) && hole(b) => {
            "has two holes that cross each other: redraw them apart".into()
        }
        Invalid::RingsIntersect { .. } => {
            "has a hole that crosses its outline: keep holes inside the shape".into()
        }
        Invalid::HoleOutside { .. } => {
            "has a hole outside its outline: remove the hole or move it inside".into()
        }
        Invalid::NestedHoles { .. } => "has a hole inside another hole: remove one of them".into(),
        Invalid::TooComplex { segments } => {
            format!("is too complex to check ({segments} edges): simplify it")
        }
    }
}
