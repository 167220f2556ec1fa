//! The registry's vocabulary: what a rule kind declares (name, fields with type, default and
//! doc) and what its compiled form does (default message, reader needs, check, lint).
//! Config parsing, the JSON Schema, lint and the Python classes are all derived from these
//! declarations, so a kind is written in one place.

use std::fmt::Debug;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::interface::Interface;
use super::{Issue, MissingResolution, Rule};
use crate::label::{Label, Resolution};

/// The type of a kind's field, as the rules file writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A finite number >= 0.
    Number,
    /// A finite number, negative or not (a coordinate: longitudes and latitudes can be < 0).
    Signed,
    /// A whole number >= 0.
    Whole,
    Bool,
    Text,
    /// A regular expression (the `regex` crate: linear time, no backtracking).
    Pattern,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    /// A list of strings (one string is accepted as a list of one).
    TextList,
    /// A list of lists of strings (e.g. groups of categories that exclude each other).
    TextGroups,
}

impl FieldType {
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Number => "a number >= 0",
            FieldType::Signed => "a number",
            FieldType::Whole => "a whole number >= 0",
            FieldType::Bool => "true or false",
            FieldType::Text | FieldType::Pattern => "a string",
            FieldType::Choice(_) => "one of the listed strings",
            FieldType::TextList => "a list of strings",
            FieldType::TextGroups => "a list of lists of strings",
        }
    }
}

/// A default value, shown in the schema and docs (None: the field is optional and unset).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    Num(f64),
    Bool(bool),
    Text(&'static str),
}

impl Default {
    pub fn to_json(self) -> Value {
        match self {
            Default::Num(n) => serde_json::json!(n),
            Default::Bool(b) => Value::Bool(b),
            Default::Text(s) => Value::String(s.to_owned()),
        }
    }
}

/// One field of a kind.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub default: Option<Default>,
    pub doc: &'static str,
}

impl Field {
    pub const fn new(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
        Field {
            name,
            ty,
            default: None,
            doc,
        }
    }

    pub const fn with_default(mut self, d: Default) -> Field {
        self.default = Some(d);
        self
    }
}

/// A field that cannot be compiled: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Option<&'static str>,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: Some(field),
            reason: reason.into(),
        }
    }
}

/// Check a value against a field's type; the error is the reason.
pub fn type_check(ty: FieldType, v: &Value) -> Result<(), String> {
    let ok = match ty {
        FieldType::Number => v.as_f64().is_some_and(|n| n.is_finite() && n >= 0.0),
        FieldType::Signed => v.as_f64().is_some_and(f64::is_finite),
        FieldType::Whole => v
            .as_f64()
            .is_some_and(|n| n.is_finite() && n >= 0.0 && n.fract() == 0.0),
        FieldType::Bool => v.is_boolean(),
        FieldType::Text | FieldType::Pattern => v.is_string(),
        FieldType::Choice(names) => v.as_str().is_some_and(|s| names.contains(&s)),
        FieldType::TextList => v.is_string() || str_list(v).is_some(),
        FieldType::TextGroups => v
            .as_array()
            .is_some_and(|gs| gs.iter().all(|g| str_list(g).is_some())),
    };
    if ok {
        return Ok(());
    }
    let want = match ty {
        FieldType::Choice(names) => format!("one of {}", names.join(", ")),
        _ => ty.describe().to_owned(),
    };
    let mut got = v.to_string();
    if got.len() > 60 {
        got.truncate(60);
        got.push_str("...");
    }
    Err(format!("expected {want}, got {got}"))
}

fn str_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// A kind's fields as set in one rule, already checked against their declared types.
pub struct Params<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Params<'a> {
        Params { map }
    }

    pub fn num(&self, name: &str) -> Option<f64> {
        self.map.get(name).and_then(Value::as_f64)
    }

    pub fn whole(&self, name: &str) -> Option<usize> {
        // Type-checked as a whole number >= 0; saturate absurdly large bounds.
        self.num(name).map(|n| n.min(usize::MAX as f64) as usize)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.map.get(name).and_then(Value::as_bool)
    }

    pub fn text(&self, name: &str) -> Option<&'a str> {
        self.map.get(name).and_then(Value::as_str)
    }

    pub fn texts(&self, name: &str) -> Option<Vec<String>> {
        match self.map.get(name)? {
            Value::String(s) => Some(vec![s.clone()]),
            v => str_list(v),
        }
    }

    pub fn groups(&self, name: &str) -> Option<Vec<Vec<String>>> {
        self.map
            .get(name)?
            .as_array()?
            .iter()
            .map(str_list)
            .collect()
    }

    /// A regex field, compiled; `case_sensitive = false` makes it case-insensitive.
    pub fn pattern(
        &self,
        name: &'static str,
        case_sensitive: bool,
    ) -> Result<Option<regex::Regex>, FieldError> {
        let Some(p) = self.text(name) else {
            return Ok(None);
        };
        regex::RegexBuilder::new(p)
            .case_insensitive(!case_sensitive)
            // Bound the compiled program: a rules file must not blow memory up.
            .size_limit(1 << 22)
            .build()
            .map(Some)
            .map_err(|e| FieldError::new(name, format!("not a valid pattern: {e}")))
    }

    /// `lo <= hi` when both are set.
    pub fn ordered(&self, lo: &'static str, hi: &'static str) -> Result<(), FieldError> {
        match (self.num(lo), self.num(hi)) {
            (Some(a), Some(b)) if a > b => Err(FieldError::new(
                lo,
                format!("{lo} ({a}) is above {hi} ({b})"),
            )),
            _ => Ok(()),
        }
    }

    /// At least one of the fields is set.
    pub fn need_one(&self, names: &[&str]) -> Result<(), FieldError> {
        if names.iter().any(|n| self.map.contains_key(*n)) {
            return Ok(());
        }
        Err(FieldError {
            field: None,
            reason: format!("set at least one of {}", names.join(", ")),
        })
    }
}

/// What a compiled rule needs the reader to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// Vertices (areas, boxes, validity...).
    pub geometry: bool,
    /// The asset's resolution (pixel units).
    pub pixels: bool,
}

/// A rule kind: its declaration, and how a rule's fields compile into a check.
pub trait Kind: Sync {
    fn name(&self) -> &'static str;
    /// One line for the schema, the docs and the Python class.
    fn doc(&self) -> &'static str;
    fn fields(&self) -> &'static [Field];
    /// Compile the kind's fields (type-checked already) into its check.
    fn compile(&self, p: &Params<'_>) -> Result<Arc<dyn Check>, FieldError>;
}

/// A compiled rule of one kind.
pub trait Check: Debug + Send + Sync {
    /// The issue text used when the rule sets no `message`.
    fn default_message(&self, has_category: bool) -> String;
    fn needs(&self) -> Needs {
        Needs::default()
    }
    fn check(
        &self,
        rule: &Rule,
        label: &Label,
        res: &Resolution,
        out: &mut Vec<Issue>,
    ) -> Result<(), MissingResolution>;
    /// Problems of this rule against a project's interface (the common scope checks, job and
    /// category, are done by the linter for every kind).
    fn lint(&self, _rule: &Rule, _iface: &Interface<'_>, _out: &mut Vec<String>) {}
}
