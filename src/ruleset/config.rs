//! The rules file format (serde): `{"rule": [{kind, job, ...}, ...]}` in TOML, JSON, or a
//! Python dict. Each rule is checked on its own so that an error names the rule and field.

use serde::{Deserialize, Serialize};

use crate::error::RulesError;

/// One rule as written in a rules file. Which fields a kind accepts is checked in
/// `ruleset.rs`; unknown fields are rejected here.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_width: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_width: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_height: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_height: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_aspect: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_aspect: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iou: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_category: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<String>,
}

/// The fields every kind accepts.
pub const COMMON_FIELDS: &[&str] = &["id", "kind", "job", "category", "severity", "message"];

/// The fields each kind accepts on top of the common ones.
pub fn kind_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "count" => &["min", "max"],
        "area" => &["min", "max", "unit"],
        "box" => &[
            "min_width",
            "max_width",
            "min_height",
            "max_height",
            "min_aspect",
            "max_aspect",
            "unit",
        ],
        "inside_image" => &["tolerance"],
        "valid_polygon" => &[],
        "overlap" => &["max_iou", "same_category"],
        "required" => &["child"],
        _ => return None,
    })
}

pub const KINDS: &[&str] = &[
    "count",
    "area",
    "box",
    "inside_image",
    "valid_polygon",
    "overlap",
    "required",
];

/// Split a rules document (`{"rule": [...]}`) into its rules, parsing each one.
pub fn rules_from_value(doc: serde_json::Value) -> Result<Vec<RuleConfig>, RulesError> {
    let serde_json::Value::Object(mut top) = doc else {
        return Err(RulesError::File(
            "expected a table/object with a `rule` list".into(),
        ));
    };
    let rules = top.remove("rule").or_else(|| top.remove("rules"));
    if let Some(extra) = top.keys().next() {
        return Err(RulesError::File(format!(
            "unknown top-level key `{extra}` (expected `rule`)"
        )));
    }
    let list = match rules {
        None => return Ok(Vec::new()),
        Some(serde_json::Value::Array(l)) => l,
        Some(_) => return Err(RulesError::File("`rule` must be a list of rules".into())),
    };
    list.into_iter()
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
        .collect()
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

pub fn parse_toml(text: &str) -> Result<Vec<RuleConfig>, RulesError> {
    let v: serde_json::Value =
        toml::from_str(text).map_err(|e| RulesError::File(format!("TOML: {e}")))?;
    rules_from_value(v)
}

pub fn parse_json(text: &[u8]) -> Result<Vec<RuleConfig>, RulesError> {
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
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].max, Some(0.33));
    }

    #[test]
    fn unknown_field_names_rule_and_field() {
        let e = parse_toml("[[rule]]\nkind = \"count\"\njob = \"J\"\n\n[[rule]]\nid = \"x\"\nkind = \"area\"\njob = \"J\"\nmaxx = 1\n").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("rule 2 ('x')") && s.contains("maxx"), "{s}");
    }

    #[test]
    fn wrong_type() {
        let e =
            parse_json(br#"{"rule": [{"kind": "count", "job": "J", "max": "one"}]}"#).unwrap_err();
        assert!(e.to_string().contains("rule 1: max:"), "{e}");
    }
}
