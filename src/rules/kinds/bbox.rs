//! `box`: bounds on an object's bounding rectangle: width, height, aspect ratio, and the
//! extent's area (width x height).

use std::sync::Arc;

use super::{lint_geometry, scale, MissingResolution, UNIT_DOC};
use crate::geometry::parts_bounds;
use crate::label::{Label, Resolution};
use crate::rules::interface::Interface;
use crate::rules::kind::{fields, need_one, ordered, Check, FieldError, Needs, TypedKind};
use crate::rules::template::{fmt_human, Vars};
use crate::rules::{group_by_mid, in_scope, issue, Issue, Rule, Unit};

pub struct Box;

fields! {
    pub struct BoxFields {
        min_width: f64 = Number, "Smallest width of the bounding rectangle";
        max_width: f64 = Number, "Largest width of the bounding rectangle";
        min_height: f64 = Number, "Smallest height of the bounding rectangle";
        max_height: f64 = Number, "Largest height of the bounding rectangle";
        min_aspect: f64 = Number, "Smallest width / height";
        max_aspect: f64 = Number, "Largest width / height";
        min_area: f64 = Number, "Smallest width x height of the axis-aligned extent";
        max_area: f64 = Number,
            "Largest width x height of the axis-aligned extent, computed as Python's (max(xs) - min(xs)) * (max(ys) - min(ys))";
        unit: Unit = Choice(Unit::NAMES), UNIT_DOC, default Unit::Normalized;
    }
}

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

/// (measure, is a lower bound), in the order a box's bounds are tried: min_width, max_width,
/// min_height, max_height, min_aspect, max_aspect, min_area, max_area (see `compile`).
const BOUNDS: [(Measure, bool); 8] = [
    (Measure::Width, true),
    (Measure::Width, false),
    (Measure::Height, true),
    (Measure::Height, false),
    (Measure::Aspect, true),
    (Measure::Aspect, false),
    (Measure::Area, true),
    (Measure::Area, false),
];

impl TypedKind for Box {
    type Fields = BoxFields;
    const NAME: &'static str = "box";
    const DOC: &'static str =
        "Bounding-rectangle width, height, aspect ratio (width / height) and extent area (width x height).";
    fn compile(&self, f: BoxFields) -> Result<Arc<dyn Check>, FieldError> {
        ordered!(f, min_width, max_width)?;
        ordered!(f, min_height, max_height)?;
        ordered!(f, min_aspect, max_aspect)?;
        ordered!(f, min_area, max_area)?;
        need_one!(
            f, min_width, max_width, min_height, max_height, min_aspect, max_aspect, min_area,
            max_area
        )?;
        Ok(Arc::new(BoxCheck {
            bounds: [
                f.min_width,
                f.max_width,
                f.min_height,
                f.max_height,
                f.min_aspect,
                f.max_aspect,
                f.min_area,
                f.max_area,
            ],
            unit: f.unit(),
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
        // the reason says what is wrong in the measure's words (see `reason`)
        "This {what} {reason}.".into()
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
            let broken = BOUNDS
                .iter()
                .zip(self.bounds)
                .find_map(|(&(measure, is_min), bound)| {
                    let bound = bound?;
                    let v = match measure {
                        Measure::Width => w,
                        Measure::Height => h,
                        Measure::Aspect => aspect,
                        Measure::Area => area,
                    };
                    let bad = if is_min { v < bound } else { v > bound };
                    bad.then_some((measure, v, bound, is_min))
                });
            if let Some((measure, v, bound, is_min)) = broken {
                let why = reason(measure, is_min, v, bound, self.unit);
                let (min, max) = if is_min {
                    (Some(bound), None)
                } else {
                    (None, Some(bound))
                };
                let vars = Vars {
                    mid: g.mid,
                    category: g.category,
                    frame: g.frame,
                    measure: Some(measure.name()),
                    reason: Some(&why),
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

/// What is wrong with a box, for the annotator: "is too narrow: 0.8% of the image width, it
/// should be at least 1%" (normalized sizes as percentages of the image, pixels with units).
fn reason(measure: Measure, is_min: bool, v: f64, bound: f64, unit: Unit) -> String {
    let pct = |x: f64| format!("{}%", fmt_human(x * 100.0));
    let px = |x: f64, what: &str| format!("{} {what}", fmt_human(x));
    let limit = if is_min { "at least" } else { "at most" };
    match measure {
        Measure::Width | Measure::Height => {
            let (word, side, px_word) = match (measure, is_min) {
                (Measure::Width, true) => ("too narrow", "width", "pixels wide"),
                (Measure::Width, false) => ("too wide", "width", "pixels wide"),
                (_, true) => ("too short", "height", "pixels tall"),
                (_, false) => ("too tall", "height", "pixels tall"),
            };
            match unit {
                Unit::Normalized => format!(
                    "is {word}: {} of the image {side}, it should be {limit} {}",
                    pct(v),
                    pct(bound)
                ),
                Unit::Pixels => format!(
                    "is {word}: {}, it should be {limit} {}",
                    px(v, px_word),
                    px(bound, "pixels")
                ),
            }
        }
        Measure::Aspect => {
            let word = if is_min {
                "too tall for its width"
            } else {
                "too wide for its height"
            };
            if v.is_finite() {
                format!(
                    "is {word}: its width is {} times its height, it should be {limit} {} times",
                    fmt_human(v),
                    fmt_human(bound)
                )
            } else {
                format!("is {word}: it has no height, redraw it")
            }
        }
        Measure::Area => {
            let word = if is_min { "too small" } else { "too large" };
            let (a, b) = match unit {
                Unit::Normalized => (format!("{} of the image", pct(v)), pct(bound)),
                Unit::Pixels => (px(v, "square pixels"), px(bound, "square pixels")),
            };
            format!("is {word}: its box covers {a}, it should cover {limit} {b}")
        }
    }
}
