//! `count`: how many objects / answers a job (and category) has, per label or per video frame.

use std::sync::Arc;

use crate::label::{Label, Resolution};
use crate::rules::kind::{fields, need_one, ordered, Check, FieldError, TypedKind};
use crate::rules::template::Vars;
use crate::rules::{issue, parent_category, Issue, MissingResolution, Rule};

pub struct Count;

fields! {
    pub struct CountFields {
        min: f64 = Whole, "Fewest objects or answers allowed";
        max: f64 = Whole, "Most objects or answers allowed";
    }
}

impl TypedKind for Count {
    type Fields = CountFields;
    const NAME: &'static str = "count";
    const DOC: &'static str =
        "Number of objects (one per mid) or answers of job(.category), per label or video frame.";
    fn compile(&self, f: CountFields) -> Result<Arc<dyn Check>, FieldError> {
        ordered!(f, min, max)?;
        need_one!(f, min, max)?;
        Ok(Arc::new(CountCheck {
            min: f.min,
            max: f.max,
        }))
    }
}

#[derive(Debug)]
struct CountCheck {
    min: Option<f64>,
    max: Option<f64>,
}

impl Check for CountCheck {
    fn default_message(&self, has_category: bool) -> String {
        // "This label has 3 CAR: at most 1 allowed, remove the extra ones."
        let fix = match (self.min, self.max) {
            (Some(_), Some(_)) => "between {min} and {max} needed",
            (Some(_), None) => "at least {min} needed, add the missing ones",
            _ => "at most {max} allowed, remove the extra ones",
        };
        if has_category {
            format!("This label has {{count}} {{category}}: {fix}.")
        } else {
            format!("Objects or answers in {{job}}: {{count}} in this label, {fix}.")
        }
    }

    fn check(
        &self,
        rule: &Rule,
        label: &Label,
        _res: &Resolution,
        out: &mut Vec<Issue>,
    ) -> Result<(), MissingResolution> {
        check(rule, label, self.min, self.max, out);
        Ok(())
    }
}

fn check(rule: &Rule, label: &Label, min: Option<f64>, max: Option<f64>, out: &mut Vec<Issue>) {
    // Video: answers under `assetLevel` (frame None) hold for the whole asset and count once
    // per label; frame entries count per frame. A job with neither is checked per frame.
    let frames: Vec<Option<u32>> = if label.is_video() {
        let asset_level = count(rule, label, None) > 0;
        let in_frames = crate::rules::in_scope(rule, label).any(|o| o.frame.is_some())
            || label.answers.iter().any(|a| {
                a.frame.is_some()
                    && a.job == rule.job
                    && (rule.category.is_none() || a.category == rule.category)
            });
        let mut f: Vec<Option<u32>> = Vec::new();
        if asset_level {
            f.push(None);
        }
        if in_frames || !asset_level {
            let mut fs: Vec<u32> = label.frames.clone();
            fs.sort_unstable();
            fs.dedup();
            f.extend(fs.into_iter().map(Some));
        }
        f
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
            .filter(|a| {
                rule.when
                    .as_ref()
                    .is_none_or(|w| w.parent_ok(parent_category(a.parent.as_ref())))
            })
            .count()
}
