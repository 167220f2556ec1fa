//! `required`: a job has an answer, or every object (answer) of a category has a child job
//! answered.

use std::sync::Arc;

use crate::label::{Label, Name, Resolution};
use crate::rules::interface::{who, Interface};
use crate::rules::kind::{fields, Check, FieldError, TypedKind};
use crate::rules::template::Vars;
use crate::rules::{issue, Issue, MissingResolution, Rule};

pub struct Required;

fields! {
    pub struct RequiredFields {
        child: String = Text, "Child job that every object of the scope must answer";
    }
}

impl TypedKind for Required {
    type Fields = RequiredFields;
    const NAME: &'static str = "required";
    const DOC: &'static str =
        "The job has an answer; with `child`, every object of the scope answers that child job.";
    fn compile(&self, f: RequiredFields) -> Result<Arc<dyn Check>, FieldError> {
        Ok(Arc::new(RequiredCheck { child: f.child }))
    }
}

#[derive(Debug)]
struct RequiredCheck {
    child: Option<String>,
}

impl Check for RequiredCheck {
    fn default_message(&self, has_category: bool) -> String {
        match (&self.child, has_category) {
            (Some(_), _) => "This {what} has no answer to {child}: fill it in.".into(),
            (None, true) => "This label has no {category} in {job}: add one.".into(),
            (None, false) => "Nothing is answered in {job}: answer it before submitting.".into(),
        }
    }
    fn check(
        &self,
        rule: &Rule,
        label: &Label,
        _res: &Resolution,
        out: &mut Vec<Issue>,
    ) -> Result<(), MissingResolution> {
        check(rule, label, self.child.as_deref(), out);
        Ok(())
    }
    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        let Some(child) = &self.child else { return };
        if iface.job(child).is_none() {
            out.push(format!("{}: unknown child job '{child}'", who(rule)));
        } else if let (Some(cat), Some(job)) = (&rule.category, iface.job(&rule.job)) {
            if job.categories().is_some() && !job.category_children(cat).contains(&child.as_str()) {
                out.push(format!(
                    "{}: category '{cat}' does not list '{child}' among its children",
                    who(rule)
                ));
            }
        }
    }
}

fn check(rule: &Rule, label: &Label, child: Option<&str>, out: &mut Vec<Issue>) {
    let matches_scope = |job: &str, cat: &Option<Name>| {
        job == rule.job && (rule.category.is_none() || *cat == rule.category)
    };
    let Some(child) = child else {
        let answered = label
            .objects
            .iter()
            .any(|o| matches_scope(&o.job, &o.category))
            || label
                .answers
                .iter()
                .any(|a| matches_scope(&a.job, &a.category));
        if !answered {
            let vars = Vars {
                category: rule.category.as_deref(),
                ..Vars::default()
            };
            out.push(issue(rule, vars, Some(0.0), Some(1.0)));
        }
        return;
    };
    for g in crate::rules::group_by_mid(crate::rules::in_scope(rule, label)) {
        if !g
            .objects
            .iter()
            .any(|o| o.children.iter().any(|c| c == child))
        {
            let vars = Vars {
                mid: g.mid,
                category: g.category,
                frame: g.frame,
                child: Some(child),
                ..Vars::default()
            };
            out.push(issue(rule, vars, Some(0.0), Some(1.0)));
        }
    }
    for a in label
        .answers
        .iter()
        .filter(|a| matches_scope(&a.job, &a.category))
    {
        if !a.children.iter().any(|c| c == child) {
            let vars = Vars {
                category: a.category.as_deref(),
                frame: a.frame,
                child: Some(child),
                ..Vars::default()
            };
            out.push(issue(rule, vars, Some(0.0), Some(1.0)));
        }
    }
}
