//! `overlap`: two objects of the scope with IoU above a bound (duplicates). The issue goes on
//! the later object.

use crate::geometry::{bounds_overlap, iou_above, parts_bounds};
use crate::label::Label;
use crate::rules::template::Vars;
use crate::rules::Rule;
use crate::rules::{group_by_mid, in_scope, issue, Issue};

pub fn check(rule: &Rule, label: &Label, max_iou: f64, same_category: bool, out: &mut Vec<Issue>) {
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
