//! The rules file format (serde): `{"rule": [{kind, job, ...}, ...]}` in TOML, JSON, or a
//! Python dict. Each rule is checked on its own so that an error names the rule and field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::RulesError;

/// One rule as written in a rules file: the fields every kind has, plus the kind's own
/// (`params`), which are checked against the kind's declaration when compiling.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RuleConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub kind: String,
    pub job: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<WhenConfig>,
    /// In a batch, the share of the checked labels that may break the rule before it fails
    /// the run (the report layer judges it; one label alone is judged as without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fraction: Option<f64>,
    #[serde(flatten)]
    pub params: Map<String, Value>,
}

/// A rule's `when` table. See `rules::when`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_answer: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A string, or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The fields every kind accepts.
pub const COMMON_FIELDS: &[&str] = &[
    "id",
    "kind",
    "job",
    "category",
    "severity",
    "message",
    "when",
    "max_fraction",
];

/// A parsed rules file: its rules, and its `actions` table (validated by the Python layer's
/// ActionPolicy; kept here so that it is part of the fingerprint and of pickles).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RulesDoc {
    pub rules: Vec<RuleConfig>,
    pub actions: Option<Map<String, Value>>,
}

/// Split a rules document (`{"rule": [...]}`) into its rules, parsing each one.
pub fn rules_from_value(doc: serde_json::Value) -> Result<RulesDoc, RulesError> {
    let serde_json::Value::Object(mut top) = doc else {
        return Err(RulesError::File(
            "expected a table/object with a `rule` list".into(),
        ));
    };
    let rules = top.remove("rule").or_else(|| top.remove("rules"));
    let actions = match top.remove("actions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(RulesError::File("actions: expected a table".into())),
    };
    if let Some(extra) = top.keys().next() {
        return Err(RulesError::File(format!(
            "unknown top-level key `{extra}` (expected `rule` or `actions`)"
        )));
    }
    let list = match rules {
        None => Vec::new(),
        Some(serde_json::Value::Array(l)) => l,
        Some(_) => return Err(RulesError::File("`rule` must be a list of rules".into())),
    };
    let rules = list
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let id = v.get("id").and_then(|x| x.as_str()).map(str::to_owned);
            serde_path_to_error::deserialize::<_, RuleConfig>(v).map_err(|e| {
                let path = e.path().to_string();
                field_error(
                    i,
                    id,
                    (path != ".").then_some(path),
                    &e.into_inner().to_string(),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RulesDoc { rules, actions })
}

/// Turn serde's "unknown field `maxx`, expected ..." into an error naming the field.
fn field_error(index: usize, id: Option<String>, path: Option<String>, msg: &str) -> RulesError {
    let named = msg.starts_with("unknown field") || msg.starts_with("missing field");
    let field = path.or_else(|| msg.split('`').nth(1).filter(|_| named).map(str::to_owned));
    RulesError::Rule {
        index: index + 1,
        id,
        field,
        reason: msg.to_owned(),
    }
}

pub fn parse_toml(text: &str) -> Result<RulesDoc, RulesError> {
    let v: serde_json::Value =
        toml::from_str(text).map_err(|e| RulesError::File(format!("TOML: {e}")))?;
    rules_from_value(v)
}

pub fn parse_json(text: &[u8]) -> Result<RulesDoc, RulesError> {
    let v: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| RulesError::File(format!("JSON: {e}")))?;
    rules_from_value(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_tutorial() {
        let r = parse_toml(
            "[[rule]]\nkind = \"count\"\njob = \"JOB_0\"\ncategory = \"OBJECT_A\"\nmax = 1\n\n[[rule]]\nkind = \"area\"\njob = \"JOB_0\"\nmax = 0.33\n",
        )
        .unwrap()
        .rules;
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].params.get("max").and_then(Value::as_f64), Some(0.33));
    }

    #[test]
    fn actions_kept_and_checked() {
        let d = parse_toml(
            "[actions]\non_pass = [\"review\"]\n[[rule]]\nkind = \"count\"\njob = \"J\"\nmax = 1\n",
        )
        .unwrap();
        assert!(d.actions.is_some_and(|a| a.contains_key("on_pass")));
        assert!(parse_json(br#"{"actions": 3}"#).is_err());
        assert!(parse_json(br#"{"other": 3}"#).is_err());
    }

    #[test]
    fn when_fields_are_checked() {
        let e = parse_json(
            br#"{"rule": [{"kind": "count", "job": "J", "max": 1, "when": {"jb": "Q"}}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("rule 1: when"), "{e}");
    }
}
