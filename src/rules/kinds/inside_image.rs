//! `inside_image`: every vertex of an object within the image (with a tolerance).

use crate::label::{Geometry, Label, Pt};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, Rule};

pub fn check(rule: &Rule, label: &Label, tol: f64, out: &mut Vec<Issue>) {
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
