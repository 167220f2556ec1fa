//! The reader's decisions, one by one: document kinds, label order, jobs, children, geometry,
//! video, resolution, the depth limit and the wording and paths of errors.

use super::read::{parse_document, parse_json_response};
use super::*;
use crate::error::LabelError;

fn doc(text: &str) -> Document {
    parse_document(text.as_bytes(), ReadOpts::default()).expect("document parses")
}

fn err(text: &str) -> LabelError {
    parse_document(text.as_bytes(), ReadOpts::default()).expect_err("document is refused")
}

fn ids(d: &Document) -> Vec<Option<&str>> {
    d.labels.iter().map(|l| l.id.as_deref()).collect()
}

const BOX: &str = r#"{"BOX": {"annotations": [{"mid": "m1", "categories": [{"name": "A"}],
    "boundingPoly": [{"normalizedVertices": [{"x": 0.1, "y": 0.2}, {"x": 0.3, "y": 0.2},
    {"x": 0.3, "y": 0.4}]}]}]}}"#;

#[test]
fn a_bare_json_response_is_one_label_with_no_ids() {
    let d = doc(BOX);
    assert!(d.is_response && !d.is_label);
    assert_eq!(ids(&d), vec![None]);
    let o = &d.labels[0].label.objects[0];
    assert_eq!(
        (o.job.as_str(), o.category.as_deref(), o.mid.as_deref()),
        ("BOX", Some("A"), Some("m1"))
    );
}

#[test]
fn a_label_dict_keeps_its_id_as_the_label_id() {
    let d = doc(&format!(
        r#"{{"id": "L1", "labelOf": {{"id": "A1", "externalId": "img"}},
        "author": {{"email": "a@b.c"}}, "labelType": "REVIEW", "jsonResponse": {BOX}}}"#
    ));
    assert!(d.is_label && !d.is_response);
    assert_eq!(d.id, None);
    assert_eq!(ids(&d), vec![Some("L1")]);
    assert_eq!(d.asset_id().map(|n| n.as_str()), Some("A1"));
    assert_eq!(d.asset_external_id().map(|n| n.as_str()), Some("img"));
    let info = &d.labels[0].info;
    assert_eq!(info.author.as_deref(), Some("a@b.c"));
    assert_eq!(info.label_type.as_deref(), Some("REVIEW"));
}

#[test]
fn an_asset_record_reads_latest_label_first_whatever_the_key_order() {
    let before = doc(
        r#"{"id": "A", "latestLabel": {"id": "L"}, "labels": [{"id": "x"}, null, {"id": "y"}]}"#,
    );
    let after = doc(
        r#"{"id": "A", "labels": [{"id": "x"}, null, {"id": "y"}], "latestLabel": {"id": "L"}}"#,
    );
    assert_eq!(ids(&before), vec![Some("L"), Some("x"), Some("y")]);
    assert_eq!(before, after);
    assert!(!before.is_label && !before.is_response);
    assert_eq!(before.asset_id().map(|n| n.as_str()), Some("A"));
}

