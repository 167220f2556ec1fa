//! `answer`: classification answers: allowed / forbidden categories, how many are chosen,
//! and groups of categories that cannot be chosen together. Answers are judged per
//! classification (per video frame, and per enclosing object when the job is nested).

use std::sync::Arc;

use crate::label::{Answer, Label, Resolution};
use crate::rules::interface::{unknown_categories, who, Interface};
use crate::rules::kind::{fields, need_one, ordered, Check, FieldError, TextList, TypedKind};
use crate::rules::template::{fmt_num, Vars};
use crate::rules::{issue, Issue, MissingResolution, Rule};

pub struct AnswerKind;

fields! {
    pub struct AnswerFields {
        allowed: TextList = TextList, "The only categories that may be chosen";
        forbidden: TextList = TextList, "Categories that must not be chosen";
        min: f64 = Whole, "Fewest categories chosen";
        max: f64 = Whole, "Most categories chosen";
        exclusive: Vec<Vec<String>> = TextGroups,
            "Groups of categories of which at most one may be chosen";
    }
}

impl TypedKind for AnswerKind {
    type Fields = AnswerFields;
    const NAME: &'static str = "answer";
    const DOC: &'static str =
        "Classification answers: allowed / forbidden categories, number chosen (min / max), exclusive groups.";
    fn compile(&self, f: AnswerFields) -> Result<Arc<dyn Check>, FieldError> {
        ordered!(f, min, max)?;
        need_one!(f, allowed, forbidden, min, max, exclusive)?;
        let exclusive = f.exclusive.unwrap_or_default();
        if exclusive.iter().any(|g| g.len() < 2) {
            return Err(FieldError::new(
                "exclusive",
                "each group must list at least two categories",
            ));
        }
        Ok(Arc::new(AnswerCheck {
            allowed: f.allowed.map(TextList::into_vec),
            forbidden: f.forbidden.map(TextList::into_vec).unwrap_or_default(),
            min: f.min,
            max: f.max,
            exclusive,
        }))
    }
}

#[derive(Debug)]
struct AnswerCheck {
    allowed: Option<Vec<String>>,
    forbidden: Vec<String>,
    min: Option<f64>,
    max: Option<f64>,
    exclusive: Vec<Vec<String>>,
}

/// One classification: the categories chosen in one frame, under one enclosing object.
struct Choice<'a> {
    frame: Option<u32>,
    mid: Option<&'a str>,
    categories: Vec<&'a str>,
}

fn choices<'a>(rule: &'a Rule, label: &'a Label) -> Vec<Choice<'a>> {
    let mut out: Vec<Choice<'a>> = Vec::new();
    let in_scope = |a: &&'a Answer| {
        a.job == rule.job
            && rule
                .when
                .as_ref()
                .is_none_or(|w| w.parent_ok(parent_category(a)))
    };
    for a in label.answers.iter().filter(in_scope) {
        let Some(cat) = a.category.as_deref() else {
            continue;
        };
        let mid = parent_mid(a);
        match out.iter_mut().find(|c| c.frame == a.frame && c.mid == mid) {
            Some(c) => {
                if !c.categories.contains(&cat) {
                    c.categories.push(cat);
                }
            }
            None => out.push(Choice {
                frame: a.frame,
                mid,
                categories: vec![cat],
            }),
        }
    }
    out
}

/// The enclosing object of a nested classification: its answers are judged per object.
fn parent_mid(a: &Answer) -> Option<&str> {
    a.parent.as_ref().and_then(|p| p.mid.as_deref())
}

fn parent_category(a: &Answer) -> Option<&str> {
    crate::rules::parent_category(a.parent.as_ref())
}

impl Check for AnswerCheck {
    fn default_message(&self, _has_category: bool) -> String {
        // the reason is a clause in the annotator's words: "INDOOR and OUTDOOR cannot be
        // chosen together: keep only one"
        "In {job}, {reason}.".into()
    }

