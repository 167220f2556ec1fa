//! Error types of the core. The bindings map them to Python exceptions.

use std::fmt;

/// A malformed label: where (a JSON path such as `JOB_0.annotations[2].mid`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelError {
    pub path: String,
    pub reason: String,
}

impl LabelError {
    pub fn new(path: &str, reason: impl Into<String>) -> Self {
        LabelError {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    /// From a serde_json error and the path `serde_path_to_error` tracked.
    ///
    /// The reason leaves out serde_json's " at line L column C": the path already says where,
    /// and the same label must give the same error whether it came as JSON text or as Python
    /// objects (whose JSON is written by the bindings, with other line breaks and spacing).
    pub fn from_json(path: String, err: &serde_json::Error) -> Self {
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
        let path = if path == "." { String::new() } else { path };
        LabelError {
            path,
            reason: shorten(reason),
        }
    }
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
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
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
