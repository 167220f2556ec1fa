//! A read-only view of a project's jsonInterface, for lint.

use serde_json::{Map, Value};

use super::Rule;

pub struct Interface<'a> {
    jobs: &'a Map<String, Value>,
}

/// One job of the interface.
#[derive(Clone, Copy)]
pub struct Job<'a> {
    v: &'a Value,
}

impl<'a> Interface<'a> {
    pub fn new(iface: &'a Value) -> Option<Interface<'a>> {
        iface
            .get("jobs")
            .and_then(Value::as_object)
            .map(|jobs| Interface { jobs })
    }

    pub fn job(&self, name: &str) -> Option<Job<'a>> {
        self.jobs.get(name).map(|v| Job { v })
    }

    pub fn job_names(&self) -> Vec<&'a str> {
        self.jobs.keys().map(String::as_str).collect()
    }

    /// Whether any job has this category.
    pub fn any_job_has_category(&self, cat: &str) -> bool {
        self.jobs.values().any(|v| Job { v }.has_category(cat))
    }
}

impl<'a> Job<'a> {
    pub fn ml_task(&self) -> &'a str {
        self.v.get("mlTask").and_then(Value::as_str).unwrap_or("")
    }

    pub fn tools(&self) -> Vec<&'a str> {
        self.v
            .get("tools")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    pub fn categories(&self) -> Option<&'a Map<String, Value>> {
        self.v
            .pointer("/content/categories")
            .and_then(Value::as_object)
    }

    pub fn category_names(&self) -> Vec<&'a str> {
        self.categories()
            .map(|c| c.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub fn has_category(&self, cat: &str) -> bool {
        self.categories().is_some_and(|c| c.contains_key(cat))
    }

    /// Child jobs a category lists.
    pub fn category_children(&self, cat: &str) -> Vec<&'a str> {
        self.categories()
            .and_then(|c| c.get(cat))
            .and_then(|c| c.get("children"))
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

/// How lint lines name a rule.
pub fn who(rule: &Rule) -> String {
    format!("rule '{}' ({})", rule.id, rule.kind)
}

/// Lint lines for categories a rule field names that its job lacks.
pub fn unknown_categories<'s>(
    rule: &Rule,
    iface: &Interface<'_>,
    field: &str,
    names: impl IntoIterator<Item = &'s str>,
    out: &mut Vec<String>,
) {
    let Some(job) = iface.job(&rule.job) else {
        return;
    };
    for n in names {
        if !job.has_category(n) {
            out.push(format!(
                "{}: {field}: job '{}' has no category '{n}' (categories: {})",
                who(rule),
                rule.job,
                job.category_names().join(", ")
            ));
        }
    }
}
