//! `box`: bounds on an object's bounding rectangle: width, height, aspect ratio, and the
//! extent's area (width x height).

use std::sync::Arc;

use super::{lint_geometry, scale, MissingResolution, UNIT};
use crate::geometry::parts_bounds;
use crate::label::{Label, Resolution};
use crate::rules::interface::Interface;
use crate::rules::kind::{Check, Field, FieldError, FieldType, Kind, Needs, Params};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, Rule, Unit};

pub struct Box;

const FIELDS: &[Field] = &[
    Field::new("min_width", FieldType::Number, "Smallest width of the bounding rectangle"),
    Field::new("max_width", FieldType::Number, "Largest width of the bounding rectangle"),
    Field::new("min_height", FieldType::Number, "Smallest height of the bounding rectangle"),
    Field::new("max_height", FieldType::Number, "Largest height of the bounding rectangle"),
    Field::new("min_aspect", FieldType::Number, "Smallest width / height"),
    Field::new("max_aspect", FieldType::Number, "Largest width / height"),
    Field::new(
        "min_area",
        FieldType::Number,
        "Smallest width x height of the axis-aligned extent",
    ),
    Field::new(
        "max_area",
        FieldType::Number,
        "Largest width x height of the axis-aligned extent, computed as Python's (max(xs) - min(xs)) * (max(ys) - min(ys))",
    ),
    UNIT,
];

#[derive(Debug, Clone, Copy)]
enum Measure {
    Width,
    Height,
    Aspect,
    Area,
}

impl Measure {
    fn name(self) -> &'static str {
        match self {
            Measure::Width => "width",
            Measure::Height => "height",
            Measure::Aspect => "aspect ratio",
            Measure::Area => "extent area",
        }
    }
}

/// (field, measure, is a lower bound), in the order a box's bounds are tried.
const BOUNDS: [(&str, Measure, bool); 8] = [
    ("min_width", Measure::Width, true),
    ("max_width", Measure::Width, false),
    ("min_height", Measure::Height, true),
    ("max_height", Measure::Height, false),
    ("min_aspect", Measure::Aspect, true),
    ("max_aspect", Measure::Aspect, false),
    ("min_area", Measure::Area, true),
    ("max_area", Measure::Area, false),
];

impl Kind for Box {
    fn name(&self) -> &'static str {
        "box"
    }
    fn doc(&self) -> &'static str {
        "Bounding-rectangle width, height, aspect ratio (width / height) and extent area (width x height)."
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn compile(&self, p: &Params<'_>) -> Result<Arc<dyn Check>, FieldError> {
        p.ordered("min_width", "max_width")?;
        p.ordered("min_height", "max_height")?;
        p.ordered("min_aspect", "max_aspect")?;
        p.ordered("min_area", "max_area")?;
        let names: Vec<&str> = BOUNDS.iter().map(|b| b.0).collect();
        p.need_one(&names)?;
        Ok(Arc::new(BoxCheck {
            bounds: BOUNDS.map(|(f, _, _)| p.num(f)),
            unit: Unit::from_name(p.text("unit")),
        }))
    }
}

#[derive(Debug)]
struct BoxCheck {
    /// The bound of each entry of `BOUNDS`, if set.
    bounds: [Option<f64>; 8],
    unit: Unit,
}

impl Check for BoxCheck {
    fn default_message(&self, _has_category: bool) -> String {
        "Object {mid} has {measure} {value}, limit {limit}".into()
    }
    fn needs(&self) -> Needs {
        Needs {
            geometry: true,
            pixels: self.unit == Unit::Pixels,
        }
    }
    fn check(
        &self,
        rule: &Rule,
        label: &Label,
        res: &Resolution,
        out: &mut Vec<Issue>,
    ) -> Result<(), MissingResolution> {
        for g in group_by_mid(in_scope(rule, label)) {
            let Some((x0, y0, x1, y1)) = parts_bounds(&g.parts) else {
                continue;
            };
            let (sw, sh) =
                scale(res, self.unit, g.parts.iter().map(|p| p.page)).ok_or(MissingResolution)?;
            // In normalized units the scale is 1.0 and multiplying by it is exact, so
            // `w * h` is bit for bit Python's `(max(xs) - min(xs)) * (max(ys) - min(ys))`.
            let (w, h) = ((x1 - x0) * sw, (y1 - y0) * sh);
            let aspect = if h > 0.0 { w / h } else { f64::INFINITY };
            let area = w * h;
            let broken =
                BOUNDS
                    .iter()
                    .zip(self.bounds)
                    .find_map(|(&(_, measure, is_min), bound)| {
                        let bound = bound?;
                        let v = match measure {
                            Measure::Width => w,
                            Measure::Height => h,
                            Measure::Aspect => aspect,
                            Measure::Area => area,
                        };
                        let bad = if is_min { v < bound } else { v > bound };
                        bad.then_some((measure.name(), v, bound, is_min))
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
    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        lint_geometry(rule, iface, true, out);
    }
}
