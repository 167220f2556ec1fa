//! `valid_polygon`: enough distinct vertices, positive area, no self-intersection, holes inside.

use std::sync::Arc;

use super::lint_geometry;
use crate::geometry::validate_part;
use crate::label::{Label, Resolution};
use crate::rules::interface::Interface;
use crate::rules::kind::{fields, Check, FieldError, Needs, TypedKind};
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, MissingResolution, Rule};

pub struct ValidPolygon;

fields! {
    pub struct ValidPolygonFields {}
}

impl TypedKind for ValidPolygon {
    type Fields = ValidPolygonFields;
    const NAME: &'static str = "valid_polygon";
    const DOC: &'static str =
        ">= 3 distinct vertices, non-zero area, no self-intersection, holes inside.";
    fn compile(&self, _f: ValidPolygonFields) -> Result<Arc<dyn Check>, FieldError> {
        Ok(Arc::new(ValidCheck))
    }
}

#[derive(Debug)]
struct ValidCheck;

impl Check for ValidCheck {
    fn default_message(&self, _has_category: bool) -> String {
        "Object {mid} is not a valid polygon: {reason}".into()
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
        check(rule, label, out);
        Ok(())
    }
    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        lint_geometry(rule, iface, true, out);
    }
}

fn check(rule: &Rule, label: &Label, out: &mut Vec<Issue>) {
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
