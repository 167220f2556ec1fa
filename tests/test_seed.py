"""The tutorial's rules reproduce the tutorial's issues on its own labels (shared/fixtures/seed)."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES, SEED, load
from kili_rules import Box, Count, Issue, RuleSet

TOO_MANY = "There are too many BBox (3) - Only 1 BBox of Object A accepted"
BIG_MID = "20221124161451411-13314"


def expected_three_boxes(issues: list[Issue]) -> None:
    assert [(i.text, i.mid) for i in issues] == [(TOO_MANY, None), ("BBox too large", BIG_MID)]
    count, area = issues
    assert count.kind == "count" and count.value == 3 and count.limit == 1
    assert count.job == "JOB_0" and count.category == "OBJECT_A" and count.frame is None
    # The tutorial bounds the box's extent (width x height): the box kind's max_area.
    assert area.kind == "box" and area.category == "OBJECT_A" and area.limit == 0.33
    assert area.value == pytest.approx(0.67 * 0.53, abs=1e-12)
    assert all(i.severity == "error" for i in issues)


def test_three_boxes_from_every_input_form(tutorial_rules: RuleSet) -> None:
    response = load(SEED / "json_response_three_boxes.json")
    label = load(SEED / "webhook_event_three_boxes.json")["payload"]["label"]
    for form in (
        response,
        label,
        {"id": "l1", "jsonResponse": json.dumps(response)},  # as the API returns it
        json.dumps(response),
        json.dumps(label).encode(),
    ):
        expected_three_boxes(tutorial_rules.validate(form))


def test_one_box_still_too_large(tutorial_rules: RuleSet) -> None:
    # The tutorial says this label passes; under its own 0.33 rule it does not (seed README).
    for form in (
        load(SEED / "json_response_one_box.json"),
        load(SEED / "webhook_event_one_box.json")["payload"]["label"],
    ):
        issues = tutorial_rules.validate(form)
        assert [(i.text, i.mid) for i in issues] == [("BBox too large", BIG_MID)]


def test_rules_from_objects_dict_json_yaml_agree(tutorial_rules: RuleSet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    objs = RuleSet(
        [
            Count(
                id="too-many-object-a",
                job="JOB_0",
                category="OBJECT_A",
                max=1,
                message="There are too many BBox ({count}) - Only 1 BBox of Object A accepted",
            ),
            Box(id="bbox-too-large", job="JOB_0", max_area=0.33, message="BBox too large"),
        ]
    )
    assert objs == tutorial_rules
    assert RuleSet.from_dict({"rule": tutorial_rules.rules}) == tutorial_rules
    (tmp_path / "r.json").write_text(json.dumps({"rule": tutorial_rules.rules}))
    assert RuleSet.from_file(tmp_path / "r.json") == tutorial_rules
    yaml = pytest.importorskip("yaml")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"rule": tutorial_rules.rules}))
    assert RuleSet.from_file(tmp_path / "r.yaml") == tutorial_rules
    response = load(SEED / "json_response_three_boxes.json")
    expected_three_boxes(objs.validate(response))


def test_example_rules_file_is_the_tutorial() -> None:
    text = (EXAMPLES / "rules.toml").read_text()
    assert "max_area = 0.33" in text and 'category = "OBJECT_A"' in text
