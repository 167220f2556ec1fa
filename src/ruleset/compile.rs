//! One rule config -> one compiled Rule: the kind looked up in the registry, its fields
//! checked against the kind's declaration, then compiled by the kind.

use crate::error::RulesError;
use crate::label::Name;
use crate::rules::kind::{type_check, FieldError, Params};
use crate::rules::kinds;
use crate::rules::template::Template;
use crate::rules::when::When;
use crate::rules::{Rule, Severity};

use super::config::{RuleConfig, WhenConfig};

pub(super) fn err(i: usize, cfg: &RuleConfig, field: Option<&str>, reason: String) -> RulesError {
    RulesError::Rule {
        index: i + 1,
        id: cfg.id.clone(),
        field: field.map(str::to_owned),
        reason,
    }
}

pub(super) fn compile_rule(i: usize, cfg: &RuleConfig) -> Result<Rule, RulesError> {
    let Some(kind) = kinds::find(&cfg.kind) else {
        return Err(err(
            i,
            cfg,
            Some("kind"),
            format!(
                "unknown kind '{}' (known: {})",
                cfg.kind,
                kinds::names().join(", ")
            ),
        ));
    };
    let fields = kind.fields();
    for (name, value) in &cfg.params {
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            return Err(err(
                i,
                cfg,
                Some(name),
                format!(
                    "not a field of kind '{}' (it takes: {})",
                    kind.name(),
                    names.join(", ")
                ),
            ));
        };
        type_check(field.ty, value).map_err(|reason| err(i, cfg, Some(name), reason))?;
    }
    if cfg.job.trim().is_empty() {
        return Err(err(i, cfg, Some("job"), "must name a job".into()));
    }
    let severity = match cfg.severity.as_deref() {
        None | Some("error") => Severity::Error,
        Some("warning") => Severity::Warning,
        Some(other) => {
            return Err(err(
                i,
                cfg,
                Some("severity"),
                format!("'{other}' is not 'error' or 'warning'"),
            ))
        }
    };
    if let Some(f) = cfg.max_fraction {
        if !(f.is_finite() && f > 0.0 && f < 1.0) {
            return Err(err(
                i,
                cfg,
                Some("max_fraction"),
                format!("{f} is not a fraction strictly between 0 and 1 (e.g. 0.05 for 5%)"),
            ));
        }
    }
    let check = kind
        .compile(&Params::new(&cfg.params))
        .map_err(|FieldError { field, reason }| err(i, cfg, field, reason))?;
    let when = cfg
        .when
        .as_ref()
        .map(|w| compile_when(w).map_err(|reason| err(i, cfg, Some("when"), reason)))
        .transpose()?;
    let text = cfg
        .message
        .clone()
        .unwrap_or_else(|| check.default_message(cfg.category.is_some()));
    let message = Template::parse(&text).map_err(|e| err(i, cfg, Some("message"), e))?;
    let id = cfg
        .id
        .clone()
        .unwrap_or_else(|| format!("{}-{}", kind.name(), i + 1));
    if id.trim().is_empty() {
        return Err(err(i, cfg, Some("id"), "must not be empty".into()));
    }
    Ok(Rule {
        id,
        kind: kind.name(),
        job: Name::new(&cfg.job),
        category: cfg.category.as_deref().map(Name::new),
        severity,
        message,
        when,
        check,
    })
}

fn compile_when(w: &WhenConfig) -> Result<When, String> {
    let names = |v: &Option<super::config::OneOrMany>| -> Vec<Name> {
        v.as_ref()
            .map(|v| v.to_vec().iter().map(Name::new).collect())
            .unwrap_or_default()
    };
    let when = When {
        job: w.job.as_deref().map(Name::new),
        answer: names(&w.answer),
        not_answer: names(&w.not_answer),
        parent: names(&w.parent),
        metadata: w
            .metadata
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    if when.job.is_none() && !(when.answer.is_empty() && when.not_answer.is_empty()) {
        return Err("`answer` / `not_answer` need `job` (the classification job answered)".into());
    }
    if when.job.is_none() && when.parent.is_empty() && when.metadata.is_empty() {
        return Err("set at least one of job, parent, metadata".into());
    }
    Ok(when)
}
