//! JSON Schema of the rules file format (draft 2020-12), built from the kinds' declarations
//! (the registry), so the schema, the loader and the Python classes cannot drift apart.

use serde_json::{json, Map, Value};

use crate::rules::kind::{Field, FieldType};
use crate::rules::kinds::{self, REGISTRY};
use crate::rules::template::PLACEHOLDERS;

fn type_schema(ty: FieldType) -> Value {
    let text_list = json!({"type": "array", "items": {"type": "string"}});
    match ty {
        FieldType::Number => json!({"type": "number", "minimum": 0}),
        FieldType::Signed => json!({"type": "number"}),
        FieldType::Whole => json!({"type": "integer", "minimum": 0}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Text => json!({"type": "string"}),
        FieldType::Pattern => json!({"type": "string", "format": "regex"}),
        FieldType::Choice(names) => json!({"enum": names}),
        FieldType::TextList => json!({"anyOf": [{"type": "string"}, text_list]}),
        FieldType::TextGroups => json!({"type": "array", "items": text_list}),
    }
}

fn field_schema(f: &Field) -> Value {
    let mut s = type_schema(f.ty);
    if let Value::Object(m) = &mut s {
        m.insert("description".into(), Value::String(f.doc.to_owned()));
        if let Some(d) = f.default {
            m.insert("default".into(), d.to_json());
        }
    }
    s
}

fn when_schema() -> Value {
    let names =
        json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]});
    json!({
        "type": "object",
        "additionalProperties": false,
        "description": "The rule applies only when every key given holds",
        "properties": {
            "job": {"type": "string", "description": "A job of the label (classification, or any job: answered at all)"},
            "answer": names.clone(),
            "not_answer": names.clone(),
            "parent": names,
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Asset metadata values that must match"},
        }
    })
}

fn common() -> Vec<(&'static str, Value)> {
    vec![
        (
            "id",
            json!({"type": "string", "minLength": 1, "description": "Rule id, shown in issues and reports (default: KIND-N)"}),
        ),
        ("kind", json!({"enum": kinds::names()})),
        (
            "job",
            json!({"type": "string", "minLength": 1, "description": "Job name (key of jsonInterface.jobs); matched wherever it is nested"}),
        ),
        (
            "category",
            json!({"type": "string", "description": "Category key; default: every category of the job"}),
        ),
        (
            "severity",
            json!({"enum": ["error", "warning"], "default": "error", "description": "error sends the asset back to the queue; warning only creates an issue"}),
        ),
        (
            "message",
            json!({"type": "string", "description": format!("Issue text template: {}", PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(" "))}),
        ),
        ("when", when_schema()),
        (
            "max_fraction",
            json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "description": "Tolerance in a batch: the rule fails the run only when more than this fraction of the checked labels break it (issues are still reported)"}),
        ),
    ]
}

/// The registry in its order (a JSON object would sort the fields): each kind's name, doc and
/// fields with their schema. What scripts/gen_kind_docs.py writes the docs' tables from.
pub fn registry_json() -> Value {
    let kinds: Vec<Value> = REGISTRY
        .iter()
        .map(|kind| {
            let fields: Vec<Value> = kind
                .fields()
                .iter()
                .map(|f| json!({"name": f.name, "schema": field_schema(f)}))
                .collect();
            json!({"name": kind.name(), "doc": kind.doc(), "fields": fields})
        })
        .collect();
    Value::Array(kinds)
}

pub fn json_schema() -> Value {
    let variants: Vec<Value> = REGISTRY
        .iter()
        .map(|kind| {
            let mut props = Map::new();
            for (name, s) in common() {
                props.insert(name.to_owned(), s);
            }
            for f in kind.fields() {
                props.insert(f.name.to_owned(), field_schema(f));
            }
            props.insert("kind".into(), json!({"const": kind.name()}));
            json!({
                "title": kind.name(),
                "description": kind.doc(),
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
            "rule": {"type": "array", "items": {"oneOf": variants}},
            "actions": {"type": "object", "description": "What a checked label gets per outcome: on_error, on_warning, on_pass, max_bounces, metadata_prefix"}
        }
    })
}
