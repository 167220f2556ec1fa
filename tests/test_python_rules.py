"""Python rules: the same rows from dicts, JSON bytes and an export zip, with 1 and 2
threads; exceptions become rule_error rows; pickling into a spawned process; row order."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import zipfile
from pathlib import Path
from typing import Any

import _pyrules_checks as checks
import kili_rules
import pytest
from kili_rules import Finding, LabelView, PythonRule, RulesError, RuleSet
from kili_rules.python_rules import ParentView


def box(mid: str, category: str, x0: float, x1: float, text: str | None = None) -> dict[str, Any]:
    ann: dict[str, Any] = {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": category}],
        "boundingPoly": [
            {
                "normalizedVertices": [
                    {"x": x0, "y": 0.6},
                    {"x": x0, "y": 0.1},
                    {"x": x1, "y": 0.1},
                    {"x": x1, "y": 0.6},
                ]
            }
        ],
    }
    if text is not None:
        job = "TRANSCRIPTION_JOB" if category == "IBAN" else "TRANSCRIPTION_JOB_2"
        ann["children"] = {job: {"text": text}}
    return ann


def asset(n: int, boxes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"asset-{n:02d}",
        "externalId": f"invoice-{n:02d}.pdf",
        "latestLabel": {"id": f"label-{n:02d}", "jsonResponse": {"JOB_0": {"annotations": boxes}}},
    }


ASSETS = [
    asset(1, [box("m1", "IBAN", 0.1, 0.3, "FR76")]),  # passes everything
    asset(2, [box("m2", "IBAN", 0.1, 0.9), box("m3", "CURRENCY", 0.1, 0.2, "EURO")]),  # 2: flaky
    asset(3, []),  # empty
    asset(4, [box("m4", "IBAN", 0.0, 0.8), box("m5", "IBAN", 0.1, 0.2), box("m6", "AMOUNT", 0, 1)]),
    asset(5, [box("m7", "CURRENCY", 0.2, 0.9, "YEN"), box("m8", "IBAN", 0.1, 0.2, "DE")]),  # 2
]

NATIVE = {"kind": "count", "job": "JOB_0", "max": 2, "id": "at-most-two"}


def ruleset() -> RuleSet:
    return RuleSet(
        [NATIVE, checks.iban_has_text, checks.wide_box, checks.flaky, checks.EmptyLabel()]
    )


def key(row: Any) -> tuple[Any, ...]:
    d = row.to_dict()
    d.pop("source")
    return tuple(sorted(d.items()))


def write_zip(path: Path, items: list[dict[str, Any]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for a in items:
            z.writestr(f"project/labels/{a['id']}.json", json.dumps(a))


EXPECTED = [
    # asset 2: wide IBAN without text, then flaky raised (2 objects)
    ("asset-02", "iban-has-text", "python", "error", "m2"),
    ("asset-02", "wide-box", "python", "warning", "m2"),
    ("asset-02", "flaky", "rule_error", "error", None),
    ("asset-03", "empty-label", "python", "warning", None),
    # asset 4: native count first, then the Python rules in rule order
    ("asset-04", "at-most-two", "count", "error", None),
    ("asset-04", "iban-has-text", "python", "error", "m4"),
    ("asset-04", "iban-has-text", "python", "error", "m5"),
    ("asset-04", "wide-box", "python", "warning", "m4"),
    ("asset-04", "wide-box", "python", "warning", "m6"),
    ("asset-05", "wide-box", "python", "warning", "m7"),
    ("asset-05", "flaky", "rule_error", "error", None),
]


def test_rows_in_input_order_and_rule_order() -> None:
    report = ruleset().validate_many(ASSETS, threads=1)
    got = [(r.asset_id, r.rule, r.kind, r.severity, r.mid) for r in report]
    assert got == EXPECTED
    assert report.labels == 5
    row = next(r for r in report if r.rule == "wide-box")
    assert row.value == pytest.approx(0.8) and row.limit == 0.5
    assert row.label_id == "label-02" and row.external_id == "invoice-02.pdf"
    err = next(r for r in report if r.kind == "rule_error")
    assert "flaky" in err.text and "ValueError" in err.text and "two objects" in err.text


@pytest.mark.parametrize("threads", [1, 2])
def test_dict_json_and_export_give_identical_rows(tmp_path: Path, threads: int) -> None:
    rs = ruleset()
    from_dicts = [key(r) for r in rs.validate_many(ASSETS, threads=threads)]
    from_bytes = [
        key(r) for r in rs.validate_many([json.dumps(a).encode() for a in ASSETS], threads=threads)
    ]
    write_zip(tmp_path / "export.zip", ASSETS)
    export = rs.validate_export(tmp_path / "export.zip", threads=threads)
    from_zip = [key(r) for r in export]
    one_by_one = [(i.rule, i.kind, i.mid) for a in ASSETS for i in rs.validate(a)]
    assert from_dicts == from_bytes == from_zip
    assert [(dict(k)["rule"], dict(k)["kind"], dict(k)["mid"]) for k in from_dicts] == one_by_one
    assert len(from_dicts) == len(EXPECTED)
    assert all(r.source and r.source.endswith(".json") for r in export)


def test_many_chunks_keep_order() -> None:
    # More items than one chunk of the batch reader (2048): rows still come in input order.
    items = [
        asset(n % 100, ASSETS[n % 5]["latestLabel"]["jsonResponse"]["JOB_0"]["annotations"])
        for n in range(5000)
    ]
    rs = ruleset()
    rows = list(rs.validate_many(items, threads=2))
    one = list(rs.validate_many(items, threads=1))
    assert [key(r) for r in rows] == [key(r) for r in one]
    assert sum(r.kind == "rule_error" for r in rows) == 2000


def test_an_exception_on_some_labels_leaves_the_others_checked() -> None:
    rs = RuleSet([checks.flaky, checks.EmptyLabel()])
    report = rs.validate_many(ASSETS, threads=2)
    assert [(r.asset_id, r.kind) for r in report] == [
        ("asset-02", "rule_error"),
        ("asset-03", "python"),
        ("asset-05", "rule_error"),
    ]
    assert report.labels == 5


def test_bad_return_values_and_base_exceptions_of_rules() -> None:
    @kili_rules.python_rule(id="returns-int")
    def returns_int(label: LabelView) -> Any:
        return [1]

    @kili_rules.python_rule(id="bad-severity")
    def bad_severity(label: LabelView) -> Any:
        return Finding("x", severity="fatal")

    issues = RuleSet([returns_int, bad_severity]).validate(ASSETS[0])
    assert [(i.rule, i.kind) for i in issues] == [
        ("returns-int", "rule_error"),
        ("bad-severity", "rule_error"),
    ]
    assert "TypeError" in issues[0].text and "fatal" in issues[1].text


def test_view_is_read_only_and_complete() -> None:
    seen: list[LabelView] = []

    @kili_rules.python_rule(id="spy")
    def spy(label: LabelView) -> None:
        seen.append(label)

    label = {
        "id": "l1",
        "jsonResponse": {
            "JOB_0": {"annotations": [box("m1", "IBAN", 0.1, 0.3, "FR76")]},
            "CLASS": {"categories": [{"name": "PAID"}]},
        },
    }
    RuleSet([spy]).validate(label)
    (view,) = seen
    assert view.label_id == "l1" and view.asset_id is None
    (obj,) = view.objects
    assert (obj.job, obj.category, obj.mid, obj.shape) == ("JOB_0", "IBAN", "m1", "polygon")
    assert obj.children == ("TRANSCRIPTION_JOB",)
    assert obj.rings == (((0.1, 0.6), (0.1, 0.1), (0.3, 0.1), (0.3, 0.6)),)
    assert obj.parts == (obj.rings,)
    assert [(a.job, a.category) for a in view.answers if a.job == "CLASS"] == [("CLASS", "PAID")]
    with pytest.raises(AttributeError):
        obj.mid = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        view.label_id = "x"  # type: ignore[misc]
    assert repr(obj) == 'ObjectView(job="JOB_0", category="IBAN", mid="m1", shape="polygon")'
    assert repr(view.answers[0].parent) == ('ParentView(job="JOB_0", category="IBAN", mid="m1")')


NESTED = {
    # A box with a transcription child and a point child; a classification answer with a
    # transcription under its category; two entities (one without endOffset) and a relation;
    # a top-level transcription.
    "JOB_0": {
        "annotations": [
            {
                **box("m1", "IBAN", 0.1, 0.3, "FR76"),
                "children": {
                    "TRANSCRIPTION_JOB": {"text": "FR76"},
                    "CORNER": {
                        "annotations": [
                            {
                                "mid": "p1",
                                "type": "marker",
                                "point": {"x": 0.1, "y": 0.1},
                                "categories": [{"name": "C"}],
                            }
                        ]
                    },
                },
            }
        ]
    },
    "CLASS": {"categories": [{"name": "PAID", "children": {"NOTE": {"text": "by card"}}}]},
    "NER": {
        "annotations": [
            {
                "mid": "e1",
                "categories": [{"name": "PERSON"}],
                "beginOffset": 0,
                "endOffset": 5,
                "content": "Alice",
            },
            {"mid": "e2", "categories": [{"name": "ORG"}], "beginOffset": 15, "content": "Acmé"},
        ]
    },
    "REL": {
        "annotations": [
            {
                "mid": "r1",
                "categories": [{"name": "WORKS_FOR"}],
                "startEntities": [{"mid": "e1"}],
                "endEntities": [{"mid": "e2"}],
            }
        ]
    },
    "T": {"text": "top"},
}


def parent_key(p: ParentView | None) -> tuple[Any, ...] | None:
    return None if p is None else (p.job, p.category, p.mid)


def view_key(v: LabelView) -> tuple[Any, ...]:
    """Everything the view tells about texts, parents, spans, relations and metadata."""
    objects = [
        (
            o.job,
            o.mid,
            o.texts,
            parent_key(o.parent),
            None if o.span is None else (o.span.begin, o.span.end, o.span.content),
            None if o.relation is None else (o.relation.start, o.relation.end),
        )
        for o in v.objects
    ]
    answers = [(a.job, a.category, a.text, parent_key(a.parent)) for a in v.answers]
    return (v.metadata, objects, answers)


EXPECTED_VIEW = (
    {"source": "scanner", "pages": "3", "checked": "true"},
    [
        ("CORNER", "p1", {}, ("JOB_0", "IBAN", "m1"), None, None),
        ("JOB_0", "m1", {"TRANSCRIPTION_JOB": "FR76"}, None, None, None),
        ("NER", "e1", {}, None, (0, 5, "Alice"), None),
        ("NER", "e2", {}, None, (15, 19, "Acmé"), None),
        ("REL", "r1", {}, None, None, (("e1",), ("e2",))),
    ],
    [
        ("TRANSCRIPTION_JOB", None, "FR76", ("JOB_0", "IBAN", "m1")),
        ("NOTE", None, "by card", ("CLASS", "PAID", None)),
        ("CLASS", "PAID", None, None),
        ("T", None, "top", None),
    ],
)


def test_view_has_texts_parents_spans_relations_and_metadata(tmp_path: Path) -> None:
    seen: list[tuple[Any, ...]] = []

    @kili_rules.python_rule(id="spy")
    def spy(label: LabelView) -> None:
        seen.append(view_key(label))

    rs = RuleSet([spy])
    record = {
        "id": "a1",
        "externalId": "a1.pdf",
        "jsonMetadata": {"source": "scanner", "pages": 3, "checked": True, "more": {"x": 1}},
        "latestLabel": {"id": "l1", "jsonResponse": NESTED},
    }
    rs.validate(record)
    rs.validate(json.dumps(record).encode())
    # jsonMetadata as the API returns it: a JSON string.
    rs.validate({**record, "jsonMetadata": json.dumps(record["jsonMetadata"])})
    rs.validate_many([record, json.dumps(record).encode()], threads=2)
    write_zip(tmp_path / "export.zip", [record])
    rs.validate_export(tmp_path / "export.zip", threads=1)
    assert seen == [EXPECTED_VIEW] * 6
    # A bare label has no asset, so no metadata.
    seen.clear()
    rs.validate({"id": "l1", "jsonResponse": NESTED})
    assert seen[0][0] == {} and seen[0][1:] == EXPECTED_VIEW[1:]


def test_a_python_rule_reads_box_texts() -> None:
    # The document-QA IBAN check written over the view: the box's transcription text.
    @kili_rules.python_rule(id="iban-fr")
    def iban_fr(label: LabelView) -> Any:
        for obj in label.objects:
            text = obj.texts.get("TRANSCRIPTION_JOB")
            if obj.category == "IBAN" and text is not None and not text.startswith("FR"):
                yield Finding("IBAN number should start by FR", mid=obj.mid)

    label = {
        "JOB_0": {
            "annotations": [
                box("m1", "IBAN", 0.1, 0.3, "DE89"),
                box("m2", "IBAN", 0.1, 0.3, "FR76"),
            ]
        }
    }
    assert [(i.text, i.mid) for i in RuleSet([iban_fr]).validate(label)] == [
        ("IBAN number should start by FR", "m1")
    ]


def test_decide_counts_python_findings() -> None:
    rs = RuleSet([checks.iban_has_text], actions={"on_error": ["issues", "review"]})
    verdict = rs.decide(ASSETS[3])
    assert verdict.outcome == "error"
    assert [i.mid for i in verdict.issues] == ["m4", "m5"]


def test_rules_file_entries_by_module_path(tmp_path: Path) -> None:
    toml = """
