//! `area`: an object's area (sum of its parts, outer ring minus holes) within bounds.

use std::sync::Arc;

use super::{bounds_text, lint_geometry, MissingResolution, UNIT_DOC};
use crate::geometry::part_area;
use crate::label::{Label, Resolution};
use crate::rules::interface::Interface;
use crate::rules::kind::{fields, need_one, ordered, Check, FieldError, Needs, TypedKind};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, Rule, Unit};

pub struct Area;

fields! {
    pub struct AreaFields {
        min: f64 = Number, "Smallest area allowed";
        max: f64 = Number, "Largest area allowed";
        unit: Unit = Choice(Unit::NAMES), UNIT_DOC, default Unit::Normalized;
    }
}

impl TypedKind for Area {
    type Fields = AreaFields;
    const NAME: &'static str = "area";
    const DOC: &'static str = "Object area (outer ring minus holes, parts sharing a mid added up).";
    fn compile(&self, f: AreaFields) -> Result<Arc<dyn Check>, FieldError> {
        ordered!(f, min, max)?;
        need_one!(f, min, max)?;
        Ok(Arc::new(AreaCheck {
            min: f.min,
            max: f.max,
            unit: f.unit(),
        }))
    }
}

#[derive(Debug)]
struct AreaCheck {
    min: Option<f64>,
    max: Option<f64>,
    unit: Unit,
}

impl Check for AreaCheck {
    fn default_message(&self, _has_category: bool) -> String {
        // "This CAR is too small: it covers 0.2% of the image, it should cover at least 1%."
        let (spec, unit, covers) = match self.unit {
            Unit::Normalized => (":%", "", "{value:%} of the image"),
            Unit::Pixels => (":~", " square pixels", "{value:~} square pixels"),
        };
        let size = match (self.min, self.max) {
            (Some(_), Some(_)) => "the wrong size",
            (Some(_), None) => "too small",
            _ => "too large",
        };
        format!(
            "This {{what}} is {size}: it covers {covers}, it should cover {}.",
            bounds_text(self.min, self.max, spec, unit)
        )
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
        check(rule, label, res, self.min, self.max, self.unit, out)
    }
    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        lint_geometry(rule, iface, true, out);
    }
}

fn check(
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
