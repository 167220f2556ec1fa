//! `valid_polygon`: enough distinct vertices, positive area, no self-intersection, holes inside.

use crate::geometry::validate_part;
use crate::label::Label;
use crate::rules::template::Vars;
use crate::rules::{group_by_mid, in_scope, issue, Issue, Rule};

pub fn check(rule: &Rule, label: &Label, out: &mut Vec<Issue>) {
    for g in group_by_mid(in_scope(rule, label)) {
        let problem = g
            .parts
            .iter()
            .enumerate()
            .find_map(|(i, p)| validate_part(p).err().map(|e| (i, e)));
        if let Some((i, why)) = problem {
            let reason = if g.parts.len() > 1 {
                format!("part {}: {why}", i + 1)
            } else {
                why.to_string()
            };
            let vars = Vars {
                mid: g.mid,
                category: g.category,
                frame: g.frame,
                reason: Some(&reason),
                ..Vars::default()
            };
            out.push(issue(rule, vars, None, None));
        }
    }
}