[[rule]]
kind = "count"
job = "JOB_0"
max = 5

[[rule]]
kind = "python"
function = "_pyrules_checks:plain_too_many"
id = "many"
severity = "warning"

[[rule]]
kind = "python"
function = "_pyrules_checks:EmptyLabel"
"""
    path = tmp_path / "rules.toml"
    path.write_text(toml)
    rs = RuleSet.from_file(path)
    assert [r["id"] for r in rs.rules][1:] == ["many", "empty-label"]
    assert rs.rules[1]["function"] == "_pyrules_checks:plain_too_many"
    issues = rs.validate(ASSETS[3])
    assert [(i.rule, i.severity, i.text) for i in issues] == [("many", "warning", "3 objects")]
    as_json = RuleSet.from_json(
        json.dumps({"rule": [{"kind": "python", "function": "_pyrules_checks:plain_too_many"}]})
    )
    assert as_json.rules[0]["id"] == "plain_too_many"
    with pytest.raises(RulesError, match="cannot load"):
        RuleSet.from_dict({"rule": [{"kind": "python", "function": "nowhere_at_all:f"}]})
    with pytest.raises(RulesError, match="module:name"):
        RuleSet.from_dict({"rule": [{"kind": "python", "function": "no_colon"}]})
    with pytest.raises(RulesError, match="duplicate rule id"):
        RuleSet([checks.flaky, checks.flaky])


def test_pickles_by_reference_into_a_spawned_process(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text(
        '[[rule]]\nkind = "python"\nfunction = "_pyrules_checks:plain_too_many"\n'
    )
    for rs in (ruleset(), RuleSet.from_file(tmp_path / "r.toml")):
        clone = pickle.loads(pickle.dumps(rs))
        assert clone == rs and clone.rules == rs.rules
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            remote = pool.apply(checks.rows_of, (rs, ASSETS))
        assert remote == [key(r) for r in rs.validate_many(ASSETS, threads=1)]
        assert remote


def test_a_local_function_does_not_pickle() -> None:
    @kili_rules.python_rule(id="local")
    def local(label: LabelView) -> None:
        return None

    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(RuleSet([local]))


def test_native_only_sets_are_unchanged() -> None:
    rs = RuleSet([NATIVE])
    assert rs.python_rules == ()
    assert [r.rule for r in rs.validate_many(ASSETS)] == ["at-most-two"]
    assert isinstance(checks.EmptyLabel(), PythonRule)


def test_the_plugin_creates_python_findings_and_rule_errors_as_issues() -> None:
    pytest.importorskip("kili")
    import logging

    from _fake_kili import FakeKili
    from kili_rules.plugin import RulesPlugin

    class Handler(RulesPlugin):
        rules = RuleSet([NATIVE, checks.iban_has_text, checks.flaky])

    kili = FakeKili()
    label = {"id": "label-02", "jsonResponse": ASSETS[1]["latestLabel"]["jsonResponse"]}
    decision = Handler(kili, "project-1", logging.getLogger("t")).on_submit(label, "asset-02")
    (call,) = kili.named("create_issues")
    assert call["object_mid_array"] == ["m2", None]
    assert call["text_array"][0] == "IBAN box without its transcription"
    assert "The check 'flaky' failed on this label (ValueError" in call["text_array"][1]
    assert [i.kind for i in decision.issues] == ["python", "rule_error"]
    assert decision.sent_back


CHECKS_MODULE = """
import kili_rules


