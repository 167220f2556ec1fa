//! `overlap`: two objects of the scope with IoU above a bound (duplicates). The issue goes on
//! the later object.

use std::sync::Arc;

use super::lint_geometry;
use crate::geometry::{bounds_overlap, iou_above, parts_bounds};
use crate::label::{Label, Resolution};
use crate::rules::interface::Interface;
use crate::rules::kind::{Check, Default, Field, FieldError, FieldType, Kind, Needs, Params};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, MissingResolution, Rule};

pub struct Overlap;

const FIELDS: &[Field] = &[
    Field::new("max_iou", FieldType::Number, "Largest IoU allowed (0 to 1)")
        .with_default(Default::Num(0.9)),
    Field::new(
        "same_category",
        FieldType::Bool,
        "Compare only objects of the same category",
    )
    .with_default(Default::Bool(true)),
];

impl Kind for Overlap {
    fn name(&self) -> &'static str {
        "overlap"
    }
    fn doc(&self) -> &'static str {
        "IoU of two objects of the scope at most `max_iou` (duplicates)."
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn compile(&self, p: &Params<'_>) -> Result<Arc<dyn Check>, FieldError> {
        let max_iou = p.num("max_iou").unwrap_or(0.9);
        if max_iou > 1.0 {
            return Err(FieldError::new("max_iou", "must be between 0 and 1"));
        }
        Ok(Arc::new(OverlapCheck {
            max_iou,
            same_category: p.bool("same_category").unwrap_or(true),
        }))
    }
}

#[derive(Debug)]
struct OverlapCheck {
    max_iou: f64,
    same_category: bool,
}

impl Check for OverlapCheck {
    fn default_message(&self, _has_category: bool) -> String {
        "Object {mid} overlaps {other} (IoU {value} > {max})".into()
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
        check(rule, label, self.max_iou, self.same_category, out);
        Ok(())
    }
    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        lint_geometry(rule, iface, true, out);
    }
}

fn check(rule: &Rule, label: &Label, max_iou: f64, same_category: bool, out: &mut Vec<Issue>) {
    let groups: Vec<_> = group_by_mid(in_scope(rule, label))
        .into_iter()
        .filter(|g| !g.parts.is_empty())
        .filter_map(|g| parts_bounds(&g.parts).map(|b| (g, b)))
        .collect();
    for (j, (later, bl)) in groups.iter().enumerate() {
        for (earlier, be) in groups.iter().take(j) {
            if earlier.frame != later.frame || (same_category && earlier.category != later.category)
            {
                continue;
            }
            if !bounds_overlap(*be, *bl) {
                continue;
            }
            if let Some(v) = iou_above(&earlier.parts, &later.parts, max_iou) {
                let vars = Vars {
                    mid: later.mid,
                    category: later.category,
                    frame: later.frame,
                    other: earlier.mid,
                    max: Some(max_iou),
                    ..Vars::default()
                };
                out.push(issue(rule, vars, Some(v), Some(max_iou)));
            }
        }
    }
}
