"""`answer` rules on classification jobs, and `when` conditions on another job's answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _kinds_check import asset, three_ways
from kili_rules import Answer, Count, RulesError, RuleSet

IFACE: dict[str, Any] = {
    "jobs": {
        "QUALITY": {
            "mlTask": "CLASSIFICATION",
            "content": {
                "input": "radio",
                "categories": {"OK": {"name": "OK"}, "DAMAGED": {"name": "Damaged"}},
            },
        },
        "TAGS": {
            "mlTask": "CLASSIFICATION",
            "content": {
                "input": "checkbox",
                "categories": {c: {"name": c} for c in ("INDOOR", "OUTDOOR", "NIGHT", "BLURRY")},
            },
        },
        "DAMAGE": {
            "mlTask": "OBJECT_DETECTION",
            "tools": ["rectangle"],
            "content": {"input": "radio", "categories": {"DENT": {"name": "Dent"}}},
        },
    }
}


def classif(*names: str) -> dict[str, Any]:
    return {"categories": [{"name": n, "confidence": 100} for n in names]}


def dent(mid: str) -> dict[str, Any]:
    v = [{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.1}, {"x": 0.2, "y": 0.2}, {"x": 0.1, "y": 0.2}]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "DENT"}],
        "boundingPoly": [{"normalizedVertices": v}],
    }


RULES = RuleSet.from_toml(
    """
[[rule]]
id = "tags"
kind = "answer"
job = "TAGS"
forbidden = "BLURRY"
max = 2
exclusive = [["INDOOR", "OUTDOOR"]]

[[rule]]
id = "quality-set"
kind = "answer"
job = "QUALITY"
min = 1
allowed = ["OK", "DAMAGED"]

[[rule]]
id = "damage-drawn"
kind = "count"
job = "DAMAGE"
min = 1
when = { job = "QUALITY", answer = "DAMAGED" }
message = "Damaged, but no damage drawn"

