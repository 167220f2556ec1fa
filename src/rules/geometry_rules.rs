//! Rules on one object's geometry: `area`, `box`, `inside_image`, `valid_polygon`.

use super::{group_by_mid, in_scope, issue, Issue};
use crate::geometry::{part_area, parts_bounds, validate_part};
use crate::label::{Geometry, Label, Pt, Resolution};
use crate::ruleset::{BoxBounds, Rule, Unit};
use crate::template::Vars;

/// A pixel-unit rule met an object whose asset (or PDF page) has no known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingResolution;

/// Pixel scale of a group: all its parts must sit on pages of known size (or the asset's).
fn scale(
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

pub fn area(
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

pub fn bbox(
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

pub fn inside_image(rule: &Rule, label: &Label, tol: f64, out: &mut Vec<Issue>) {
    for g in group_by_mid(in_scope(rule, label)) {
        // The coordinate furthest outside [0, 1], and the edge it crossed.
        let mut worst: Option<(f64, f64)> = None;
        let mut visit = |p: &Pt| {
            for c in [p.x, p.y] {
                let (excess, edge) = if c < 0.0 { (-c, 0.0) } else { (c - 1.0, 1.0) };
                if excess > tol && worst.is_none_or(|(w, _)| excess > (w - edge).abs()) {
                    worst = Some((c, edge));
                }
            }
        };
        for o in &g.objects {
            match &o.geometry {
                Geometry::Point(p) => visit(p),
                Geometry::Line(l) => l.iter().for_each(&mut visit),
                Geometry::Parts(ps) => ps
                    .iter()
                    .flat_map(|p| p.rings.iter().flatten())
                    .for_each(&mut visit),
                Geometry::None => {}
            }
        }
        if let Some((value, edge)) = worst {
            let vars = Vars {
                mid: g.mid,
                category: g.category,
                frame: g.frame,
                min: Some(0.0),
                max: Some(1.0),
                ..Vars::default()
            };
            out.push(issue(rule, vars, Some(value), Some(edge)));
        }
    }
}

pub fn valid_polygon(rule: &Rule, label: &Label, out: &mut Vec<Issue>) {
    for g in group_by_mid(in_scope(rule, label)) {
        let problem = g
            .parts
            .iter()
            .enumerate()
            .find_map(|(i, p)| validate_part(p).err().map(|e| (i, e)));
        if let Some((i, why)) = problem {
            let reason = if g.parts.len() > 1 {
                format!("part {}: {why}", i + 1)
            } else {
                why.to_string()
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