#[test]
fn an_asset_record_with_no_label_field_is_one_unchecked_label() {
    for text in [
        r#"{"id": "a", "externalId": "x"}"#,
        r#"{"id": "a"}"#,
        r#"{"externalId": "x", "jsonMetadata": {"k": 1}}"#,
    ] {
        let d = doc(text);
        assert!(!d.is_response && !d.is_label, "{text}");
        assert_eq!(d.labels.len(), 1, "{text}");
        assert_eq!(
            d.labels.first().and_then(|l| l.label.no_response),
            Some(LabelField::LatestLabel),
            "{text}"
        );
    }
    // jobs beside an id: still a bare jsonResponse, judged
    assert!(doc(r#"{"id": "a", "BOX": {"annotations": []}}"#).is_response);
}

#[test]
fn a_null_latest_label_is_a_record_with_no_labels() {
    let d = doc(r#"{"id": "A", "externalId": "e", "latestLabel": null}"#);
    assert!(d.labels.is_empty());
    assert!(!d.is_response);
}

#[test]
fn a_label_dict_that_also_has_latest_label_holds_both() {
    let d = doc(r#"{"id": "L", "jsonResponse": {}, "latestLabel": {"id": "M"}}"#);
    assert_eq!(ids(&d), vec![Some("L"), Some("M")]);
}

#[test]
fn resolution_is_read_beside_a_bare_json_response_and_in_records() {
    let d = doc(r#"{"resolution": {"width": 640, "height": 480}, "BOX": {}}"#);
    assert!(d.is_response);
    assert_eq!(d.resolution.size, Some((640.0, 480.0)));
    let d = doc(r#"{"id": "A", "latestLabel": null, "resolution": null,
        "pageResolutions": [{"pageNumber": 2, "width": 10, "height": 20}]}"#);
    assert_eq!(d.resolution.size, None);
    assert_eq!(d.resolution.for_page(Some(2)), Some((10.0, 20.0)));
    assert_eq!(d.resolution.for_page(Some(3)), None);
    let e = err(r#"{"resolution": {"width": "wide", "height": 1}}"#);
    assert_eq!(e.path(), "resolution.width");
}

#[test]
fn json_response_as_a_string_null_or_empty() {
    let text = serde_json::to_string(BOX).expect("string");
    let d = doc(&format!(r#"{{"id": "L", "jsonResponse": {text}}}"#));
    assert_eq!(d.labels[0].label.objects.len(), 1);
    for empty in ["null", r#""""#, r#""  ""#, "{}"] {
        let d = doc(&format!(r#"{{"id": "L", "jsonResponse": {empty}}}"#));
        assert_eq!(d.labels[0].label, Label::default(), "{empty}");
    }
    let e = err(r#"{"id": "L", "jsonResponse": "{\"BOX\": []}"}"#);
    assert_eq!(e.path(), "jsonResponse");
    assert!(
        e.reason.starts_with("in the jsonResponse string: BOX: "),
        "{e}"
    );
    assert_eq!(
        parse_json_response(BOX, None, ReadOpts::default())
            .expect("parses")
            .objects
            .len(),
        1
    );
}

#[test]
fn errors_name_the_path_and_leave_out_line_and_column() {
    let e = err(
        r#"{"id": "L", "jsonResponse": {"JOB_0": {"annotations": [{}, {},
        {"boundingPoly": [{"normalizedVertices": [{"x": 0, "y": 0},
        {"x": "1", "y": 0}]}]}]}}}"#,
    );
    assert_eq!(
        e.path(),
        "jsonResponse.JOB_0.annotations[2].boundingPoly[0].normalizedVertices[1].x"
    );
    assert_eq!(
        e.reason,
        r#"invalid type: string "1", expected a finite number"#
    );
    // The same error in a bare jsonResponse (read from raw entries) and on one line.
    let e = err(
        r#"{"JOB_0": {"annotations": [{}, {}, {"boundingPoly": [{"normalizedVertices": [{"x": 0, "y": 0}, {"x": "1", "y": 0}]}]}]}}"#,
    );
    assert_eq!(
        e.to_string(),
        r#"JOB_0.annotations[2].boundingPoly[0].normalizedVertices[1].x: invalid type: string "1", expected a finite number"#
    );
    assert!(!err("[1, 2]").to_string().contains("line"));
    assert!(!err(r#"{"a": "#).to_string().contains("column"));
}

#[test]
fn wrong_containers_are_refused_where_they_are() {
    assert_eq!(err(r#"{"JOB_0": []}"#).path(), "JOB_0");
    assert_eq!(
        err(r#"{"JOB_0": {"annotations": {"a": 1}}}"#).path(),
        "JOB_0.annotations"
    );
    assert_eq!(
        err(r#"{"JOB_0": {"categories": [{"name": ["A"]}]}}"#).path(),
        "JOB_0.categories[0].name"
    );
    assert_eq!(
        err(r#"{"JOB_0": {"annotations": [{"children": [1]}]}}"#).path(),
        "JOB_0.annotations[0].children"
    );
    // An empty list of children is seen in exports and means none.
    let d = doc(r#"{"JOB_0": {"annotations": [{"children": []}]}}"#);
    assert!(d.labels[0].label.objects[0].children.is_empty());
    let e = err(r#"{"BOX": {"annotations": [{"point": {"x": 0.5}}]}}"#);
    assert_eq!(
        (e.path().as_str(), e.reason.as_str()),
        ("BOX.annotations[0].point", "missing field `y`")
    );
}

#[test]
fn one_depth_limit_for_what_is_read_none_for_what_is_skipped() {
    let nest = |n: usize, inner: &str| {
        let mut s = inner.to_owned();
        for _ in 0..n {
            s = format!(r#"{{"J": {{"annotations": [{{"children": {s}}}]}}}}"#);
        }
        s
    };
    // 30 levels of children (4 JSON levels each) are within the limit...
    assert_eq!(doc(&nest(30, "{}")).labels[0].label.objects.len(), 30);
    // ...33 are not: the error says where, in the same words from any input.
    let e = err(&nest(33, "{}"));
    assert_eq!(e.reason, "recursion limit exceeded");
    assert!(e.path().starts_with("J.annotations[0].children.J."), "{e}");
    // Values no rule reads are skipped however deep (without recursion).
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let d = doc(&format!(
        r#"{{"id": "A", "latestLabel": null, "extra": {deep}}}"#
    ));
    assert!(d.labels.is_empty());
    let d = doc(&format!(
        r#"{{"J": {{"annotations": [{{"mid": "m", "x": {deep}}}]}}}}"#
    ));
    assert_eq!(d.labels[0].label.objects.len(), 1);
}

#[test]
fn video_frames_and_asset_level() {
    let d = doc(r#"{"0": {"CLS": {"categories": [{"name": "A"}]}}, "7": {},
        "assetLevel": {"CLS": {"categories": [{"name": "B"}]}}, "ROTATION_JOB": {"x": 1}}"#);
    let l = &d.labels[0].label;
    assert!(l.is_video() && l.asset_level);
    assert_eq!(l.frames, vec![0, 7]);
    let answers: Vec<_> = l
        .answers
        .iter()
        .map(|a| (a.category.as_deref(), a.frame))
        .collect();
    assert_eq!(answers, vec![(Some("A"), Some(0)), (Some("B"), None)]);
    assert_eq!(frame_index("0012"), Some(12));
    assert_eq!(frame_index("1234567890"), None);
    assert_eq!(frame_index("-1"), None);
    assert_eq!(frame_index(""), None);
}

#[test]
fn children_know_their_parent_and_parents_their_answered_children() {
    let d = doc(
        r#"{"BOX": {"annotations": [{"mid": "m", "categories": [{"name": "A"}],
        "children": {"OCR": {"text": "hi"}, "EMPTY": {"text": ""}}}]},
        "CLS": {"categories": [{"name": "C", "children": {"SUB": {"categories": [{"name": "D"}]}}}]}}"#,
    );
    let l = &d.labels[0].label;
    let ocr = l.answers.iter().find(|a| a.job == "OCR").expect("ocr");
    assert_eq!(ocr.text.as_deref(), Some("hi"));
    assert_eq!(
        ocr.parent,
        Some(ParentRef {
            job: "BOX".into(),
            category: Some("A".into()),
            mid: Some("m".into())
        })
    );
    assert_eq!(l.objects[0].children, vec![Name::new("OCR")]);
    let sub = l.answers.iter().find(|a| a.job == "SUB").expect("sub");
    assert_eq!(
        sub.parent,
        Some(ParentRef {
            job: "CLS".into(),
            category: Some("C".into()),
            mid: None
        })
    );
    let c = l.answers.iter().find(|a| a.job == "CLS").expect("cls");
    assert_eq!(c.children, vec![Name::new("SUB")]);
}

#[test]
fn geometry_forms() {
    let d = doc(r#"{"M": {"annotations": [
        {"mid": "mask", "boundingPoly": [[{"normalizedVertices": [{"x": 0, "y": 0}, {"x": 1, "y": 0}, {"x": 1, "y": 1}]},
                                          {"normalizedVertices": [{"x": 0.5, "y": 0.1}, {"x": 0.6, "y": 0.1}, {"x": 0.6, "y": 0.2}]}]]},
        {"mid": "pdf", "annotations": [{"pageNumberArray": [3], "boundingPoly": [{"normalizedVertices": [{"x": 0, "y": 0}]}]}]},
        {"mid": "pt", "point": {"x": 0.5, "y": 0.5}, "polyline": []},
        {"mid": "line", "polyline": [{"x": 0, "y": 0}, {"x": 1, "y": 1}]},
        {"mid": "pose", "points": [{"point": {"x": 0.1, "y": 0.1}}, {"point": {"x": 0.2, "y": 0.2}}]},
        {"mid": 12345678901234567890123, "beginOffset": 2, "content": "héllo"}]}}"#);
    let objs = &d.labels[0].label.objects;
    match &objs[0].geometry {
        Geometry::Parts(p) => assert_eq!((p.len(), p[0].rings.len()), (1, 2)),
        g => panic!("mask: {g:?}"),
    }
    match &objs[1].geometry {
        Geometry::Parts(p) => assert_eq!(p[0].page, Some(3)),
        g => panic!("pdf: {g:?}"),
    }
    assert_eq!(objs[2].geometry, Geometry::Point(Pt { x: 0.5, y: 0.5 }));
    assert!(matches!(&objs[3].geometry, Geometry::Line(l) if l.len() == 2));
    assert!(matches!(&objs[4].geometry, Geometry::Line(l) if l.len() == 2));
    // A huge integer mid reads as serde_json reads the number (a float).
    assert_eq!(objs[5].mid.as_deref(), Some("12345678901234568000000"));
    assert_eq!(
        objs[5].span,
        Some(Span {
            begin: 2,
            end: 7,
            content: Some("héllo".into())
        })
    );
    // Without a geometry rule, no vertices are read.
    let lean = parse_document(BOX.as_bytes(), ReadOpts { geometry: false }).expect("parses");
    assert_eq!(lean.labels[0].label.objects[0].geometry, Geometry::None);
}

#[test]
fn geospatial_records_mark_their_objects() {
    let d = doc(&format!(
        r#"{{"id": "A", "jsonContent": [{{"useClassicCoordinates": false, "epsg": "EPSG4326"}}],
        "latestLabel": {{"jsonResponse": {BOX}}}}}"#
    ));
    assert!(d.lonlat && d.labels[0].label.objects[0].lonlat);
    let d = doc(&format!(
        r#"{{"id": "A", "jsonContent": [{{"useClassicCoordinates": false, "epsg": "TiledImage"}}],
        "latestLabel": {{"jsonResponse": {BOX}}}}}"#
    ));
    assert!(!d.lonlat);
}

#[test]
fn metadata_and_status_are_read_from_any_shape() {
    let d = doc(r#"{"id": "A", "latestLabel": null, "status": "LABELED",
        "jsonMetadata": "{\"split\": \"train\", \"n\": 3, \"deep\": {\"x\": 1}}"}"#);
    assert_eq!(d.status.as_deref(), Some("LABELED"));
    assert_eq!(
        d.metadata,
        vec![("split".into(), "train".into()), ("n".into(), "3".into())]
    );
    let d = doc(r#"{"id": "A", "latestLabel": null, "jsonMetadata": [1], "status": {"a": 1}}"#);
    assert!(d.metadata.is_empty() && d.status.is_none());
}

#[test]
fn malformed_text_is_an_error_not_a_panic() {
    for text in [
        "",
        "{",
        "[]",
        "null",
        "\"x\"",
        "{\"a\": 1} trailing",
        "{\"J\": {\"text\": 5}}",
    ] {
        let e = err(text);
        assert!(!e.to_string().is_empty(), "{text}");
    }
    let e = err(r#"{"BOX": {"annotations": [{"point": {"x": 1e999, "y": 0}}]}}"#);
    assert_eq!(e.path(), "BOX.annotations[0].point.x");
}
