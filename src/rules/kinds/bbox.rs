//! `box`: bounds on an object's bounding rectangle (width, height, aspect ratio).

use super::{scale, MissingResolution};
use crate::geometry::parts_bounds;
use crate::label::{Label, Resolution};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, BoxBounds, Issue, Rule, Unit};

pub fn check(
    rule: &Rule,
    label: &Label,
    res: &Resolution,
    b: &BoxBounds,
    unit: Unit,
    out: &mut Vec<Issue>,
) -> Result<(), MissingResolution> {
    for g in group_by_mid(in_scope(rule, label)) {
        let Some((x0, y0, x1, y1)) = parts_bounds(&g.parts) else {
            continue;
        };
        let (sw, sh) = scale(res, unit, g.parts.iter().map(|p| p.page)).ok_or(MissingResolution)?;
        let (w, h) = ((x1 - x0) * sw, (y1 - y0) * sh);
        let aspect = if h > 0.0 { w / h } else { f64::INFINITY };
        let checks = [
            ("width", w, b.min_width, true),
            ("width", w, b.max_width, false),
            ("height", h, b.min_height, true),
            ("height", h, b.max_height, false),
            ("aspect ratio", aspect, b.min_aspect, true),
            ("aspect ratio", aspect, b.max_aspect, false),
        ];
        let broken = checks.iter().find_map(|(name, v, bound, is_min)| {
            let bound = (*bound)?;
            let bad = if *is_min { *v < bound } else { *v > bound };
            bad.then_some((*name, *v, bound, *is_min))
        });
        if let Some((measure, v, bound, is_min)) = broken {
            let (min, max) = if is_min {
                (Some(bound), None)
            } else {
                (None, Some(bound))
            };
            let vars = Vars {
                mid: g.mid,
                category: g.category,
                frame: g.frame,
                measure: Some(measure),
                min,
                max,
                ..Vars::default()
            };
            out.push(issue(rule, vars, Some(v), Some(bound)));
        }
    }
    Ok(())
}