[[rule]]
id = "no-damage-if-ok"
kind = "count"
job = "DAMAGE"
max = 0
when = { job = "QUALITY", not_answer = "DAMAGED" }
"""
)


def findings(json_response: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i.rule, i.text) for i in RULES.validate(json_response)]


def test_answer_kind() -> None:
    assert findings({"QUALITY": classif("OK"), "TAGS": classif("INDOOR")}) == []
    assert findings({"QUALITY": classif("OK"), "TAGS": classif("INDOOR", "OUTDOOR", "BLURRY")}) == [
        ("tags", "In TAGS, 3 answers are chosen (INDOOR, OUTDOOR, BLURRY): choose at most 2."),
        ("tags", "In TAGS, BLURRY is not allowed: choose another answer."),
        ("tags", "In TAGS, INDOOR and OUTDOOR cannot be chosen together: keep only one."),
    ]
    # Not answered at all: min = 1 fails once, on the label.
    issues = RULES.validate({"TAGS": classif("NIGHT")})
    assert [(i.rule, i.mid, i.value, i.limit) for i in issues] == [("quality-set", None, 0.0, 1.0)]
    # A category outside `allowed`.
    assert findings({"QUALITY": classif("ELSE")}) == [
        ("quality-set", "In QUALITY, ELSE is not allowed: choose another answer.")
    ]


def test_when_another_job_answers() -> None:
    assert findings({"QUALITY": classif("DAMAGED")}) == [
        ("damage-drawn", "Damaged, but no damage drawn")
    ]
    assert findings({"QUALITY": classif("DAMAGED"), "DAMAGE": {"annotations": [dent("d1")]}}) == []
    assert findings({"QUALITY": classif("OK"), "DAMAGE": {"annotations": [dent("d1")]}}) == [
        (
            "no-damage-if-ok",
            "Objects or answers in DAMAGE: 1 in this label, at most 0 allowed, remove the extra "
            "ones.",
        )
    ]
    assert findings({"QUALITY": classif("OK")}) == []


def test_answer_from_dict_json_and_export_agree(tmp_path: Path) -> None:
    assets = [
        asset("a1", {"QUALITY": classif("DAMAGED"), "TAGS": classif("INDOOR", "OUTDOOR")}),
        asset("a2", {"QUALITY": classif("OK"), "DAMAGE": {"annotations": [dent("d1")]}}),
        asset("a3", {"TAGS": classif("BLURRY")}),
        asset("a4", {"QUALITY": classif("OK"), "TAGS": classif("NIGHT")}),
    ]
    rows = three_ways(RULES, assets, tmp_path)
    assert {(r[0], r[1]) for r in rows} == {
        ("a1", "tags"),
        ("a1", "damage-drawn"),
        ("a2", "no-damage-if-ok"),
        ("a3", "tags"),
        ("a3", "quality-set"),
    }


def test_answer_and_when_config_errors() -> None:
    with pytest.raises(RulesError, match="rule 1: exclusive: each group"):
        RuleSet([Answer(job="T", exclusive=[["A"]])])
    with pytest.raises(RulesError, match="rule 1: exclusive: expected a list of lists"):
        RuleSet.from_dict({"rule": [{"kind": "answer", "job": "T", "exclusive": ["A", "B"]}]})
    with pytest.raises(RulesError, match="rule 1: rule: set at least one of"):
        RuleSet([Answer(job="T")])
    with pytest.raises(RulesError, match=r"rule 1: when: .*need `job`"):
        RuleSet([Count(job="D", min=1, when={"answer": "X"})])
    with pytest.raises(RulesError, match="rule 1: when"):
        RuleSet([Count(job="D", min=1, when={"jobb": "X"})])
    with pytest.raises(RulesError, match="rule 1: when: set at least one of"):
        RuleSet([Count(job="D", min=1, when={})])


def test_nested_classifications_are_judged_per_enclosing_object() -> None:
    # A classification child of each box: its answers are judged box by box, on the box's mid,
    # and `when.parent` keeps the children of some categories only.
    def box(mid: str, category: str, *severity: str) -> dict[str, Any]:
        return {
            **dent(mid),
            "categories": [{"name": category}],
            "children": {"SEV": classif(*severity)},
        }

    label = {
        "DAMAGE": {
            "annotations": [
                box("d1", "DENT", "LOW", "HIGH"),
                box("d2", "SCRATCH", "LOW", "HIGH"),
                box("d3", "DENT", "LOW"),
            ]
        }
    }
    one = RuleSet([Answer(job="SEV", max=1, message="{mid}: {reason}")])
    assert [(i.mid, i.text) for i in one.validate(label)] == [
        ("d1", "d1: 2 answers are chosen (LOW, HIGH): choose at most 1"),
        ("d2", "d2: 2 answers are chosen (LOW, HIGH): choose at most 1"),
    ]
    dents = RuleSet([Answer(job="SEV", max=1, when={"parent": "DENT"})])
    assert [i.mid for i in dents.validate(label)] == ["d1"]
    # count with when.parent: answers under DENT boxes only (LOW, HIGH, LOW).
    counted = RuleSet([Count(job="SEV", max=2, when={"parent": "DENT"})])
    assert [(i.value, i.limit) for i in counted.validate(label)] == [(3.0, 2.0)]


def test_lint_checks_answer_categories_and_when() -> None:
    assert RULES.lint(IFACE) == []
    bad = RuleSet(
        [
            Answer(job="TAGS", allowed=["INDOOR", "CAVE"], exclusive=[["NIGHT", "DAY"]]),
            Answer(job="DAMAGE", max=1),
            Count(job="DAMAGE", min=1, when={"job": "QUALITI", "answer": "DAMAGED"}),
            Count(job="DAMAGE", min=1, when={"job": "QUALITY", "answer": "BROKEN"}),
            Count(job="DAMAGE", min=1, when={"parent": "NOPE"}),
        ]
    )
    assert bad.lint(IFACE) == [
        "rule 'answer-1' (answer): allowed: job 'TAGS' has no category 'CAVE' "
        "(categories: BLURRY, INDOOR, NIGHT, OUTDOOR)",
        "rule 'answer-1' (answer): exclusive: job 'TAGS' has no category 'DAY' "
        "(categories: BLURRY, INDOOR, NIGHT, OUTDOOR)",
        "rule 'answer-2' (answer): job 'DAMAGE' is not a classification "
        "(mlTask 'OBJECT_DETECTION')",
        "rule 'count-3' (count): when.job: unknown job 'QUALITI' (jobs: DAMAGE, QUALITY, TAGS)",
        "rule 'count-4' (count): when.answer: job 'QUALITY' has no category 'BROKEN' "
        "(categories: DAMAGED, OK)",
        "rule 'count-5' (count): when.parent: no job has a category 'NOPE'",
    ]
