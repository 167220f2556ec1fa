//! `text`: transcription answers, wherever the job sits (top level, or a child of an object or
//! a category). An issue goes on the enclosing object's mid, else on the label. Patterns run
//! on the `regex` crate (linear time: no catastrophic backtracking).

use std::sync::Arc;

use regex::Regex;

use super::checksum::Checksum;
use crate::label::{Answer, Label, Resolution};
use crate::rules::interface::{who, Interface};
use crate::rules::kind::{Check, Default, Field, FieldError, FieldType, Kind, Params};
use crate::rules::template::Vars;
use crate::rules::{issue, parent_category, Issue, MissingResolution, Rule};

pub struct Text;

const FIELDS: &[Field] = &[
    Field::new(
        "pattern",
        FieldType::Pattern,
        "Regular expression the text must match somewhere (anchor it with ^...$ for the whole text)",
    ),
    Field::new("prefix", FieldType::Text, "The text must start with this"),
    Field::new("suffix", FieldType::Text, "The text must end with this"),
    Field::new("allowed", FieldType::TextList, "The only texts allowed"),
    Field::new("forbidden", FieldType::TextList, "Texts that are not allowed"),
    Field::new("min_length", FieldType::Whole, "Fewest characters"),
    Field::new("max_length", FieldType::Whole, "Most characters"),
    Field::new(
        "checksum",
        FieldType::Choice(Checksum::NAMES),
        "The text must pass this checksum: iban (ISO 13616, mod 97) or luhn (card numbers)",
    ),
    Field::new(
        "case_sensitive",
        FieldType::Bool,
        "Compare prefix, suffix, allowed, forbidden and pattern with case",
    )
    .with_default(Default::Bool(true)),
    Field::new(
        "strip",
        FieldType::Bool,
        "Remove leading and trailing whitespace before checking",
    )
    .with_default(Default::Bool(false)),
];

impl Kind for Text {
    fn name(&self) -> &'static str {
        "text"
    }
    fn doc(&self) -> &'static str {
        "Transcription text: pattern, prefix / suffix, allowed / forbidden values, length, checksum."
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn compile(&self, p: &Params<'_>) -> Result<Arc<dyn Check>, FieldError> {
        p.ordered("min_length", "max_length")?;
        p.need_one(&[
            "pattern",
            "prefix",
            "suffix",
            "allowed",
            "forbidden",
            "min_length",
            "max_length",
            "checksum",
        ])?;
        let case_sensitive = p.bool("case_sensitive").unwrap_or(true);
        let fold = |s: &str| fold(s, case_sensitive);
        Ok(Arc::new(TextCheck {
            pattern: p.pattern("pattern", case_sensitive)?,
            prefix: p.text("prefix").map(fold),
            suffix: p.text("suffix").map(fold),
            allowed: p
                .texts("allowed")
                .map(|v| v.iter().map(|s| fold(s)).collect()),
            forbidden: p
                .texts("forbidden")
                .unwrap_or_default()
                .iter()
                .map(|s| fold(s))
                .collect(),
            min_length: p.whole("min_length"),
            max_length: p.whole("max_length"),
            checksum: p.text("checksum").and_then(Checksum::from_name),
            case_sensitive,
            strip: p.bool("strip").unwrap_or(false),
        }))
    }
}

fn fold(s: &str, case_sensitive: bool) -> String {
    if case_sensitive {
        s.to_owned()
    } else {
        s.to_lowercase()
    }
}

#[derive(Debug)]
struct TextCheck {
    pattern: Option<Regex>,
    prefix: Option<String>,
    suffix: Option<String>,
    allowed: Option<Vec<String>>,
    forbidden: Vec<String>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    checksum: Option<Checksum>,
    case_sensitive: bool,
    strip: bool,
}

/// Why a text fails, and the measure and bound for length failures.
struct Failure {
    reason: String,
    value: Option<f64>,
    limit: Option<f64>,
}

impl Failure {
    fn new(reason: String) -> Failure {
        Failure {
            reason,
            value: None,
            limit: None,
        }
    }
}

