//! `count`: how many objects / answers a job (and category) has, per label or per video frame.

use crate::label::Label;
use crate::rules::template::Vars;
use crate::rules::Rule;
use crate::rules::{issue, Issue};

pub fn check(rule: &Rule, label: &Label, min: Option<f64>, max: Option<f64>, out: &mut Vec<Issue>) {
    let frames: Vec<Option<u32>> = if label.is_video() {
        let mut f: Vec<u32> = label.frames.clone();
        f.sort_unstable();
        f.dedup();
        f.into_iter().map(Some).collect()
    } else {
        vec![None]
    };
    for frame in frames {
        let n = count(rule, label, frame) as f64;
        let limit = match (min, max) {
            (Some(lo), _) if n < lo => Some(lo),
            (_, Some(hi)) if n > hi => Some(hi),
            _ => None,
        };
        if let Some(limit) = limit {
            let vars = Vars {
                count: Some(n),
                min,
                max,
                category: rule.category.as_deref(),
                frame,
                ..Vars::default()
            };
            out.push(issue(rule, vars, Some(n), Some(limit)));
        }
    }
}

/// Objects count once per mid (parts of one object share it); answers count once each.
fn count(rule: &Rule, label: &Label, frame: Option<u32>) -> usize {
    let mut mids: Vec<&str> = Vec::new();
    let mut n = 0;
    for o in crate::rules::in_scope(rule, label).filter(|o| o.frame == frame) {
        match o.mid.as_deref() {
            Some(m) => mids.push(m),
            None => n += 1,
        }
    }
    mids.sort_unstable();
    mids.dedup();
    n + mids.len()
        + label
            .answers
            .iter()
            .filter(|a| a.frame == frame && a.job == rule.job)
            .filter(|a| rule.category.is_none() || a.category == rule.category)
            .count()
}
