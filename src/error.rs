//! Error types of the core. The bindings map them to Python exceptions.

use std::fmt;

/// One step of the way down to a bad value: a dict key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart {
    Key(String),
    Index(usize),
}

/// A malformed label: where (a JSON path such as `JOB_0.annotations[2].mid`, and the same as
/// its keys and indexes in `parts`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelError {
    pub parts: Vec<PathPart>,
    pub reason: String,
}

impl LabelError {
    /// An error at a top-level key (`path`), or on the whole document (`""`).
    pub fn new(path: &str, reason: impl Into<String>) -> Self {
        let parts = if path.is_empty() {
            Vec::new()
        } else {
            vec![PathPart::Key(path.to_owned())]
        };
        LabelError {
            parts,
            reason: reason.into(),
        }
    }

    /// The path as the reader writes it (`JOB_0.annotations[2].mid`; empty for the document).
    pub fn path(&self) -> String {
        write_path(&self.parts)
    }

    /// An error at the value reached by `parts`; the path is written as the reader writes it.
    pub fn at(parts: Vec<PathPart>, reason: impl Into<String>) -> Self {
        LabelError {
            parts,
            reason: reason.into(),
        }
    }

    /// The same error, one key further out (`key.path`).
    pub fn under(mut self, key: &str) -> Self {
        self.parts.insert(0, PathPart::Key(key.to_owned()));
        self
    }

    /// From a serde_json error and the path `serde_path_to_error` tracked.
    ///
    /// The reason leaves out serde_json's " at line L column C": the path already says where,
    /// and the same label must give the same error whether it came as JSON text or as Python
    /// objects (whose JSON is written by the bindings, with other line breaks and spacing).
    pub fn from_json(path: &serde_path_to_error::Path, err: &serde_json::Error) -> Self {
        let mut reason = err.to_string();
        if err.line() != 0 {
            let at = format!(" at line {} column {}", err.line(), err.column());
            if let Some(stripped) = reason.strip_suffix(&at) {
                reason.truncate(stripped.len());
            }
        }
        if reason.is_empty() {
            reason = "malformed JSON".to_owned();
        }
        let parts = path
            .iter()
            .map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => PathPart::Index(*index),
                serde_path_to_error::Segment::Map { key }
                | serde_path_to_error::Segment::Enum { variant: key } => PathPart::Key(key.clone()),
                _ => PathPart::Key("?".to_owned()),
            })
            .collect();
        LabelError::at(parts, shorten(reason))
    }
}

/// `a.b[2].c`: keys joined by dots, indexes in brackets.
pub fn write_path(parts: &[PathPart]) -> String {
    let mut out = String::new();
    for p in parts {
        match p {
            PathPart::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathPart::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// serde quotes the offending value in full; a label can hold megabytes of it.
fn shorten(s: String) -> String {
    const MAX: usize = 240;
    if s.len() <= MAX {
        return s;
    }
    let head: String = s.chars().take(MAX / 2).collect();
    let tail_rev: String = s.chars().rev().take(MAX / 2).collect();
    let tail: String = tail_rev.chars().rev().collect();
    format!("{head} [...] {tail}")
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.parts.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.path(), self.reason)
        }
    }
}

impl std::error::Error for LabelError {}

/// A bad rules file or rule object: which rule (index and id) and which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("rules file: {0}")]
    File(String),
    #[error("rule {index}{id}: {field}: {reason}", id = id.as_ref().map(|i| format!(" ('{i}')")).unwrap_or_default(), field = field.as_deref().unwrap_or("rule"))]
    Rule {
        index: usize,
        id: Option<String>,
        field: Option<String>,
        reason: String,
    },
}
