//! Rules: the compiled Rule, its Issue, and the kinds (one file each) that turn a label into
//! issues. Nothing here imports `ruleset` (which compiles configs into these rules).

pub mod interface;
pub mod kind;
pub mod kinds;
mod rule;
pub mod template;
pub mod when;

use std::collections::HashMap;

use smallvec::SmallVec;

use crate::label::{Geometry, Label, Object, ParentRef, Part};
pub use kinds::MissingResolution;
pub use rule::{Rule, Unit};
use template::Vars;

/// The kind of a row that stands for something not checked: a label with no jsonResponse (its
/// rule is this kind too), or one rule a label could not be judged by (its rule is that rule's
/// id), such as a pixel rule on an asset of unknown size. Never clean, never the labeler's fault.
pub const UNCHECKED_KIND: &str = "unchecked";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One rule violation in one label.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub rule: String,
    pub kind: &'static str,
    pub severity: Severity,
    pub text: String,
    pub mid: Option<String>,
    pub job: Option<String>,
    pub category: Option<String>,
    pub frame: Option<u32>,
    pub value: Option<f64>,
    pub limit: Option<f64>,
}

/// The objects a rule looks at: its job (wherever nested), and its category if it has one.
pub(crate) fn in_scope<'a>(
    rule: &'a Rule,
    label: &'a Label,
) -> impl Iterator<Item = &'a Object> + 'a {
    label.objects.iter().filter(move |o| {
        o.job == rule.job
            && (rule.category.is_none() || o.category == rule.category)
            && rule
                .when
                .as_ref()
                .is_none_or(|w| w.parent_ok(parent_category(o.parent.as_ref())))
    })
}

/// The category of the enclosing object or classification answer, for `when.parent`.
pub(crate) fn parent_category(parent: Option<&ParentRef>) -> Option<&str> {
    parent.and_then(|p| p.category.as_deref())
}

/// One object: the annotations sharing a mid in one frame (their parts add up).
pub(crate) struct Group<'a> {
    pub frame: Option<u32>,
    pub mid: Option<&'a str>,
    pub category: Option<&'a str>,
    pub parts: SmallVec<[&'a Part; 2]>,
    pub objects: SmallVec<[&'a Object; 2]>,
}

/// Group objects by (frame, mid), in order of first appearance. Objects without a mid stand
/// alone.
pub(crate) fn group_by_mid<'a>(objs: impl Iterator<Item = &'a Object>) -> Vec<Group<'a>> {
    // A label has a handful of objects: scan; index by hash only when there are many.
    const SCAN: usize = 16;
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut index: HashMap<(Option<u32>, &'a str), usize> = HashMap::new();
    for o in objs {
        let slot = o.mid.as_deref().and_then(|m| {
            if groups.len() <= SCAN {
                groups
                    .iter()
                    .position(|g| g.mid == Some(m) && g.frame == o.frame)
            } else {
                if index.is_empty() {
                    for (i, g) in groups.iter().enumerate() {
                        if let Some(gm) = g.mid {
                            index.entry((g.frame, gm)).or_insert(i);
                        }
                    }
                }
                index.get(&(o.frame, m)).copied()
            }
        });
        let i = match slot {
            Some(i) => i,
            None => {
                if let (Some(m), false) = (o.mid.as_deref(), index.is_empty()) {
                    index.insert((o.frame, m), groups.len());
                }
                groups.push(Group {
                    frame: o.frame,
                    mid: o.mid.as_deref(),
                    category: o.category.as_deref(),
                    parts: SmallVec::new(),
                    objects: SmallVec::new(),
                });
                groups.len() - 1
            }
        };
        let Some(g) = groups.get_mut(i) else { continue };
        if let Geometry::Parts(ps) = &o.geometry {
            g.parts.extend(ps.iter());
        }
        g.objects.push(o);
    }
    groups
}

/// Build an issue for a rule, rendering its message.
pub(crate) fn issue(rule: &Rule, vars: Vars, value: Option<f64>, limit: Option<f64>) -> Issue {
    let vars = Vars {
        job: vars.job.or(Some(&rule.job)),
        // the rule's scope names the category when the finding itself does not
        category: vars.category.or(rule.category.as_deref()),
        rule: Some(&rule.id),
        value: vars.value.or(value),
        limit: vars.limit.or(limit),
        ..vars
    };
    Issue {
        rule: rule.id.clone(),
        kind: rule.kind,
        severity: rule.severity,
        text: rule.message.render(&vars),
        mid: vars.mid.map(str::to_owned),
        job: Some(rule.job.to_string()),
        category: vars
            .category
            .map(str::to_owned)
            .or_else(|| rule.category.as_ref().map(|c| c.to_string())),
        frame: vars.frame,
        value,
        limit,
    }
}