impl TextCheck {
    /// The first check the text fails, in the order the fields are documented.
    fn judge(&self, raw: &str) -> Option<Failure> {
        let text = if self.strip { raw.trim() } else { raw };
        let folded = fold(text, self.case_sensitive);
        if let Some(re) = &self.pattern {
            if !re.is_match(text) {
                return Some(Failure::new(format!(
                    "does not match the pattern {}",
                    re.as_str()
                )));
            }
        }
        if let Some(p) = &self.prefix {
            if !folded.starts_with(p.as_str()) {
                return Some(Failure::new(format!("does not start with '{p}'")));
            }
        }
        if let Some(s) = &self.suffix {
            if !folded.ends_with(s.as_str()) {
                return Some(Failure::new(format!("does not end with '{s}'")));
            }
        }
        if let Some(allowed) = &self.allowed {
            if !allowed.contains(&folded) {
                return Some(Failure::new(format!(
                    "is not one of {}",
                    allowed.join(", ")
                )));
            }
        }
        if self.forbidden.contains(&folded) {
            return Some(Failure::new("is forbidden".into()));
        }
        let n = text.chars().count();
        let limit = match (self.min_length, self.max_length) {
            (Some(lo), _) if n < lo => Some((lo, "at least")),
            (_, Some(hi)) if n > hi => Some((hi, "at most")),
            _ => None,
        };
        if let Some((bound, word)) = limit {
            return Some(Failure {
                reason: format!("has {n} characters, expected {word} {bound}"),
                value: Some(n as f64),
                limit: Some(bound as f64),
            });
        }
        if let Some(c) = self.checksum {
            if !c.valid(text) {
                return Some(Failure::new(format!("is not a valid {}", c.label())));
            }
        }
        None
    }
}

fn in_scope(rule: &Rule, a: &Answer) -> bool {
    a.job == rule.job
        && rule
            .when
            .as_ref()
            .is_none_or(|w| w.parent_ok(parent_category(a.parent.as_ref())))
}

impl Check for TextCheck {
    fn default_message(&self, _has_category: bool) -> String {
        "{job}: text '{text}' {reason}".into()
    }

    fn check(
        &self,
        rule: &Rule,
        label: &Label,
        _res: &Resolution,
        out: &mut Vec<Issue>,
    ) -> Result<(), MissingResolution> {
        for a in label.answers.iter().filter(|a| in_scope(rule, a)) {
            let Some(text) = a.text.as_deref() else {
                continue;
            };
            let Some(f) = self.judge(text) else { continue };
            let parent = a.parent.as_ref();
            let vars = Vars {
                mid: parent.and_then(|p| p.mid.as_deref()),
                category: parent.and_then(|p| p.category.as_deref()),
                frame: a.frame,
                text: Some(text),
                reason: Some(&f.reason),
                ..Vars::default()
            };
            out.push(issue(rule, vars, f.value, f.limit));
        }
        Ok(())
    }

    fn lint(&self, rule: &Rule, iface: &Interface<'_>, out: &mut Vec<String>) {
        if let Some(job) = iface.job(&rule.job) {
            let ml = job.ml_task();
            if !ml.contains("TRANSCRIPTION") && ml != "SPEECH_TO_TEXT" {
                out.push(format!(
                    "{}: job '{}' is not a transcription (mlTask '{ml}')",
                    who(rule),
                    rule.job
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(fields: serde_json::Value) -> TextCheck {
        let map = fields.as_object().cloned().unwrap_or_default();
        let p = Params::new(&map);
        TextCheck {
            pattern: p
                .pattern("pattern", p.bool("case_sensitive").unwrap_or(true))
                .unwrap(),
            prefix: p.text("prefix").map(str::to_owned),
            suffix: None,
            allowed: None,
            forbidden: Vec::new(),
            min_length: p.whole("min_length"),
            max_length: p.whole("max_length"),
            checksum: p.text("checksum").and_then(Checksum::from_name),
            case_sensitive: p.bool("case_sensitive").unwrap_or(true),
            strip: p.bool("strip").unwrap_or(false),
        }
    }

    #[test]
    fn checks_in_order() {
        let c = check(json!({"prefix": "FR", "checksum": "iban", "strip": true}));
        assert!(c.judge(" FR76 3000 6000 0112 3456 7890 189 ").is_none());
        let f = c.judge("DE89 3704 0044 0532 0130 00").unwrap();
        assert_eq!(f.reason, "does not start with 'FR'");
        let f = c.judge("FR76 3000 6000 0112 3456 7890 188").unwrap();
        assert_eq!(f.reason, "is not a valid IBAN");
    }

    #[test]
    fn lengths_count_characters() {
        let c = check(json!({"max_length": 3}));
        assert!(c.judge("été").is_none());
        let f = c.judge("étés").unwrap();
        assert_eq!((f.value, f.limit), (Some(4.0), Some(3.0)));
    }

    #[test]
    fn pathological_pattern_runs_in_linear_time() {
        let c = check(json!({"pattern": "^(a+)+$"}));
        let long = "a".repeat(10_000) + "!";
        assert!(c.judge(&long).is_some());
        assert!(c.judge(&"a".repeat(10_000)).is_none());
    }
}
