//! `area`: an object's area (sum of its parts, outer ring minus holes) within bounds.

use super::MissingResolution;
use crate::geometry::part_area;
use crate::label::{Label, Resolution};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, Rule, Unit};

pub fn check(
    rule: &Rule,
    label: &Label,
    res: &Resolution,
    min: Option<f64>,
    max: Option<f64>,
    unit: Unit,
    out: &mut Vec<Issue>,
) -> Result<(), MissingResolution> {
    for g in group_by_mid(in_scope(rule, label)) {
        if g.parts.is_empty() {
            continue;
        }
        let mut total = 0.0;
        for p in &g.parts {
            let (w, h) = match unit {
                Unit::Normalized => (1.0, 1.0),
                Unit::Pixels => res.for_page(p.page).ok_or(MissingResolution)?,
            };
            total += part_area(p) * w * h;
        }
        let limit = match (min, max) {
            (Some(lo), _) if total < lo => Some(lo),
            (_, Some(hi)) if total > hi => Some(hi),
            _ => None,
        };
        if let Some(limit) = limit {
            let vars = Vars {
                mid: g.mid,
                category: g.category,
                frame: g.frame,
                min,
                max,
                ..Vars::default()
            };
            out.push(issue(rule, vars, Some(total), Some(limit)));
        }
    }
    Ok(())
}
