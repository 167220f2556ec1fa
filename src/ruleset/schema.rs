//! JSON Schema of the rules file format (draft 2020-12), built from the same field tables
//! the loader checks, so the two cannot drift apart.

use serde_json::{json, Map, Value};

use super::config::{kind_fields, COMMON_FIELDS, KINDS};

fn field_schema(name: &str) -> Value {
    match name {
        "id" => {
            json!({"type": "string", "minLength": 1, "description": "Rule id, shown in issues and reports (default: KIND-N)"})
        }
        "kind" => json!({"enum": KINDS}),
        "job" => {
            json!({"type": "string", "minLength": 1, "description": "Job name (key of jsonInterface.jobs); matched wherever it is nested"})
        }
        "category" => {
            json!({"type": "string", "description": "Category key; default: every category of the job"})
        }
        "severity" => {
            json!({"enum": ["error", "warning"], "default": "error", "description": "error sends the asset back to the queue; warning only creates an issue"})
        }
        "message" => {
            json!({"type": "string", "description": "Issue text template: {count} {value} {min} {max} {limit} {job} {category} {mid} {frame} {reason} {measure} {child} {other} {rule}"})
        }
        "unit" => json!({"enum": ["normalized", "pixels"], "default": "normalized"}),
        "same_category" => json!({"type": "boolean", "default": true}),
        "child" => {
            json!({"type": "string", "description": "Child job that every object of the scope must answer"})
        }
        "max_iou" => json!({"type": "number", "minimum": 0, "maximum": 1, "default": 0.9}),
        "tolerance" => json!({"type": "number", "minimum": 0, "default": 1e-6}),
        "min" | "max" => json!({"type": "number", "minimum": 0}),
        _ => json!({"type": "number", "minimum": 0}),
    }
}

pub fn json_schema() -> Value {
    let variants: Vec<Value> = KINDS
        .iter()
        .map(|kind| {
            let mut props = Map::new();
            for f in COMMON_FIELDS
                .iter()
                .chain(kind_fields(kind).unwrap_or(&[]).iter())
            {
                props.insert((*f).to_owned(), field_schema(f));
            }
            props.insert("kind".into(), json!({"const": kind}));
            json!({
                "title": kind,
                "type": "object",
                "required": ["kind", "job"],
                "additionalProperties": false,
                "properties": props,
            })
        })
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "kili-rules rules file",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "rule": {"type": "array", "items": {"oneOf": variants}}
        }
    })
}
