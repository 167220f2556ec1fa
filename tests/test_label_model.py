"""Label model fields read alike from a dict and from its JSON text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules._native import _read_model

NESTED: dict[str, Any] = {
    "id": "asset-1",
    "status": "LABELED",
    "jsonMetadata": {"split": "train", "n": 3},
    "jsonContent": [{"useClassicCoordinates": False, "epsg": "EPSG4326"}],
    "latestLabel": {
        "id": "label-1",
        "author": {"email": "a@b.c"},
        "createdAt": "2024-01-01T00:00:00Z",
        "labelType": "DEFAULT",
        "jsonResponse": {
            "BOX": {
                "annotations": [
                    {
                        "children": {"OCR": {"text": "De Bruijn"}},
                        "mid": "m1",
                        "categories": [{"name": "A"}],
                        "boundingPoly": [{"normalizedVertices": [{"x": 4.4, "y": 52.2}]}],
                    }
                ]
            },
            "NER": {
                "annotations": [
                    {"mid": "e1", "beginOffset": 3, "content": "abc", "categories": [{"name": "P"}]}
                ]
            },
            "REL": {
                "annotations": [
                    {"mid": "r1", "startEntities": [{"mid": "e1"}], "endEntities": [{"mid": "e2"}]}
                ]
            },
        },
    },
}


def test_model_fields_same_from_dict_and_json() -> None:
    from_dict = _read_model(NESTED, False)
    assert from_dict == _read_model(json.dumps(NESTED), True)
    assert 'text: Some("De Bruijn")' in from_dict
    parent = 'parent: Some(ParentRef { job: "BOX", category: Some("A"), mid: Some("m1") })'
    assert parent in from_dict
    assert 'span: Some(Span { begin: 3, end: 6, content: Some("abc") })' in from_dict
    assert 'relation: Some(Relation { start: ["e1"], end: ["e2"] })' in from_dict
    assert "lonlat: true" in from_dict
    assert 'author: Some("a@b.c")' in from_dict


@pytest.mark.parametrize("as_json", [False, True])
def test_rows_carry_label_info_and_status(as_json: bool) -> None:
    rules = RuleSet.from_dict({"rule": [{"kind": "count", "job": "BOX", "max": 0}]})
    item: object = json.dumps(NESTED) if as_json else NESTED
    (row,) = rules.validate_many([item]).rows
    assert (row.author, row.created_at, row.label_type, row.asset_status) == (
        "a@b.c",
        "2024-01-01T00:00:00Z",
        "DEFAULT",
        "LABELED",
    )


@pytest.mark.parametrize("as_json", [False, True])
def test_labels_output_keeps_asset(as_json: bool) -> None:
    rules = RuleSet.from_dict({"rule": [{"kind": "count", "job": "BOX", "max": 0}]})
    labels = [
        {
            "id": f"l{i}",
            "labelOf": {"id": f"a{i}", "externalId": f"x{i}"},
            "jsonResponse": {"BOX": {"annotations": [{"mid": "m"}]}},
        }
        for i in range(4)
    ]
    items: list[object] = [json.dumps(x) for x in labels] if as_json else list(labels)
    report = rules.validate_many(items)
    assert report.assets == 4
    assert [r.asset_id for r in report.rows] == ["a0", "a1", "a2", "a3"]


@pytest.mark.parametrize("as_json", [False, True])
def test_video_asset_level_answer_counts_once(as_json: bool) -> None:
    rules = RuleSet.from_dict({"rule": [{"kind": "count", "job": "CLS", "min": 1, "max": 1}]})
    label = {
        "0": {},
        "1": {},
        "assetLevel": {"CLS": {"categories": [{"name": "A"}, {"name": "B"}]}},
    }
    item: object = json.dumps(label) if as_json else label
    issues = rules.validate(item)
    assert [(i.value, i.frame) for i in issues] == [(2.0, None)]


@pytest.mark.parametrize("as_json", [False, True])
def test_python_rule_rows_carry_label_info(as_json: bool) -> None:
    import kili_rules
    from kili_rules import Finding, LabelView

    @kili_rules.python_rule(id="always")
    def always(label: LabelView) -> Finding:
        return Finding("seen")

    rules = RuleSet([always])
    item: object = json.dumps(NESTED) if as_json else NESTED
    (row,) = rules.validate_many([item]).rows
    assert (row.rule, row.author, row.label_type, row.asset_status, row.asset_id) == (
        "always",
        "a@b.c",
        "DEFAULT",
        "LABELED",
        "asset-1",
    )


@pytest.mark.parametrize("as_json", [False, True])
def test_required_sees_video_asset_level_answers(as_json: bool) -> None:
    rules = RuleSet.from_dict({"rule": [{"kind": "required", "job": "CLS"}]})
    answered = {"0": {}, "1": {}, "assetLevel": {"CLS": {"categories": [{"name": "A"}]}}}
    unanswered = {"0": {}, "1": {}, "assetLevel": {}}
    for label, expected in (
        (answered, []),
        (unanswered, ["Nothing is answered in CLS: answer it before submitting."]),
    ):
        item: object = json.dumps(label) if as_json else label
        assert [i.text for i in rules.validate(item)] == expected
