//! Lint a RuleSet against a project's jsonInterface: unknown jobs or categories (of the rule
//! and of its `when`), then each kind's own checks (geometry on non-geometry jobs, ...).

use serde_json::Value;

use crate::rules::interface::{who, Interface};
use crate::rules::Rule;
use crate::ruleset::RuleSet;

pub fn lint(rs: &RuleSet, interface: &Value) -> Vec<String> {
    // Accept the project record too: {"jsonInterface": {...}}, possibly as a JSON string.
    let mut iface = interface.get("jsonInterface").unwrap_or(interface).clone();
    if let Value::String(s) = &iface {
        iface = serde_json::from_str(s).unwrap_or(Value::Null);
    }
    let Some(view) = Interface::new(&iface) else {
        return vec!["jsonInterface: no `jobs` object".to_owned()];
    };
    let mut out = Vec::new();
    for rule in &rs.rules {
        lint_when(rule, &view, &mut out);
        let Some(job) = view.job(&rule.job) else {
            out.push(format!(
                "{}: unknown job '{}' (jobs: {})",
                who(rule),
                rule.job,
                view.job_names().join(", ")
            ));
            continue;
        };
        if let Some(cat) = &rule.category {
            if !job.has_category(cat) {
                out.push(format!(
                    "{}: job '{}' has no category '{cat}' (categories: {})",
                    who(rule),
                    rule.job,
                    job.category_names().join(", ")
                ));
            }
        }
        rule.check.lint(rule, &view, &mut out);
    }
    out
}

fn lint_when(rule: &Rule, view: &Interface<'_>, out: &mut Vec<String>) {
    let Some(w) = &rule.when else { return };
    if let Some(job_name) = &w.job {
        match view.job(job_name) {
            None => out.push(format!(
                "{}: when.job: unknown job '{job_name}' (jobs: {})",
                who(rule),
                view.job_names().join(", ")
            )),
            Some(job) => {
                for (field, cats) in [("answer", &w.answer), ("not_answer", &w.not_answer)] {
                    for c in cats.iter().filter(|c| !job.has_category(c)) {
                        out.push(format!(
                            "{}: when.{field}: job '{job_name}' has no category '{c}' (categories: {})",
                            who(rule),
                            job.category_names().join(", ")
                        ));
                    }
                }
            }
        }
    }
    for c in w.parent.iter().filter(|c| !view.any_job_has_category(c)) {
        out.push(format!(
            "{}: when.parent: no job has a category '{c}'",
            who(rule)
        ));
    }
}