    fn check(
        &self,
        rule: &Rule,
        label: &Label,
        _res: &Resolution,
        out: &mut Vec<Issue>,
    ) -> Result<(), MissingResolution> {
        let found = choices(rule, label);
        if found.is_empty() && self.min.is_some_and(|m| m > 0.0) {
            // The job was not answered at all: one issue on the label.
            let reason = format!("nothing is chosen: choose {}", self.range());
            let none = Choice {
                frame: None,
                mid: None,
                categories: Vec::new(),
            };
            self.push(rule, &none, None, &reason, Some(0.0), self.min, out);
        }
        for c in &found {
            let n = c.categories.len() as f64;
            let limit = match (self.min, self.max) {
                (Some(lo), _) if n < lo => Some(lo),
                (_, Some(hi)) if n > hi => Some(hi),
                _ => None,
            };
            if limit.is_some() {
                let chosen = match c.categories.len() {
                    1 => "1 answer is chosen".to_owned(),
                    k => format!("{k} answers are chosen"),
                };
                let reason = format!(
                    "{chosen} ({}): choose {}",
                    c.categories.join(", "),
                    self.range()
                );
                self.push(rule, c, None, &reason, Some(n), limit, out);
            }
            for cat in &c.categories {
                let not_allowed = self
                    .allowed
                    .as_ref()
                    .is_some_and(|a| !a.iter().any(|x| x == cat));
                if not_allowed || self.forbidden.iter().any(|x| x == cat) {
                    let reason = format!("{cat} is not allowed: choose another answer");
                    self.push(rule, c, Some(cat), &reason, None, None, out);
                }
            }
            for group in &self.exclusive {
                let chosen: Vec<&str> = group
                    .iter()
                    .map(String::as_str)
                    .filter(|g| c.categories.contains(g))
                    .collect();
                if chosen.len() > 1 {
                    let reason = format!(
                        "{} cannot be chosen together: keep only one",
                        chosen.join(" and ")
                    );
                    self.push(
                        rule,
                        c,
                        None,
                        &reason,
                        Some(chosen.len() as f64),
                        Some(1.0),
                        out,
                    );
                }
            }
        }
        Ok(())
    }

    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        if let Some(job) = iface.job(&rule.job) {
            let ml = job.ml_task();
            if !ml.contains("CLASSIFICATION") {
                out.push(format!(
                    "{}: job '{}' is not a classification (mlTask '{ml}')",
                    who(rule),
                    rule.job
                ));
                return;
            }
        }
        let named = self
            .allowed
            .iter()
            .flatten()
            .map(|s| ("allowed", s))
            .chain(self.forbidden.iter().map(|s| ("forbidden", s)))
            .chain(self.exclusive.iter().flatten().map(|s| ("exclusive", s)));
        for (field, name) in named {
            unknown_categories(rule, iface, field, [name.as_str()], out);
        }
    }
}

impl AnswerCheck {
    /// "at most 2", "at least 1", "between 1 and 2" (the bounds are whole numbers).
    fn range(&self) -> String {
        let n = |x: Option<f64>| fmt_num(x.unwrap_or(0.0));
        match (self.min, self.max) {
            (Some(_), Some(_)) => format!("between {} and {}", n(self.min), n(self.max)),
            (Some(_), None) => format!("at least {}", n(self.min)),
            _ => format!("at most {}", n(self.max)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        rule: &Rule,
        c: &Choice<'_>,
        category: Option<&str>,
        reason: &str,
        value: Option<f64>,
        limit: Option<f64>,
        out: &mut Vec<Issue>,
    ) {
        let vars = Vars {
            mid: c.mid,
            frame: c.frame,
            category,
            reason: Some(reason),
            min: self.min,
            max: self.max,
            ..Vars::default()
        };
        out.push(issue(rule, vars, value, limit));
    }
}
