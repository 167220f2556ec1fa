//! Lint a RuleSet against a project's jsonInterface: unknown jobs or categories, geometry rules
//! on jobs that draw no polygons, `required` children that the category does not have.

use serde_json::Value;

use crate::rules::Spec;
use crate::ruleset::RuleSet;

pub fn lint(rs: &RuleSet, interface: &Value) -> Vec<String> {
    // Accept the project record too: {"jsonInterface": {...}}, possibly as a JSON string.
    let mut iface = interface.get("jsonInterface").unwrap_or(interface).clone();
    if let Value::String(s) = &iface {
        iface = serde_json::from_str(s).unwrap_or(Value::Null);
    }
    let Some(jobs) = iface.get("jobs").and_then(Value::as_object) else {
        return vec!["jsonInterface: no `jobs` object".to_owned()];
    };
    let mut out = Vec::new();
    for rule in &rs.rules {
        let who = format!("rule '{}' ({})", rule.id, rule.kind);
        let Some(job) = jobs.get(rule.job.as_str()) else {
            let known: Vec<&str> = jobs.keys().map(String::as_str).collect();
            out.push(format!(
                "{who}: unknown job '{}' (jobs: {})",
                rule.job,
                known.join(", ")
            ));
            continue;
        };
        let cats = job
            .pointer("/content/categories")
            .and_then(Value::as_object);
        if let Some(cat) = &rule.category {
            if !cats.is_some_and(|c| c.contains_key(cat.as_str())) {
                let known: Vec<&str> = cats
                    .map(|c| c.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                out.push(format!(
                    "{who}: job '{}' has no category '{cat}' (categories: {})",
                    rule.job,
                    known.join(", ")
                ));
            }
        }
        let ml = job.get("mlTask").and_then(Value::as_str).unwrap_or("");
        let tools: Vec<&str> = job
            .get("tools")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let polygonal = tools
            .iter()
            .any(|t| matches!(*t, "rectangle" | "polygon" | "semantic"));
        match &rule.spec {
            Spec::Area { .. } | Spec::Box { .. } | Spec::ValidPolygon | Spec::Overlap { .. } => {
                if ml != "OBJECT_DETECTION" {
                    out.push(format!("{who}: a geometry rule on job '{}', whose mlTask is '{ml}', not OBJECT_DETECTION", rule.job));
                } else if !polygonal {
                    out.push(format!(
                        "{who}: job '{}' draws no rectangles, polygons or masks (tools: {})",
                        rule.job,
                        tools.join(", ")
                    ));
                }
            }
            Spec::InsideImage { .. } if ml != "OBJECT_DETECTION" => {
                out.push(format!("{who}: a geometry rule on job '{}', whose mlTask is '{ml}', not OBJECT_DETECTION", rule.job));
            }
            Spec::Required { child: Some(child) } => {
                if !jobs.contains_key(child.as_str()) {
                    out.push(format!("{who}: unknown child job '{child}'"));
                } else if let (Some(cat), Some(cats)) = (&rule.category, cats) {
                    let listed = cats
                        .get(cat.as_str())
                        .and_then(|c| c.get("children"))
                        .and_then(Value::as_array)
                        .is_some_and(|c| c.iter().any(|x| x.as_str() == Some(child)));
                    if !listed {
                        out.push(format!(
                            "{who}: category '{cat}' does not list '{child}' among its children"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    out
}
