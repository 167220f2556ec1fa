//! Kinds end to end in Rust: rules file text -> RuleSet -> issues on a parsed label.

use crate::label::read::parse_document;
use crate::label::{ReadOpts, Resolution};
use crate::ruleset::config::parse_toml;
use crate::ruleset::RuleSet;

fn run(rules: &str, label: &str) -> Vec<(String, Option<String>, String)> {
    let rs = RuleSet::compile(parse_toml(rules).expect("rules parse")).expect("rules compile");
    let doc = parse_document(label.as_bytes(), ReadOpts::default()).expect("label parses");
    let mut out = Vec::new();
    for pl in &doc.labels {
        for i in rs.check(&pl.label, &Resolution::default()).expect("checks") {
            out.push((i.rule, i.mid, i.text));
        }
    }
    out
}

fn rect(mid: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> String {
    format!(
        r#"{{"mid": "{mid}", "type": "rectangle", "categories": [{{"name": "A"}}], "boundingPoly": [{{"normalizedVertices": [{{"x": {x0}, "y": {y1}}}, {{"x": {x0}, "y": {y0}}}, {{"x": {x1}, "y": {y0}}}, {{"x": {x1}, "y": {y1}}}]}}]}}"#
    )
}

#[test]
fn box_max_area_is_the_tutorials_extent() {
    let label = format!(
        r#"{{"JOB_0": {{"annotations": [{}, {}]}}}}"#,
        rect("big", 0.10, 0.10, 0.85, 0.54),
        rect("small", 0.0, 0.0, 0.5, 0.5)
    );
    let r = "[[rule]]\nkind = \"box\"\njob = \"JOB_0\"\nmax_area = 0.33\nmessage = \"{mid} {measure}\"\n";
    assert_eq!(
        run(r, &label),
        vec![("box-1".into(), Some("big".into()), "big extent area".into())]
    );
    // The polygon area of the same box is not above 0.33.
    let r = "[[rule]]\nkind = \"area\"\njob = \"JOB_0\"\nmax = 0.33\n";
    assert!(run(r, &label).is_empty());
    assert_eq!((0.85f64 - 0.10) * (0.54 - 0.10), 0.33000000000000007);
}

#[test]
fn answer_kind() {
    let r = "[[rule]]\nkind = \"answer\"\njob = \"T\"\nforbidden = \"B\"\nmax = 2\nexclusive = [[\"A\", \"C\"]]\nmessage = \"{reason}\"\n";
    let l = r#"{"T": {"categories": [{"name": "A"}, {"name": "B"}, {"name": "C"}]}}"#;
    let texts: Vec<String> = run(r, l).into_iter().map(|x| x.2).collect();
    assert_eq!(
        texts,
        vec![
            "3 answers are chosen (A, B, C): choose at most 2",
            "B is not allowed: choose another answer",
            "A and C cannot be chosen together: keep only one"
        ]
    );
    assert!(run(r, r#"{"T": {"categories": [{"name": "A"}]}}"#).is_empty());
}

#[test]
fn when_answer_gates_a_rule() {
    let r = "[[rule]]\nkind = \"count\"\njob = \"D\"\nmin = 1\nwhen = { job = \"Q\", answer = \"DAMAGED\" }\n";
    assert_eq!(
        run(r, r#"{"Q": {"categories": [{"name": "DAMAGED"}]}}"#).len(),
        1
    );
    assert!(run(r, r#"{"Q": {"categories": [{"name": "OK"}]}}"#).is_empty());
    assert!(run(r, r#"{}"#).is_empty());
}

#[test]
fn registry_names_are_unique_and_fields_declared_once() {
    let names = crate::rules::kinds::names();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
    for k in crate::rules::kinds::REGISTRY {
        let fields: Vec<&str> = k.fields().iter().map(|f| f.name).collect();
        let mut d = fields.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), fields.len(), "{}", k.name());
        for f in &fields {
            assert!(
                !crate::ruleset::config::COMMON_FIELDS.contains(f),
                "{}: {f} is a common field",
                k.name()
            );
        }
    }
}

fn boxed_text(mid: &str, category: &str, text: &str) -> String {
    format!(
        r#"{{"mid": "{mid}", "categories": [{{"name": "{category}"}}], "children": {{"T": {{"text": "{text}"}}}}}}"#
    )
}

#[test]
fn text_goes_on_the_enclosing_object_and_when_parent_filters() {
    let label = format!(
        r#"{{"JOB_0": {{"annotations": [{}, {}]}}, "T": {{"text": "XX"}}}}"#,
        boxed_text("i1", "IBAN", "DE00"),
        boxed_text("a1", "AMOUNT", "12")
    );
    let all = "[[rule]]\nkind = \"text\"\njob = \"T\"\nprefix = \"FR\"\nmessage = \"{text}\"\n";
    let got: Vec<(Option<String>, String)> =
        run(all, &label).into_iter().map(|x| (x.1, x.2)).collect();
    let want: Vec<(Option<String>, String)> = vec![
        (Some("i1".into()), "DE00".into()),
        (Some("a1".into()), "12".into()),
        // A top-level transcription has no enclosing object: the issue goes on the label.
        (None, "XX".into()),
    ];
    assert_eq!(got, want);
    let iban =
        "[[rule]]\nkind = \"text\"\njob = \"T\"\nprefix = \"FR\"\nwhen = { parent = \"IBAN\" }\n";
    let mids: Vec<Option<String>> = run(iban, &label).into_iter().map(|x| x.1).collect();
    assert_eq!(mids, vec![Some("i1".to_owned())]);
}

/// inside_image on geospatial (lon/lat) assets: its tests sit here, above the kind, since they
/// compile a RuleSet.
mod inside_image_lonlat {
    use crate::label::read::parse_document;
    use crate::label::{ReadOpts, Resolution};
    use crate::ruleset::config::parse_toml;
    use crate::ruleset::RuleSet;

    fn run(rules: &str, doc: &str) -> Vec<(Option<String>, Option<f64>, Option<f64>)> {
        let rs = RuleSet::compile(parse_toml(rules).expect("parse")).expect("compile");
        let doc = parse_document(doc.as_bytes(), ReadOpts::default()).expect("label");
        let label = &doc.labels.first().expect("a label").label;
        let issues = rs.check(label, &Resolution::default()).expect("checks");
        issues
            .into_iter()
            .map(|i| (i.mid, i.value, i.limit))
            .collect()
    }

    fn asset(content: &str) -> String {
        format!(
            r#"{{"id": "a", {content} "latestLabel": {{"id": "l", "jsonResponse": {{"J": {{"annotations": [{{"mid": "m", "point": {{"x": 4.4, "y": 52.2}}}}]}}}}}}}}"#
        )
    }

    const LONLAT: &str =
        r#""jsonContent": [{"useClassicCoordinates": false, "epsg": "EPSG4326"}],"#;
    const PLAIN: &str = "[[rule]]\nkind = \"inside_image\"\njob = \"J\"\n";

    #[test]
    fn lonlat_objects_are_judged_only_against_explicit_bounds() {
        assert_eq!(
            run(PLAIN, &asset("")),
            [(Some("m".into()), Some(52.2), Some(1.0))]
        );
        assert!(run(PLAIN, &asset(LONLAT)).is_empty());
        let api_text =
            r#""jsonContent": "[{\"useClassicCoordinates\": false, \"epsg\": \"EPSG4326\"}]","#;
        assert!(run(PLAIN, &asset(api_text)).is_empty());
        let bounded = format!("{PLAIN}min_x = 4.0\nmax_x = 4.3\nmin_y = 52.0\nmax_y = 53.0\n");
        assert_eq!(
            run(&bounded, &asset(LONLAT)),
            [(Some("m".into()), Some(4.4), Some(4.3))]
        );
    }
}

#[test]
fn every_kind_reads_its_fields_as_a_typed_struct() {
    // A kind on the legacy string look-ups (`p.num("min")`: a typo reads None) is named here;
    // move it to `fields!` + `TypedKind` (docs/adding-a-kind.md).
    let legacy: Vec<&str> = crate::rules::kinds::REGISTRY
        .iter()
        .filter(|k| !k.typed())
        .map(|k| k.name())
        .collect();
    assert!(legacy.is_empty(), "kinds not on fields!: {legacy:?}");
}

#[test]
fn every_declared_field_deserializes_into_its_kinds_struct() {
    use crate::rules::kind::{FieldType, Params};
    use serde_json::{json, Map};
    for k in crate::rules::kinds::REGISTRY {
        for f in k.fields() {
            let v = match f.ty {
                FieldType::Number => json!(1),
                FieldType::Signed => json!(-1.5),
                FieldType::Whole => json!(2),
                FieldType::Bool => json!(true),
                FieldType::Text | FieldType::Pattern => json!("x"),
                FieldType::Choice(names) => json!(names.first().copied().unwrap_or("")),
                FieldType::TextList => json!(["a", "b"]),
                FieldType::TextGroups => json!([["a", "b"]]),
            };
            assert!(crate::rules::kind::type_check(f.ty, &v).is_ok());
            let mut map = Map::new();
            map.insert(f.name.to_owned(), v);
            // The kind may refuse the field alone (e.g. "needs `relation`"), but never because
            // its struct and its table disagree.
            if let Err(e) = k.compile(&Params::new(&map)) {
                assert!(
                    !e.reason.starts_with("fields of kind"),
                    "{}.{}: {}",
                    k.name(),
                    f.name,
                    e.reason
                );
            }
        }
    }
}
