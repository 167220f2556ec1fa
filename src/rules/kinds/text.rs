//! `text`: transcription answers, wherever the job sits (top level, or a child of an object or
//! a category). An issue goes on the enclosing object's mid, else on the label. Patterns run
//! on the `regex` crate (linear time: no catastrophic backtracking).

use std::sync::Arc;

use regex::Regex;

use super::checksum::Checksum;
use crate::label::{Answer, Label, Resolution};
use crate::rules::interface::{who, Interface};
use crate::rules::kind::{
    fields, need_one, ordered, pattern, whole, Check, FieldError, TextList, TypedKind,
};
use crate::rules::template::Vars;
use crate::rules::{issue, parent_category, Issue, MissingResolution, Rule};

pub struct Text;

fields! {
    pub struct TextFields {
        pattern: String = Pattern,
            "Regular expression the text must match somewhere (anchor it with ^...$ for the whole text)";
        prefix: String = Text, "The text must start with this";
        suffix: String = Text, "The text must end with this";
        allowed: TextList = TextList, "The only texts allowed";
        forbidden: TextList = TextList, "Texts that are not allowed";
        min_length: f64 = Whole, "Fewest characters";
        max_length: f64 = Whole, "Most characters";
        checksum: Checksum = Choice(Checksum::NAMES),
            "The text must pass this checksum: iban (ISO 13616, mod 97) or luhn (card numbers)";
        case_sensitive: bool = Bool,
            "Compare prefix, suffix, allowed, forbidden and pattern with case", default true;
        strip: bool = Bool, "Remove leading and trailing whitespace before checking", default false;
    }
}

impl TypedKind for Text {
    type Fields = TextFields;
    const NAME: &'static str = "text";
    const DOC: &'static str =
        "Transcription text: pattern, prefix / suffix, allowed / forbidden values, length, checksum.";
    fn compile(&self, f: TextFields) -> Result<Arc<dyn Check>, FieldError> {
        ordered!(f, min_length, max_length)?;
        need_one!(
            f, pattern, prefix, suffix, allowed, forbidden, min_length, max_length, checksum
        )?;
        let case_sensitive = f.case_sensitive();
        let fold = |s: &str| fold(s, case_sensitive);
        Ok(Arc::new(TextCheck {
            pattern: pattern("pattern", f.pattern.as_deref(), case_sensitive)?,
            prefix: f.prefix.as_deref().map(fold),
            suffix: f.suffix.as_deref().map(fold),
            allowed: f
                .allowed
                .as_ref()
                .map(|v| v.iter().map(|s| fold(s)).collect()),
            forbidden: f
                .forbidden
                .as_ref()
                .map(|v| v.iter().map(|s| fold(s)).collect())
                .unwrap_or_default(),
            min_length: f.min_length.map(whole),
            max_length: f.max_length.map(whole),
            checksum: f.checksum,
            case_sensitive,
            strip: f.strip(),
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
                    "does not match the expected format {}: correct it",
                    re.as_str()
                )));
            }
        }
        if let Some(p) = &self.prefix {
            if !folded.starts_with(p.as_str()) {
                return Some(Failure::new(format!(
                    "does not start with \"{p}\": correct it"
                )));
            }
        }
        if let Some(s) = &self.suffix {
            if !folded.ends_with(s.as_str()) {
                return Some(Failure::new(format!(
                    "does not end with \"{s}\": correct it"
                )));
            }
        }
        if let Some(allowed) = &self.allowed {
            if !allowed.contains(&folded) {
                return Some(Failure::new(format!(
                    "is not one of the allowed values ({}): use one of them",
                    allowed.join(", ")
                )));
            }
        }
        if self.forbidden.contains(&folded) {
            return Some(Failure::new("is not allowed: correct it".into()));
        }
        let n = text.chars().count();
        let limit = match (self.min_length, self.max_length) {
            (Some(lo), _) if n < lo => Some((lo, "too short", "at least", "needed")),
            (_, Some(hi)) if n > hi => Some((hi, "too long", "at most", "allowed")),
            _ => None,
        };
        if let Some((bound, size, word, end)) = limit {
            return Some(Failure {
                reason: format!("is {size}: {n} characters, {word} {bound} {end}"),
                value: Some(n as f64),
                limit: Some(bound as f64),
            });
        }
        if let Some(c) = self.checksum {
            if !c.valid(text) {
                return Some(Failure::new(format!(
                    "is not a valid {}: check it for typos",
                    c.label()
                )));
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
        // {what}: the category of the object the text is written under, else the job
        "The {what} text \"{text}\" {reason}.".into()
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
        let f: TextFields = serde_json::from_value(fields).unwrap();
        TextCheck {
            pattern: pattern("pattern", f.pattern.as_deref(), f.case_sensitive()).unwrap(),
            prefix: f.prefix.clone(),
            suffix: None,
            allowed: None,
            forbidden: Vec::new(),
            min_length: f.min_length.map(whole),
            max_length: f.max_length.map(whole),
            checksum: f.checksum,
            case_sensitive: f.case_sensitive(),
            strip: f.strip(),
        }
    }

    #[test]
    fn checks_in_order() {
        let c = check(json!({"prefix": "FR", "checksum": "iban", "strip": true}));
        assert!(c.judge(" FR76 3000 6000 0112 3456 7890 189 ").is_none());
        let f = c.judge("DE89 3704 0044 0532 0130 00").unwrap();
        assert_eq!(f.reason, "does not start with \"FR\": correct it");
        let f = c.judge("FR76 3000 6000 0112 3456 7890 188").unwrap();
        assert_eq!(f.reason, "is not a valid IBAN: check it for typos");
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
