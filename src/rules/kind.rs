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

/// A value a field may default to, as the schema and the docs show it.
pub trait DocDefault {
    fn doc_default(&self) -> Default;
}

impl DocDefault for f64 {
    fn doc_default(&self) -> Default {
        Default::Num(*self)
    }
}

impl DocDefault for bool {
    fn doc_default(&self) -> Default {
        Default::Bool(*self)
    }
}

/// A kind's fields as a typed struct (serde) and the `Field` table the loader, the schema and
/// the docs read, declared from one list so that a field's name, type, default and doc live in
/// one place and a misspelt field is a compile error:
///
/// ```ignore
/// fields! {
///     pub struct CountFields {
///         min: f64 = Whole, "Fewest objects or answers allowed";
///         strip: bool = Bool, "Remove whitespace first", default false;
///     }
/// }
/// ```
///
/// Every field is `Option<T>` (set in the rules file or not); a field with a default also gets
/// an accessor `f.strip()` that returns the value or the default. `Whole` fields are `f64`
/// (checked whole and >= 0 before), `Choice` fields an enum deriving `Deserialize`.
macro_rules! fields {
    ($vis:vis struct $name:ident {
        $( $field:ident : $ty:ty = $fty:ident $(($arg:expr))?, $doc:expr $(, default $def:expr)? ; )*
    }) => {
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        $vis struct $name {
            $( pub $field: Option<$ty>, )*
        }

        #[allow(dead_code)]
        impl $name {
            $( $(
                pub fn $field(&self) -> $ty {
                    self.$field.clone().unwrap_or($def)
                }
            )? )*
        }

        impl $crate::rules::kind::KindFields for $name {
            fn fields() -> &'static [$crate::rules::kind::Field] {
                static FIELDS: std::sync::LazyLock<Vec<$crate::rules::kind::Field>> =
                    std::sync::LazyLock::new(|| {
                        vec![$(
                            $crate::rules::kind::Field {
                                name: stringify!($field),
                                ty: $crate::rules::kind::FieldType::$fty $(($arg))?,
                                default: $crate::rules::kind::fields!(@default $ty $(, $def)?),
                                doc: $doc,
                            },
                        )*]
                    });
                &FIELDS
            }
        }
    };
    (@default $ty:ty) => { None };
    (@default $ty:ty, $def:expr) => {{
        let d: $ty = $def;
        Some($crate::rules::kind::DocDefault::doc_default(&d))
    }};
}
pub(crate) use fields;

/// A `TextList` field: one string, or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextList(pub Vec<String>);

impl TextList {
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }
}

impl<'de> serde::Deserialize<'de> for TextList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TextList, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(TextList(match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }))
    }
}

/// A kind's typed fields: their table (for the loader, the schema, the docs) and serde.
pub trait KindFields: serde::de::DeserializeOwned {
    fn fields() -> &'static [Field];
}

/// A kind whose fields are a typed struct declared with `fields!`: the registry's `Kind` follows
/// from it (the fields are type-checked against the table, then deserialized into the struct).
pub trait TypedKind: Sync {
    type Fields: KindFields;
    const NAME: &'static str;
    /// One line for the schema, the docs and the Python class.
    const DOC: &'static str;
    fn compile(&self, f: Self::Fields) -> Result<Arc<dyn Check>, FieldError>;
}

impl<K: TypedKind> Kind for K {
    fn name(&self) -> &'static str {
        K::NAME
    }
    fn doc(&self) -> &'static str {
        K::DOC
    }
    fn fields(&self) -> &'static [Field] {
        K::Fields::fields()
    }
    fn typed(&self) -> bool {
        true
    }
    fn compile(&self, p: &Params<'_>) -> Result<Arc<dyn Check>, FieldError> {
        // Each value was checked against its field's type already, so this fails only if a
        // kind's struct and table disagree (held by the registry tests); no string look-ups.
        // (A rule is compiled once: the copy costs nothing per label.)
        let f = serde_json::from_value::<K::Fields>(Value::Object(p.map.clone())).map_err(|e| {
            FieldError {
                field: None,
                reason: format!("fields of kind '{}': {e}", K::NAME),
            }
        })?;
        TypedKind::compile(self, f)
    }
}

/// `lo <= hi` when both are set; the error names `lo`.
pub fn check_order(
    (lo, a): (&'static str, Option<f64>),
    (hi, b): (&'static str, Option<f64>),
) -> Result<(), FieldError> {
    match (a, b) {
        (Some(a), Some(b)) if a > b => Err(FieldError::new(
            lo,
            format!("{lo} ({a}) is above {hi} ({b})"),
        )),
        _ => Ok(()),
    }
}

/// `ordered!(f, min, max)`: the two fields of `f` in order when both are set.
macro_rules! ordered {
    ($f:expr, $lo:ident, $hi:ident) => {
        $crate::rules::kind::check_order(
            (stringify!($lo), $f.$lo.map(f64::from)),
            (stringify!($hi), $f.$hi.map(f64::from)),
        )
    };
}
pub(crate) use ordered;

/// `need_one!(f, a, b, ...)`: at least one of the fields is set in the rules file.
macro_rules! need_one {
    ($f:expr, $($name:ident),+ $(,)?) => {
        if false $(|| $f.$name.is_some())+ {
            Ok(())
        } else {
            Err($crate::rules::kind::FieldError {
                field: None,
                reason: format!(
                    "set at least one of {}",
                    [$(stringify!($name)),+].join(", ")
                ),
            })
        }
    };
}
pub(crate) use need_one;

/// A whole-number field (checked whole and >= 0) as a count; absurdly large bounds saturate.
pub fn whole(n: f64) -> usize {
    n.min(usize::MAX as f64) as usize
}

/// A regex field, compiled; `case_sensitive = false` makes it case-insensitive.
pub fn pattern(
    name: &'static str,
    p: Option<&str>,
    case_sensitive: bool,
) -> Result<Option<regex::Regex>, FieldError> {
    let Some(p) = p else {
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

/// A kind's fields as set in one rule, already checked against their declared types. Kinds
/// declared with `fields!` (TypedKind) never read it; the string look-ups below are kept only
/// for a kind not yet moved to `fields!` (the registry test names such kinds).
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
        self.num(name).map(whole)
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
        pattern(name, self.text(name), case_sensitive)
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
    /// Whether the kind reads its fields as a typed struct (`fields!` and `TypedKind`).
    fn typed(&self) -> bool {
        false
    }
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
