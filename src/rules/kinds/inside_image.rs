//! `inside_image`: every vertex of an object within the image (with a tolerance).

use std::sync::Arc;

use super::lint_geometry;
use crate::label::{Geometry, Label, Pt, Resolution};
use crate::rules::interface::Interface;
use crate::rules::kind::{Check, Default, Field, FieldError, FieldType, Kind, Needs, Params};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, MissingResolution, Rule};

pub struct InsideImage;

const FIELDS: &[Field] = &[Field::new(
    "tolerance",
    FieldType::Number,
    "How far outside [0, 1] a coordinate may go",
)
.with_default(Default::Num(1e-6))];

impl Kind for InsideImage {
    fn name(&self) -> &'static str {
        "inside_image"
    }
    fn doc(&self) -> &'static str {
        "Every vertex within [0, 1], give or take `tolerance`."
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn compile(&self, p: &Params<'_>) -> Result<Arc<dyn Check>, FieldError> {
        Ok(Arc::new(InsideCheck {
            tolerance: p.num("tolerance").unwrap_or(1e-6),
        }))
    }
}

#[derive(Debug)]
struct InsideCheck {
    tolerance: f64,
}

impl Check for InsideCheck {
    fn default_message(&self, _has_category: bool) -> String {
        "Object {mid} has a vertex outside the image ({value})".into()
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
        check(rule, label, self.tolerance, out);
        Ok(())
    }
    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        lint_geometry(rule, iface, false, out);
    }
}

fn check(rule: &Rule, label: &Label, tol: f64, out: &mut Vec<Issue>) {
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
