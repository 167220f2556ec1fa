//! Rule configs compiled into a RuleSet: bounds checked, message templates parsed, and what
//! each rule needs from a label (geometry or not) worked out once.

use std::panic::{catch_unwind, AssertUnwindSafe};

mod compile;
pub mod config;
#[cfg(test)]
mod kinds_tests;
pub mod lint;
#[cfg(test)]
mod rules_tests;
pub mod schema;

use serde_json::{Map, Value};

use crate::error::{LabelError, RulesError};
use crate::label::{Label, ReadOpts, Resolution};
use crate::rules::{Issue, MissingResolution, Rule, Severity, UNCHECKED_KIND};
use config::{RuleConfig, RulesDoc};

#[derive(Debug, Clone)]
pub struct RuleSet {
    pub configs: Vec<RuleConfig>,
    /// The file's `actions` table, as written (the Python layer validates it).
    pub actions: Option<Map<String, Value>>,
    pub rules: Vec<Rule>,
    pub opts: ReadOpts,
    /// Batch runs hand each checked label back (for Python rules); off for native-only sets.
    pub keep_labels: bool,
}

impl RuleSet {
    pub fn compile(doc: RulesDoc) -> Result<RuleSet, RulesError> {
        let RulesDoc {
            rules: mut configs,
            actions,
        } = doc;
        let mut rules = Vec::with_capacity(configs.len());
        let mut seen_ids: Vec<String> = Vec::new();
        for (i, cfg) in configs.iter_mut().enumerate() {
            let rule = compile::compile_rule(i, cfg)?;
            if seen_ids.contains(&rule.id) {
                return Err(compile::err(
                    i,
                    cfg,
                    Some("id"),
                    format!("duplicate rule id '{}'", rule.id),
                ));
            }
            seen_ids.push(rule.id.clone());
            // The normalized config carries the id, so that pickles and fingerprints are stable.
            cfg.id = Some(rule.id.clone());
            rules.push(rule);
        }
        let opts = ReadOpts {
            geometry: rules.iter().any(Rule::needs_geometry),
        };
        Ok(RuleSet {
            configs,
            actions,
            rules,
            opts,
            keep_labels: false,
        })
    }

    pub fn needs_pixels(&self) -> bool {
        self.rules.iter().any(Rule::needs_pixels)
    }

    /// The number of objects of a label (one per mid and frame; objects without a mid count
    /// one each): the denominator of accuracy = 1 - issues / objects.
    pub fn object_count(label: &Label) -> usize {
        let mut seen: Vec<(Option<u32>, &str)> = Vec::new();
        let mut n = 0;
        for o in &label.objects {
            match o.mid.as_deref() {
                Some(m) => seen.push((o.frame, m)),
                None => n += 1,
            }
        }
        seen.sort_unstable();
        seen.dedup();
        n + seen.len()
    }

    /// Run every rule on one label. A pixel-unit rule that meets an object of an asset of
    /// unknown size gives an `UNCHECKED_KIND` issue for that rule; the others still run.
    pub fn check(&self, label: &Label, res: &Resolution) -> Result<Vec<Issue>, LabelError> {
        self.check_asset::<&str>(label, res, &[])
    }