@kili_rules.python_rule(id="{rid}", severity="error")
def crowded(label):
    if len(label.objects) > 1:
        yield kili_rules.Finding("{rid}: crowded")
"""


def test_python_rules_are_found_next_to_the_rules_file_from_any_folder(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    project = tmp_path / "qa"
    (project / "checks").mkdir(parents=True)
    # Module names unique to this test: nothing of the same name can sit on sys.path.
    (project / "qa_next_to_rules.py").write_text(CHECKS_MODULE.format(rid="beside"))
    (project / "checks" / "qa_in_a_path.py").write_text(CHECKS_MODULE.format(rid="in-path"))
    (project / "rules.toml").write_text(
        '[[rule]]\nkind = "python"\nfunction = "qa_next_to_rules:crowded"\n\n'
        '[[rule]]\nkind = "python"\nfunction = "qa_in_a_path:crowded"\npath = "checks"\n'
    )
    label = {"id": "l1", "jsonResponse": ASSETS[3]["latestLabel"]["jsonResponse"]}
    (tmp_path / "labels.json").write_text(json.dumps([label]))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    CLI = [sys.executable, "-m", "kili_rules.cli"]
    out = subprocess.run(
        [*CLI, "check", "../labels.json", "--rules", "../qa/rules.toml", "--format", "json"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 1, out.stderr
    texts = {row["text"] for row in json.loads(out.stdout)["rows"]}
    assert texts == {"beside: crowded", "in-path: crowded"}

    (project / "rules.toml").write_text(
        '[[rule]]\nkind = "python"\nfunction = "qa_nowhere:crowded"\n'
    )
    missing = subprocess.run(
        [*CLI, "check", "../labels.json", "--rules", "../qa/rules.toml"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert missing.returncode == 2
    assert f"looked in {project.resolve()}" in missing.stderr, missing.stderr
