//! Batch validation: documents in, report rows out, fanned out on rayon; and the Kili export
//! readers (zip, folder, JSON list, JSON Lines) that feed it.

mod central;
mod export;
mod folder;
mod jsonlist;
mod peek;
pub use peek::{peek_ids, peek_ids_from, Ids};
mod pipeline;
mod shared;
mod zip;

pub use export::validate_export;
pub use pipeline::{check_chunk, check_many_bytes, with_threads, Input, Pipeline};
pub use shared::{ExportError, Progress};

use std::collections::BTreeSet;

use crate::error::LabelError;
use crate::label::read::parse_document;
use crate::label::{Document, Label, LabelField, Name};
use crate::rules::{Issue, Severity};
use crate::ruleset::RuleSet;

/// One report row: an issue and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub origin: Origin,
    pub issue: Issue,
}

/// Where a label comes from and who made it: what each of its rows repeats.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Origin {
    pub asset_id: Option<String>,
    pub external_id: Option<String>,
    pub label_id: Option<String>,
    /// The file (or zip member) the document came from.
    pub source: Option<String>,
    /// The label's author (`author.email`), creation time and type, when the record says.
    pub author: Option<String>,
    pub created_at: Option<String>,
    pub label_type: Option<String>,
    /// The asset's workflow status, when the record says.
    pub asset_status: Option<String>,
}

/// A checked label handed back to the caller (only when the RuleSet asks for it), with the
/// place in `rows` where its native rows end: Python rules' rows go right after them.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptLabel {
    pub origin: Origin,
    pub label: Label,
    pub rows_end: usize,
    /// The asset's metadata (Python rules see it on their label view).
    pub metadata: Vec<(Name, String)>,
}

/// What a batch run found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchOut {
    pub rows: Vec<Row>,
    pub kept: Vec<KeptLabel>,
    pub labels: usize,
    pub assets: usize,
    pub invalid: usize,
    /// Label records without a jsonResponse (not fetched): each has an `unchecked` row and is
    /// not counted in `labels`.
    pub unchecked: usize,
    pub bytes_read: u64,
    /// The jobs that appear in the labels checked: a rule on another job matched nothing.
    pub jobs: BTreeSet<Name>,
}

impl BatchOut {
    pub fn extend(&mut self, other: BatchOut) {
        let base = self.rows.len();
        self.kept.extend(other.kept.into_iter().map(|mut k| {
            k.rows_end += base;
            k
        }));
        self.rows.extend(other.rows);
        self.labels += other.labels;
        self.assets += other.assets;
        self.invalid += other.invalid;
        self.unchecked += other.unchecked;
        self.bytes_read += other.bytes_read;
        if self.jobs.is_empty() {
            self.jobs = other.jobs;
        } else {
            self.jobs.extend(other.jobs);
        }
    }
}

pub const INVALID_KIND: &str = "invalid_label";
pub use crate::rules::UNCHECKED_KIND;

/// An input that could not be read, with whatever ids it still shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub err: LabelError,
    pub ids: Ids,
}

/// The row that stands for an input that could not be read or checked.
pub fn invalid_row(
    source: Option<&str>,
    asset_id: Option<String>,
    external_id: Option<String>,
    label_id: Option<String>,
    err: &LabelError,
) -> Row {
    let text = match source {
        Some(s) if !s.is_empty() => format!("{s}: {err}"),
        _ => err.to_string(),
    };
    Row {
        origin: Origin {
            asset_id,
            external_id,
            label_id,
            source: source.map(str::to_owned),
            ..Origin::default()
        },
        issue: Issue {
            rule: INVALID_KIND.to_owned(),
            kind: INVALID_KIND,
            severity: Severity::Error,
            text,
            mid: None,
            job: None,
            category: None,
            frame: None,
            value: None,
            limit: None,
        },
    }
}

