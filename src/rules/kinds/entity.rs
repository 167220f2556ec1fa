//! `entity`: named-entity spans: length in characters, the entity text against a pattern,
//! overlapping entities, and relations each entity must take part in. Issues go on the
//! entity's mid.

use std::sync::Arc;

use regex::Regex;

use crate::label::{Label, Object, Resolution};
use crate::rules::interface::{who, Interface};
use crate::rules::kind::{
    fields, need_one, ordered, pattern, whole, Check, Default, DocDefault, FieldError, TypedKind,
};
use crate::rules::template::Vars;
use crate::rules::{in_scope, issue, Issue, MissingResolution, Rule};

pub struct Entity;

const ROLES: &[&str] = &["any", "start", "end"];

fields! {
    pub struct EntityFields {
        min_length: f64 = Whole, "Fewest characters in the span";
        max_length: f64 = Whole, "Most characters in the span";
        pattern: String = Pattern,
            "Regular expression the entity's text must match somewhere (^...$ for all of it)";
        case_sensitive: bool = Bool, "Match the pattern with case", default true;
        no_overlap: bool = Bool,
            "Flag an entity whose span overlaps an earlier entity of the scope", default false;
        relation: String = Text,
            "A relation job: every entity of the scope must be linked by one of its relations";
        relation_role: Role = Choice(ROLES), "Which end of the relation the entity must be",
            default Role::Any;
    }
}

impl TypedKind for Entity {
    type Fields = EntityFields;
    const NAME: &'static str = "entity";
    const DOC: &'static str =
        "Named entities: span length, text pattern, overlaps, relations that must exist.";
    fn compile(&self, f: EntityFields) -> Result<Arc<dyn Check>, FieldError> {
        ordered!(f, min_length, max_length)?;
        need_one!(f, min_length, max_length, pattern, no_overlap, relation)?;
        if f.relation_role.is_some() && f.relation.is_none() {
            return Err(FieldError::new("relation_role", "needs `relation`"));
        }
        Ok(Arc::new(EntityCheck {
            min_length: f.min_length.map(whole),
            max_length: f.max_length.map(whole),
            pattern: pattern("pattern", f.pattern.as_deref(), f.case_sensitive())?,
            no_overlap: f.no_overlap(),
            role: f.relation_role(),
            relation: f.relation,
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Any,
    Start,
    End,
}

impl DocDefault for Role {
    fn doc_default(&self) -> Default {
        // The names of ROLES, in the same order.
        Default::Text(match self {
            Role::Any => "any",
            Role::Start => "start",
            Role::End => "end",
        })
    }
}

#[derive(Debug)]
struct EntityCheck {
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<Regex>,
    no_overlap: bool,
    relation: Option<String>,
    role: Role,
}

impl EntityCheck {
    fn related(&self, label: &Label, mid: &str) -> bool {
        let Some(job) = &self.relation else {
            return true;
        };
        label
            .objects
            .iter()
            .filter(|o| o.job == job.as_str())
            .filter_map(|o| o.relation.as_ref())
            .any(|r| {
                let start = r.start.iter().any(|m| m == mid);
                let end = r.end.iter().any(|m| m == mid);
                match self.role {
                    Role::Any => start || end,
                    Role::Start => start,
                    Role::End => end,
                }
            })
    }

    fn judge(&self, label: &Label, o: &Object, earlier: &[&Object]) -> Option<Judged> {
        let span = o.span.as_ref()?;
        let n = span.end.saturating_sub(span.begin);
        let limit = match (self.min_length, self.max_length) {
            (Some(lo), _) if n < lo as u64 => Some((lo, "too short", "at least", "needed")),
            (_, Some(hi)) if n > hi as u64 => Some((hi, "too long", "at most", "allowed")),
            _ => None,
        };
        if let Some((bound, size, word, end)) = limit {
            return Some(Judged {
                reason: format!("is {size}: {n} characters, {word} {bound} {end}"),
                value: Some(n as f64),
                limit: Some(bound as f64),
                other: None,
            });
        }
        if let (Some(re), Some(text)) = (&self.pattern, span.content.as_deref()) {
            if !re.is_match(text) {
                return Some(Judged::reason(format!(
                    "\"{text}\" does not match the expected format {}: correct its span",
                    re.as_str()
                )));
            }
        }
        if self.no_overlap {
            let hit = earlier.iter().find(|e| {
                e.span
                    .as_ref()
                    .is_some_and(|s| s.begin < span.end && span.begin < s.end)
            });
            if let Some(e) = hit {
                // named by its category: the annotator sees entities, not their mids
                let other = e
                    .category
                    .as_deref()
                    .map_or(String::new(), |c| format!(" ({c})"));
                let mut j = Judged::reason(format!(
                    "overlaps another entity{other}: change the spans so they do not overlap"
                ));
                j.other = e.mid.as_deref().map(str::to_owned);
                return Some(j);
            }
        }
        if let (Some(job), Some(mid)) = (&self.relation, o.mid.as_deref()) {
            if !self.related(label, mid) {
                let how = match self.role {
                    Role::Any => "is in no",
                    Role::Start => "starts no",
                    Role::End => "ends no",
                };
                return Some(Judged::reason(format!("{how} {job} relation: link it")));
            }
        }
        None
    }
}

struct Judged {
    reason: String,
    value: Option<f64>,
    limit: Option<f64>,
    other: Option<String>,
}

impl Judged {
    fn reason(reason: String) -> Judged {
        Judged {
            reason,
            value: None,
            limit: None,
            other: None,
        }
    }
}

impl Check for EntityCheck {
    fn default_message(&self, _has_category: bool) -> String {
        "This {what} entity {reason}.".into()
    }

    fn check(
        &self,
        rule: &Rule,
        label: &Label,
        _res: &Resolution,
        out: &mut Vec<Issue>,
    ) -> Result<(), MissingResolution> {
        let entities: Vec<&Object> = in_scope(rule, label).filter(|o| o.span.is_some()).collect();
        for (i, o) in entities.iter().enumerate() {
            let earlier = entities.get(..i).unwrap_or(&[]);
            let Some(j) = self.judge(label, o, earlier) else {
                continue;
            };
            let vars = Vars {
                mid: o.mid.as_deref(),
                category: o.category.as_deref(),
                frame: o.frame,
                reason: Some(&j.reason),
                other: j.other.as_deref(),
                text: o.span.as_ref().and_then(|s| s.content.as_deref()),
                ..Vars::default()
            };
            out.push(issue(rule, vars, j.value, j.limit));
        }
        Ok(())
    }

    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        if let Some(job) = iface.job(&rule.job) {
            let ml = job.ml_task();
            if ml != "NAMED_ENTITIES_RECOGNITION" {
                out.push(format!(
                    "{}: job '{}' is not a named-entity job (mlTask '{ml}')",
                    who(rule),
                    rule.job
                ));
            }
        }
        if let Some(rel) = &self.relation {
            match iface.job(rel) {
                None => out.push(format!("{}: relation: unknown job '{rel}'", who(rule))),
                Some(j) if !j.ml_task().contains("RELATION") => out.push(format!(
                    "{}: relation: job '{rel}' is not a relation job (mlTask '{}')",
                    who(rule),
                    j.ml_task()
                )),
                Some(_) => {}
            }
        }
    }
}
