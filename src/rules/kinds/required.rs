//! `required`: a job has an answer, or every object (answer) of a category has a child job
//! answered.

use crate::label::{Label, Name};
use crate::rules::template::Vars;
use crate::rules::Rule;
use crate::rules::{issue, Issue};

pub fn check(rule: &Rule, label: &Label, child: Option<&str>, out: &mut Vec<Issue>) {
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
