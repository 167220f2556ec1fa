//! Rule configs compiled into a RuleSet: bounds checked, message templates parsed, and what
//! each rule needs from a label (geometry or not) worked out once.

use std::panic::{catch_unwind, AssertUnwindSafe};

pub mod config;
pub mod lint;
pub mod schema;

use crate::error::{LabelError, RulesError};
use crate::label::{Label, Name, ReadOpts, Resolution};
use crate::rules::template::Template;
use crate::rules::{self, BoxBounds, Issue, MissingResolution, Rule, Severity, Spec, Unit};
use config::{kind_fields, RuleConfig, COMMON_FIELDS, KINDS};

#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub configs: Vec<RuleConfig>,
    pub rules: Vec<Rule>,
    pub opts: ReadOpts,
}

impl RuleSet {
    pub fn compile(mut configs: Vec<RuleConfig>) -> Result<RuleSet, RulesError> {
        let mut rules = Vec::with_capacity(configs.len());
        let mut seen_ids: Vec<String> = Vec::new();
        for (i, cfg) in configs.iter_mut().enumerate() {
            let rule = compile_rule(i, cfg)?;
            if seen_ids.contains(&rule.id) {
                return Err(err(
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
            rules,
            opts,
        })
    }

    pub fn needs_pixels(&self) -> bool {
        self.rules.iter().any(Rule::needs_pixels)
    }

    /// Run every rule on one label. A pixel-unit rule that meets an object of an asset of
    /// unknown size is an error of the label's input, not a violation.
    pub fn check(&self, label: &Label, res: &Resolution) -> Result<Vec<Issue>, LabelError> {
        let mut out = Vec::new();
        for rule in &self.rules {
            // Geometry code is ours and geo's; a bug there must not take the process down
            // (a PanicException escapes `except Exception` in Python).
            let run = catch_unwind(AssertUnwindSafe(|| {
                rules::check(rule, label, res, &mut out)
            }));
            match run {
                Ok(Ok(())) => {}
                Ok(Err(MissingResolution)) => {
                    return Err(LabelError::new(
                        "resolution",
                        format!(
                        "rule '{}' measures pixels and needs the asset resolution (width, height)",
                        rule.id
                    ),
                    ))
                }
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

fn err(i: usize, cfg: &RuleConfig, field: Option<&str>, reason: String) -> RulesError {
    RulesError::Rule {
        index: i + 1,
        id: cfg.id.clone(),
        field: field.map(str::to_owned),
        reason,
    }
}

fn compile_rule(i: usize, cfg: &RuleConfig) -> Result<Rule, RulesError> {
    let Some(kind) = KINDS.iter().copied().find(|k| *k == cfg.kind) else {
        return Err(err(
            i,
            cfg,
            Some("kind"),
            format!("unknown kind '{}' (known: {})", cfg.kind, KINDS.join(", ")),
        ));
    };
    let allowed = kind_fields(kind).unwrap_or(&[]);
    for (name, set) in set_fields(cfg) {
        if set && !allowed.contains(&name) && !COMMON_FIELDS.contains(&name) {
            return Err(err(
                i,
                cfg,
                Some(name),
                format!(
                    "not a field of kind '{kind}' (it takes: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    if cfg.job.trim().is_empty() {
        return Err(err(i, cfg, Some("job"), "must name a job".into()));
    }
    let severity = match cfg.severity.as_deref() {
        None | Some("error") => Severity::Error,
        Some("warning") => Severity::Warning,
        Some(other) => {
            return Err(err(
                i,
                cfg,
                Some("severity"),
                format!("'{other}' is not 'error' or 'warning'"),
            ))
        }
    };
    let unit = match cfg.unit.as_deref() {
        None | Some("normalized") => Unit::Normalized,
        Some("pixels") => Unit::Pixels,
        Some(other) => {
            return Err(err(
                i,
                cfg,
                Some("unit"),
                format!("'{other}' is not 'normalized' or 'pixels'"),
            ))
        }
    };
    for (name, v) in number_fields(cfg) {
        if let Some(v) = v {
            if !v.is_finite() || v < 0.0 {
                return Err(err(
                    i,
                    cfg,
                    Some(name),
                    format!("must be a finite number >= 0, got {v}"),
                ));
            }
        }
    }
    let ordered = |lo: Option<f64>, hi: Option<f64>, name: &str| -> Result<(), RulesError> {
        match (lo, hi) {
            (Some(a), Some(b)) if a > b => Err(err(
                i,
                cfg,
                Some(name),
                format!("min ({a}) is above max ({b})"),
            )),
            _ => Ok(()),
        }
    };
    let spec = match kind {
        "count" => {
            ordered(cfg.min, cfg.max, "min")?;
            for (name, v) in [("min", cfg.min), ("max", cfg.max)] {
                if v.is_some_and(|v| v.fract() != 0.0) {
                    return Err(err(
                        i,
                        cfg,
                        Some(name),
                        "a count bound must be a whole number".into(),
                    ));
                }
            }
            need_one(i, cfg, &[("min", cfg.min), ("max", cfg.max)])?;
            Spec::Count {
                min: cfg.min,
                max: cfg.max,
            }
        }
        "area" => {
            ordered(cfg.min, cfg.max, "min")?;
            need_one(i, cfg, &[("min", cfg.min), ("max", cfg.max)])?;
            Spec::Area {
                min: cfg.min,
                max: cfg.max,
                unit,
            }
        }
        "box" => {
            let b = BoxBounds {
                min_width: cfg.min_width,
                max_width: cfg.max_width,
                min_height: cfg.min_height,
                max_height: cfg.max_height,
                min_aspect: cfg.min_aspect,
                max_aspect: cfg.max_aspect,
            };
            ordered(b.min_width, b.max_width, "min_width")?;
            ordered(b.min_height, b.max_height, "min_height")?;
            ordered(b.min_aspect, b.max_aspect, "min_aspect")?;
            need_one(
                i,
                cfg,
                &[
                    ("min_width", b.min_width),
                    ("max_width", b.max_width),
                    ("min_height", b.min_height),
                    ("max_height", b.max_height),
                    ("min_aspect", b.min_aspect),
                    ("max_aspect", b.max_aspect),
                ],
            )?;
            Spec::Box { bounds: b, unit }
        }
        "inside_image" => Spec::InsideImage {
            tolerance: cfg.tolerance.unwrap_or(1e-6),
        },
        "valid_polygon" => Spec::ValidPolygon,
        "overlap" => {
            let max_iou = cfg.max_iou.unwrap_or(0.9);
            if max_iou > 1.0 {
                return Err(err(
                    i,
                    cfg,
                    Some("max_iou"),
                    "must be between 0 and 1".into(),
                ));
            }
            Spec::Overlap {
                max_iou,
                same_category: cfg.same_category.unwrap_or(true),
            }
        }
        "required" => Spec::Required {
            child: cfg.child.clone(),
        },
        _ => return Err(err(i, cfg, Some("kind"), format!("unknown kind '{kind}'"))),
    };
    let text = cfg
        .message
        .clone()
        .unwrap_or_else(|| rules::default_message(&spec, cfg.category.is_some()));
    let message = Template::parse(&text).map_err(|e| err(i, cfg, Some("message"), e))?;
    let id = cfg
        .id
        .clone()
        .unwrap_or_else(|| format!("{kind}-{}", i + 1));
    if id.trim().is_empty() {
        return Err(err(i, cfg, Some("id"), "must not be empty".into()));
    }
    Ok(Rule {
        id,
        kind,
        job: Name::new(&cfg.job),
        category: cfg.category.as_deref().map(Name::new),
        severity,
        message,
        spec,
    })
}

fn need_one(i: usize, cfg: &RuleConfig, fields: &[(&str, Option<f64>)]) -> Result<(), RulesError> {
    if fields.iter().all(|(_, v)| v.is_none()) {
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        return Err(err(
            i,
            cfg,
            None,
            format!("set at least one of {}", names.join(", ")),
        ));
    }
    Ok(())
}

fn number_fields(c: &RuleConfig) -> [(&'static str, Option<f64>); 10] {
    [
        ("min", c.min),
        ("max", c.max),
        ("min_width", c.min_width),
        ("max_width", c.max_width),
        ("min_height", c.min_height),
        ("max_height", c.max_height),
        ("min_aspect", c.min_aspect),
        ("max_aspect", c.max_aspect),
        ("tolerance", c.tolerance),
        ("max_iou", c.max_iou),
    ]
}

fn set_fields(c: &RuleConfig) -> Vec<(&'static str, bool)> {
    let mut v: Vec<(&'static str, bool)> = number_fields(c)
        .iter()
        .map(|(n, x)| (*n, x.is_some()))
        .collect();
    v.push(("unit", c.unit.is_some()));
    v.push(("same_category", c.same_category.is_some()));
    v.push(("child", c.child.is_some()));
    v
}

#[cfg(test)]
mod tests {
    use super::config::parse_toml;
    use super::*;

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
