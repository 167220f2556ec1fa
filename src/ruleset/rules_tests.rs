//! Rules on labels read by the one reader: what each issue carries (mid, frame, value, limit,
//! severity), and when a label is an error instead of a violation.

use crate::error::LabelError;
use crate::label::read::parse_document;
use crate::rules::{Issue, Severity};
use crate::ruleset::config::parse_toml;
use crate::ruleset::RuleSet;

fn check(rules: &str, label: &str) -> Result<Vec<Issue>, LabelError> {
    let rs = RuleSet::compile(parse_toml(rules).expect("rules parse")).expect("rules compile");
    let doc = parse_document(label.as_bytes(), rs.opts)?;
    let mut out = Vec::new();
    for pl in &doc.labels {
        out.extend(rs.check(&pl.label, &doc.resolution)?);
    }
    Ok(out)
}

fn rect(mid: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> String {
    format!(
        r#"{{"mid": "{mid}", "categories": [{{"name": "A"}}], "boundingPoly": [{{"normalizedVertices": [{{"x": {x0}, "y": {y0}}}, {{"x": {x1}, "y": {y0}}}, {{"x": {x1}, "y": {y1}}}, {{"x": {x0}, "y": {y1}}}]}}]}}"#
    )
}

#[test]
fn count_is_per_label_with_value_and_limit() {
    let label = format!(
        r#"{{"BOX": {{"annotations": [{}, {}]}}}}"#,
        rect("a", 0.0, 0.0, 0.1, 0.1),
        rect("b", 0.5, 0.5, 0.6, 0.6)
    );
    let issues = check(
        "[[rule]]\nkind = \"count\"\njob = \"BOX\"\nmax = 1\nseverity = \"warning\"\n",
        &label,
    )
    .expect("checks");
    assert_eq!(issues.len(), 1);
    let i = &issues[0];
    assert_eq!(
        (i.mid.as_deref(), i.value, i.limit, i.severity),
        (None, Some(2.0), Some(1.0), Severity::Warning)
    );
}

#[test]
fn count_in_video_is_per_frame() {
    let label = format!(
        r#"{{"0": {{"BOX": {{"annotations": [{a}, {b}]}}}}, "1": {{"BOX": {{"annotations": [{a}]}}}}}}"#,
        a = rect("a", 0.0, 0.0, 0.1, 0.1),
        b = rect("b", 0.2, 0.2, 0.3, 0.3)
    );
    let issues = check(
        "[[rule]]\nkind = \"count\"\njob = \"BOX\"\nmax = 1\n",
        &label,
    )
    .expect("checks");
    let frames: Vec<_> = issues.iter().map(|i| (i.frame, i.value)).collect();
    assert_eq!(frames, vec![(Some(0), Some(2.0))]);
}

#[test]
fn area_in_pixels_needs_the_resolution_and_uses_the_records() {
    let rules = "[[rule]]\nkind = \"area\"\njob = \"BOX\"\nmax = 100\nunit = \"pixels\"\n";
    let bare = format!(
        r#"{{"BOX": {{"annotations": [{}]}}}}"#,
        rect("a", 0.0, 0.0, 0.5, 0.5)
    );
    // Without a resolution the rule is unchecked on this label (one row), never clean.
    let unchecked = check(rules, &bare).expect("other rules still run");
    assert_eq!(
        unchecked
            .iter()
            .map(|i| (i.kind, i.rule.as_str(), i.mid.as_deref()))
            .collect::<Vec<_>>(),
        vec![(crate::rules::UNCHECKED_KIND, "area-1", None)]
    );
    let sized = format!(
        r#"{{"resolution": {{"width": 100, "height": 10}}, "BOX": {{"annotations": [{}]}}}}"#,
        rect("a", 0.0, 0.0, 0.5, 0.5)
    );
    let issues = check(rules, &sized).expect("checks");
    assert_eq!(
        issues
            .iter()
            .map(|i| (i.mid.as_deref(), i.value))
            .collect::<Vec<_>>(),
        vec![(Some("a"), Some(250.0))]
    );
}

#[test]
fn overlap_names_the_later_object() {
    let label = format!(
        r#"{{"BOX": {{"annotations": [{}, {}, {}]}}}}"#,
        rect("a", 0.0, 0.0, 0.5, 0.5),
        rect("b", 0.0, 0.0, 0.5, 0.45),
        rect("c", 0.8, 0.8, 0.9, 0.9)
    );
    let issues = check(
        "[[rule]]\nkind = \"overlap\"\njob = \"BOX\"\nmax_iou = 0.5\n",
        &label,
    )
    .expect("checks");
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].mid.as_deref(), Some("b"));
    assert!(issues[0].value.is_some_and(|v| (v - 0.9).abs() < 1e-9));
}

#[test]
fn required_child_sees_children_read_under_the_object() {
    let label = r#"{"BOX": {"annotations": [
        {"mid": "with", "children": {"OCR": {"text": "x"}}},
        {"mid": "empty", "children": {"OCR": {"text": ""}}},
        {"mid": "without"}]}}"#;
    let issues = check(
        "[[rule]]\nkind = \"required\"\njob = \"BOX\"\nchild = \"OCR\"\n",
        label,
    )
    .expect("checks");
    let mids: Vec<_> = issues.iter().map(|i| i.mid.as_deref()).collect();
    assert_eq!(mids, vec![Some("empty"), Some("without")]);
}

#[test]
fn valid_polygon_and_inside_image_on_one_polygon() {
    let label = r#"{"POLY": {"annotations": [{"mid": "p", "boundingPoly": [{"normalizedVertices":
        [{"x": 0.1, "y": 0.1}, {"x": 1.2, "y": 0.1}, {"x": 0.5, "y": 0.1}]}]}]}}"#;
    let issues = check(
        "[[rule]]\nkind = \"valid_polygon\"\njob = \"POLY\"\n\n[[rule]]\nkind = \"inside_image\"\njob = \"POLY\"\n",
        label,
    )
    .expect("checks");
    let kinds: Vec<_> = issues.iter().map(|i| (i.kind, i.mid.as_deref())).collect();
    assert_eq!(
        kinds,
        vec![("valid_polygon", Some("p")), ("inside_image", Some("p"))]
    );
}

#[test]
fn a_malformed_label_is_an_error_not_an_issue() {
    let e = check(
        "[[rule]]\nkind = \"count\"\njob = \"BOX\"\nmax = 1\n",
        r#"{"BOX": {"annotations": [{"categories": "A"}]}}"#,
    )
    .expect_err("refused");
    assert_eq!(e.path(), "BOX.annotations[0].categories");
}
