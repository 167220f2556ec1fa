//! `inside_image`: every vertex of an object within the image (with a tolerance).

use std::sync::Arc;

use super::lint_geometry;
use crate::label::{Geometry, Label, Pt, Resolution};
use crate::rules::interface::Interface;
use crate::rules::kind::{fields, ordered, Check, FieldError, Needs, TypedKind};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, MissingResolution, Rule};

pub struct InsideImage;

fields! {
    pub struct InsideImageFields {
        tolerance: f64 = Number, "How far outside the bounds a coordinate may go", default 1e-6;
        min_x: f64 = Signed,
            "Explicit bounds (all four or none): smallest x (longitude for lon/lat labels)";
        min_y: f64 = Signed, "Explicit bounds: smallest y (latitude)";
        max_x: f64 = Signed, "Explicit bounds: largest x (longitude)";
        max_y: f64 = Signed, "Explicit bounds: largest y (latitude)";
    }
}

/// The explicit bounds' fields, in the order of `[f.min_x, f.min_y, f.max_x, f.max_y]`.
const BOUNDS: [&str; 4] = ["min_x", "min_y", "max_x", "max_y"];

impl TypedKind for InsideImage {
    type Fields = InsideImageFields;
    const NAME: &'static str = "inside_image";
    const DOC: &'static str =
        "Every vertex within [0, 1] (or the explicit bounds), give or take `tolerance`; \
         lon/lat (geospatial) objects only against explicit bounds.";
    fn compile(&self, f: InsideImageFields) -> Result<Arc<dyn Check>, FieldError> {
        let bounds = match [f.min_x, f.min_y, f.max_x, f.max_y] {
            [None, None, None, None] => None,
            [Some(x0), Some(y0), Some(x1), Some(y1)] => {
                ordered!(f, min_x, max_x)?;
                ordered!(f, min_y, max_y)?;
                Some(Bounds { x0, y0, x1, y1 })
            }
            set => {
                let missing = BOUNDS
                    .iter()
                    .zip(set)
                    .find_map(|(n, v)| v.is_none().then_some(*n))
                    .unwrap_or("min_x");
                return Err(FieldError::new(
                    missing,
                    "explicit bounds need all four of min_x, min_y, max_x, max_y",
                ));
            }
        };
        Ok(Arc::new(InsideCheck {
            tolerance: f.tolerance(),
            bounds,
        }))
    }
}

/// The box coordinates must stay in.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

/// Normalized image coordinates.
const UNIT: Bounds = Bounds {
    x0: 0.0,
    y0: 0.0,
    x1: 1.0,
    y1: 1.0,
};

#[derive(Debug)]
struct InsideCheck {
    tolerance: f64,
    /// Explicit bounds: every object is judged against them, lon/lat ones included. Without,
    /// objects are judged against [0, 1] and lon/lat ones (degrees) are not judged.
    bounds: Option<Bounds>,
}

impl Check for InsideCheck {
    fn default_message(&self, _has_category: bool) -> String {
        if self.bounds.is_some() {
            "This {what} goes outside the allowed area: move its points inside it.".into()
        } else {
            "This {what} goes outside the image: keep it inside the picture.".into()
        }
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
        check(rule, label, self.tolerance, self.bounds, out);
        Ok(())
    }
    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        lint_geometry(rule, iface, false, out);
    }
}

fn check(rule: &Rule, label: &Label, tol: f64, bounds: Option<Bounds>, out: &mut Vec<Issue>) {
    // Lon/lat degrees are not normalized coordinates: without explicit bounds there is
    // nothing to judge them against.
    let judged = in_scope(rule, label).filter(|o| bounds.is_some() || !o.lonlat);
    let b = bounds.unwrap_or(UNIT);
    for g in group_by_mid(judged) {
        // The coordinate furthest outside the bounds (by its excess), the edge it crossed, and
        // its axis's range.
        let mut worst: Option<(f64, f64, f64, (f64, f64))> = None;
        let mut visit = |p: &Pt| {
            for (c, lo, hi) in [(p.x, b.x0, b.x1), (p.y, b.y0, b.y1)] {
                let (excess, edge) = if c < lo { (lo - c, lo) } else { (c - hi, hi) };
                if excess > tol && worst.is_none_or(|(w, ..)| excess > w) {
                    worst = Some((excess, c, edge, (lo, hi)));
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
        if let Some((_, value, edge, (lo, hi))) = worst {
            let vars = Vars {
                mid: g.mid,
                category: g.category,
                frame: g.frame,
                min: Some(lo),
                max: Some(hi),
                ..Vars::default()
            };
            out.push(issue(rule, vars, Some(value), Some(edge)));
        }
    }
}