/// The issue of a label record that has no jsonResponse: it names the field to fetch.
pub fn unchecked_issue(field: LabelField) -> Issue {
    Issue {
        rule: UNCHECKED_KIND.to_owned(),
        kind: UNCHECKED_KIND,
        severity: Severity::Error,
        text: field.unchecked_text(),
        mid: None,
        job: None,
        category: None,
        frame: None,
        value: None,
        limit: None,
    }
}

/// Check every label of a parsed document.
pub fn check_document(rs: &RuleSet, doc: Document, source: Option<&str>) -> BatchOut {
    let mut out = BatchOut::default();
    check_document_into(rs, doc, source, &mut out);
    out
}

/// Check every label of a parsed document, adding to `out`: a batch accumulates in one place
/// (no per-document result to merge), and a clean label allocates no row origin.
pub fn check_document_into(
    rs: &RuleSet,
    mut doc: Document,
    source: Option<&str>,
    out: &mut BatchOut,
) {
    // A label record counts its asset when it names one (`labelOf`, kili.labels()).
    out.assets += usize::from(if doc.is_label {
        doc.label_of_id.is_some()
    } else {
        !doc.is_response
    });
    let labels = std::mem::take(&mut doc.labels);
    let text = |n: Option<&crate::label::Name>| n.map(|n| n.to_string());
    let origin_of = |pl: &crate::label::ParsedLabel| Origin {
        asset_id: text(doc.asset_id()),
        external_id: text(doc.asset_external_id()),
        label_id: text(pl.id.as_ref()),
        source: source.map(str::to_owned),
        author: text(pl.info.author.as_ref()),
        created_at: text(pl.info.created_at.as_ref()),
        label_type: text(pl.info.label_type.as_ref()),
        asset_status: text(doc.status.as_ref()),
    };
    for pl in labels {
        if let Some(field) = pl.label.no_response {
            // Nothing was read: an error row, never a clean label.
            out.unchecked += 1;
            out.rows.push(Row {
                origin: origin_of(&pl),
                issue: unchecked_issue(field),
            });
            continue;
        }
        out.labels += 1;
        note_jobs(&mut out.jobs, &pl.label);
        match rs.check_asset(&pl.label, &doc.resolution, &doc.metadata) {
            Ok(issues) => {
                if issues.is_empty() && !rs.keep_labels {
                    continue;
                }
                let origin = origin_of(&pl);
                out.rows.extend(issues.into_iter().map(|issue| Row {
                    origin: origin.clone(),
                    issue,
                }));
                if rs.keep_labels {
                    out.kept.push(KeptLabel {
                        origin,
                        label: pl.label,
                        rows_end: out.rows.len(),
                        metadata: doc.metadata.clone(),
                    });
                }
            }
            Err(e) => {
                out.invalid += 1;
                let inv = invalid_row(source, None, None, None, &e);
                out.rows.push(Row {
                    origin: origin_of(&pl),
                    issue: inv.issue,
                });
            }
        }
    }
}

/// Record the jobs a label uses (names are cheap clones; most are already known).
fn note_jobs(jobs: &mut BTreeSet<Name>, label: &Label) {
    let names = label.objects.iter().map(|o| &o.job);
    for job in names.chain(label.answers.iter().map(|a| &a.job)) {
        if !jobs.contains(job) {
            jobs.insert(job.clone());
        }
    }
}

/// Parse and check one JSON document; a malformed one becomes an `invalid_label` row.
pub fn check_bytes(rs: &RuleSet, bytes: &[u8], source: Option<&str>) -> BatchOut {
    let mut out = match parse_document(bytes, rs.opts) {
        Ok(doc) => check_document(rs, doc, source),
        Err(e) => {
            let ids = crate::batch::peek_ids(bytes);
            let row = invalid_row(source, ids.asset_id, ids.external_id, ids.label_id, &e);
            BatchOut {
                invalid: 1,
                rows: vec![row],
                ..BatchOut::default()
            }
        }
    };
    out.bytes_read = bytes.len() as u64;
    out
}

#[cfg(test)]
mod kept_tests {
    use super::*;
    use crate::ruleset::config::parse_json;

