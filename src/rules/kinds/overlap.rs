//! `overlap`: two objects of the scope with IoU above a bound (duplicates). The issue goes on
//! the later object.

use std::sync::Arc;

use super::lint_geometry;
use crate::geometry::{bounds_overlap, iou_above, parts_bounds};
use crate::label::{Label, Resolution};
use crate::rules::interface::Interface;
use crate::rules::kind::{fields, Check, FieldError, Needs, TypedKind};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, MissingResolution, Rule};

pub struct Overlap;

fields! {
    pub struct OverlapFields {
        max_iou: f64 = Number, "Largest IoU allowed (0 to 1)", default 0.9;
        same_category: bool = Bool, "Compare only objects of the same category", default true;
    }
}

impl TypedKind for Overlap {
    type Fields = OverlapFields;
    const NAME: &'static str = "overlap";
    const DOC: &'static str = "IoU of two objects of the scope at most `max_iou` (duplicates).";
    fn compile(&self, f: OverlapFields) -> Result<Arc<dyn Check>, FieldError> {
        let max_iou = f.max_iou();
        if max_iou > 1.0 {
            return Err(FieldError::new("max_iou", "must be between 0 and 1"));
        }
        Ok(Arc::new(OverlapCheck {
            max_iou,
            same_category: f.same_category(),
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
        // IoU is the shared area over the area the two cover: near 1, one is a copy
        let how = if self.max_iou >= 0.5 {
            "almost completely"
        } else {
            "too much"
        };
        let fix = if self.max_iou >= 0.5 {
            "remove the duplicate"
        } else {
            "redraw them so they overlap less"
        };
        let other = if self.same_category {
            "another {what}"
        } else {
            "another object"
        };
        format!(
            "This {{what}} and {other} overlap {how} (IoU {{value:~}}, at most {{max:~}} allowed): {fix}."
        )
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