    /// `check`, with the asset's metadata (scalar entries as strings) for `when.metadata`.
    pub fn check_asset<K: AsRef<str>>(
        &self,
        label: &Label,
        res: &Resolution,
        metadata: &[(K, String)],
    ) -> Result<Vec<Issue>, LabelError> {
        // A record whose jsonResponse was not fetched has nothing to check: never say clean.
        if let Some(field) = label.no_response {
            return Err(LabelError::new(field.key(), field.unchecked_text()));
        }
        let mut out = Vec::new();
        for rule in &self.rules {
            if let Some(w) = &rule.when {
                if !w.holds(label, metadata) {
                    continue;
                }
            }
            // Geometry code is ours and geo's; a bug there must not take the process down
            // (a PanicException escapes `except Exception` in Python).
            let run = catch_unwind(AssertUnwindSafe(|| {
                rule.check.check(rule, label, res, &mut out)
            }));
            match run {
                Ok(Ok(())) => {}
                // The labeler cannot supply the asset's size: this rule is unchecked on this
                // label (a row, never clean, no send-back), and the other rules still run.
                Ok(Err(MissingResolution)) => out.push(Issue {
                    rule: rule.id.clone(),
                    kind: UNCHECKED_KIND,
                    severity: Severity::Error,
                    // not the labeler's to fix: said so, for whoever reads the report
                    text: format!(
                        "Rule '{}' was not checked on this label: it measures in pixels and the \
                         asset's resolution (width and height) is unknown.",
                        rule.id
                    ),
                    mid: None,
                    job: Some(rule.job.to_string()),
                    category: rule.category.as_ref().map(ToString::to_string),
                    frame: None,
                    value: None,
                    limit: None,
                }),
                Err(_) => {
                    return Err(LabelError::new(
                        "",
                        format!(
                            "internal error while checking rule '{}' (please report this label)",
                            rule.id
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::config::parse_toml;
    use super::*;

    #[test]
    fn wrong_type() {
        let e = RuleSet::compile(
            super::config::parse_json(
                br#"{"rule": [{"kind": "count", "job": "J", "max": "one"}]}"#,
            )
            .unwrap(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("rule 1: max: expected"), "{e}");
    }

    #[test]
    fn unknown_field_names_rule_and_field() {
        let e = compile("[[rule]]\nkind = \"count\"\njob = \"J\"\nmax = 1\n\n[[rule]]\nid = \"x\"\nkind = \"area\"\njob = \"J\"\nmaxx = 1\n").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("rule 2 ('x')") && s.contains("maxx"), "{s}");
    }

    fn compile(t: &str) -> Result<RuleSet, RulesError> {
        RuleSet::compile(parse_toml(t)?)
    }

    #[test]
    fn field_of_another_kind_is_named() {
        let e = compile("[[rule]]\nkind = \"count\"\njob = \"J\"\nmax = 1\nunit = \"pixels\"\n")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("rule 1: unit: not a field of kind 'count'"),
            "{e}"
        );
    }

    #[test]
    fn bad_bounds() {
        assert!(compile("[[rule]]\nkind = \"area\"\njob = \"J\"\nmin = 0.5\nmax = 0.1\n").is_err());
        assert!(compile("[[rule]]\nkind = \"area\"\njob = \"J\"\n").is_err());
        assert!(compile("[[rule]]\nkind = \"count\"\njob = \"J\"\nmax = 1.5\n").is_err());
        assert!(compile("[[rule]]\nkind = \"count\"\njob = \"J\"\nmax = -1\n").is_err());
        assert!(compile("[[rule]]\nkind = \"nope\"\njob = \"J\"\n").is_err());
        assert!(
            compile("[[rule]]\nkind = \"count\"\njob = \"J\"\nmax = 1\nmessage = \"{bad}\"\n")
                .is_err()
        );
        assert!(compile(
            "[[rule]]\nkind = \"count\"\njob = \"J\"\nmax = 1\nseverity = \"fatal\"\n"
        )
        .is_err());
    }

    #[test]
    fn ids_default_and_duplicates() {
        let rs = compile("[[rule]]\nkind = \"count\"\njob = \"J\"\nmax = 1\n[[rule]]\nkind = \"valid_polygon\"\njob = \"J\"\n").unwrap();
        assert_eq!(rs.rules[0].id, "count-1");
        assert_eq!(rs.rules[1].id, "valid_polygon-2");
        assert!(rs.opts.geometry);
        let e = compile("[[rule]]\nid = \"a\"\nkind = \"count\"\njob = \"J\"\nmax = 1\n[[rule]]\nid = \"a\"\nkind = \"count\"\njob = \"J\"\nmax = 1\n").unwrap_err();
        assert!(e.to_string().contains("duplicate"), "{e}");
    }

    #[test]
    fn count_only_rules_skip_geometry() {
        let rs = compile("[[rule]]\nkind = \"count\"\njob = \"J\"\nmax = 1\n").unwrap();
        assert!(!rs.opts.geometry);
    }
}