    fn rules(keep: bool) -> RuleSet {
        let doc = parse_json(br#"{"rule": [{"kind": "count", "job": "J", "max": 0}]}"#);
        let mut rs = RuleSet::compile(doc.expect("rules")).expect("compile");
        rs.keep_labels = keep;
        rs
    }

    const DOCS: [&[u8]; 3] = [
        br#"{"id": "a", "latestLabel": {"id": "l1", "jsonResponse": {"J": {"annotations": [{"mid": "m"}]}}}}"#,
        br#"{"id": "b", "latestLabel": {"id": "l2", "jsonResponse": {}}}"#,
        br#"{"id": "c", "latestLabel": {"id": "l3", "jsonResponse": {"J": {"annotations": [{}, {}]}}}}"#,
    ];

    #[test]
    fn native_only_sets_keep_nothing() {
        let mut out = BatchOut::default();
        for d in DOCS {
            out.extend(check_bytes(&rules(false), d, None));
        }
        assert!(out.kept.is_empty());
        assert_eq!(out.rows.len(), 2);
    }

    #[test]
    fn kept_labels_know_where_their_rows_end() {
        let mut out = BatchOut::default();
        for d in DOCS {
            out.extend(check_bytes(&rules(true), d, Some("src")));
        }
        let ends: Vec<(Option<&str>, usize)> = out
            .kept
            .iter()
            .map(|k| (k.origin.label_id.as_deref(), k.rows_end))
            .collect();
        assert_eq!(ends, [(Some("l1"), 1), (Some("l2"), 1), (Some("l3"), 2)]);
        assert_eq!(out.kept[2].label.objects.len(), 2);
        assert_eq!(out.kept[0].origin.asset_id.as_deref(), Some("a"));
    }
}

#[cfg(test)]
mod unchecked_tests {
    use super::*;
    use crate::ruleset::config::parse_json;

    fn rules() -> RuleSet {
        let doc = parse_json(br#"{"rule": [{"kind": "required", "job": "J"}]}"#);
        RuleSet::compile(doc.expect("rules")).expect("compile")
    }

    #[test]
    fn a_record_without_json_response_is_an_unchecked_row() {
        let docs: [&[u8]; 4] = [
            br#"{"id": "a", "latestLabel": {"id": "l1"}}"#,
            br#"{"id": "b", "labels": [{"id": "l2"}, {"id": "l3", "jsonResponse": {}}]}"#,
            br#"{"id": "l4", "labelOf": {"id": "c"}}"#,
            br#"{"id": "d", "latestLabel": {"id": "l5", "jsonResponse": {}}}"#,
        ];
        let mut out = BatchOut::default();
        for d in docs {
            out.extend(check_bytes(&rules(), d, None));
        }
        assert_eq!((out.labels, out.unchecked, out.assets), (2, 3, 4));
        let kinds: Vec<(Option<&str>, &str)> = out
            .rows
            .iter()
            .map(|r| (r.origin.label_id.as_deref(), r.issue.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                (Some("l1"), UNCHECKED_KIND),
                (Some("l2"), UNCHECKED_KIND),
                (Some("l3"), "required"),
                (Some("l4"), UNCHECKED_KIND),
                (Some("l5"), "required"),
            ]
        );
        let texts: Vec<&str> = out.rows.iter().map(|r| r.issue.text.as_str()).collect();
        assert!(texts[0].contains(r#""latestLabel.jsonResponse""#));
        assert!(texts[1].contains(r#""labels.jsonResponse""#));
        assert!(texts[3].contains("kili.labels("));
        assert_eq!(out.rows[3].origin.asset_id.as_deref(), Some("c"));
    }

    #[test]
    fn checking_an_unfetched_label_is_an_error() {
        let doc = crate::label::read::parse_document(
            br#"{"id": "a", "latestLabel": {"id": "l1"}}"#,
            crate::label::ReadOpts::default(),
        )
        .expect("reads");
        let label = &doc.labels.first().expect("one label").label;
        let err = rules()
            .check(label, &crate::label::Resolution::default())
            .expect_err("not checkable");
        assert_eq!(err.path(), "latestLabel");
    }
}
