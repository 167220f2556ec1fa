"""Each rule kind on small hand-made labels."""

from __future__ import annotations

from typing import Any

import pytest
from kili_rules import Box, InsideImage, Overlap, Required, RuleSet


def rect(
    mid: str, x0: float, y0: float, x1: float, y1: float, cat: str = "A", **extra: Any
) -> dict[str, Any]:
    verts = [{"x": x0, "y": y1}, {"x": x0, "y": y0}, {"x": x1, "y": y0}, {"x": x1, "y": y1}]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": cat}],
        "boundingPoly": [{"normalizedVertices": verts}],
        **extra,
    }


def label(*anns: dict[str, Any]) -> dict[str, Any]:
    return {"J": {"annotations": list(anns)}}


def test_box_bounds_and_pixels() -> None:
    rs = RuleSet([Box(job="J", max_width=0.5, min_aspect=0.5)])
    (i,) = rs.validate(label(rect("a", 0, 0, 0.6, 0.6), rect("b", 0, 0, 0.1, 0.1)))
    assert (i.mid, i.value, i.limit) == ("a", pytest.approx(0.6), 0.5)
    px = RuleSet([Box(job="J", max_width=100, unit="pixels")])
    assert px.validate(label(rect("a", 0, 0, 0.5, 0.1)), resolution=(100, 50)) == []
    (wide,) = px.validate(label(rect("a", 0, 0, 0.5, 0.1)), resolution=(300, 50))
    assert wide.value == pytest.approx(150) and wide.limit == 100
    # no resolution: the pixel rule is unchecked on this label (a row), not an error
    (skipped,) = px.validate(label(rect("a", 0, 0, 0.5, 0.1)))
    assert skipped.kind == "unchecked" and "resolution" in skipped.text
    assert px.validate(
        {
            "resolution": {"width": 300, "height": 50},
            "latestLabel": {"jsonResponse": label(rect("a", 0, 0, 0.5, 0.1))},
        }
    )


def test_inside_image_with_tolerance() -> None:
    rs = RuleSet([InsideImage(job="J", tolerance=0.01)])
    assert rs.validate(label(rect("a", -0.005, 0, 1.005, 1))) == []
    (i,) = rs.validate(label(rect("a", -0.2, 0, 1.05, 1)))
    assert i.value == pytest.approx(-0.2) and i.limit == 0
    (p,) = rs.validate(
        {"J": {"annotations": [{"mid": "p", "type": "marker", "point": {"x": 1.5, "y": 0.5}}]}}
    )
    assert p.mid == "p" and p.limit == 1


def test_overlap_same_category_and_frames() -> None:
    rs = RuleSet([Overlap(job="J", max_iou=0.5)])
    a, dup, other = (
        rect("a", 0, 0, 0.5, 0.5),
        rect("b", 0.01, 0.01, 0.5, 0.5),
        rect("c", 0, 0, 0.5, 0.5, cat="B"),
    )
    (i,) = rs.validate(label(a, dup, other))
    assert i.mid == "b" and i.value > 0.9 and "another A overlap" in i.text
    assert (
        len(
            RuleSet([Overlap(job="J", max_iou=0.5, same_category=False)]).validate(
                label(a, dup, other)
            )
        )
        == 3
    )
    video = {"0": label(a), "1": label(dup)}
    assert rs.validate(video) == []


def test_required_job_and_child() -> None:
    rs = RuleSet([Required(job="J", category="A", child="T"), Required(job="CLS")])
    child = {"T": {"text": "hello"}}
    issues = rs.validate(
        label(
            rect("a", 0, 0, 0.1, 0.1, children=child),
            rect("b", 0, 0, 0.1, 0.1),
            rect("c", 0, 0, 0.1, 0.1, cat="B"),
        )
    )
    assert [(i.rule, i.mid) for i in issues] == [("required-1", "b"), ("required-2", None)]
    assert issues[1].text == "Nothing is answered in CLS: answer it before submitting."


def test_count_min_on_classification_and_nested_jobs() -> None:
    rs = RuleSet.from_dict(
        {
            "rule": [
                {"kind": "count", "job": "CLS", "min": 1, "max": 1, "id": "one-answer"},
                {
                    "kind": "count",
                    "job": "NESTED",
                    "category": "X",
                    "max": 0,
                    "severity": "warning",
                },
            ]
        }
    )
    resp = {
        "CLS": {
            "categories": [
                {"name": "A", "children": {"NESTED": {"categories": [{"name": "X"}]}}},
                {"name": "B"},
            ]
        }
    }
    one, nested = rs.validate(resp)
    assert (one.rule, one.value, one.limit) == ("one-answer", 2, 1)
    assert nested.severity == "warning" and nested.category == "X"
    assert RuleSet.has_errors([nested]) is False and RuleSet.has_errors([one, nested]) is True
    (empty,) = rs.validate({})
    assert empty.rule == "one-answer" and empty.value == 0


def test_ignored_keys_rotation_and_extra_keys() -> None:
    rs = RuleSet.from_dict({"rule": [{"kind": "count", "job": "J", "max": 0}]})
    resp = {
        "ROTATION_JOB": {"rotation": 90},
        "ANNOTATION_JOB_COUNTER": {"J": {"A": 3}},
        "J": {"annotations": [rect("a", 0, 0, 1, 1, jobName="J", extra=[1])]},
    }
    (i,) = rs.validate(resp)
    assert i.value == 1


def test_default_messages_are_readable() -> None:
    rs = RuleSet.from_dict(
        {
            "rule": [
                {"kind": "count", "job": "J", "category": "A", "max": 0},
                {"kind": "area", "job": "J", "max": 0.1},
            ]
        }
    )
    c, a = rs.validate(label(rect("a", 0, 0, 0.5, 0.5)))
    assert c.text == "This label has 1 A: at most 0 allowed, remove the extra ones."
    assert a.text == "This A is too large: it covers 25% of the image, it should cover at most 10%."


def test_page_resolutions_argument() -> None:
    rs = RuleSet.from_dict({"rule": [{"kind": "area", "job": "PDF", "max": 0, "unit": "pixels"}]})
    verts = [{"x": 0, "y": 0}, {"x": 0.5, "y": 0}, {"x": 0.5, "y": 0.5}, {"x": 0, "y": 0.5}]
    layer = {"pageNumberArray": [2], "boundingPoly": [{"normalizedVertices": [verts]}]}
    pdf = {"PDF": {"annotations": [{"mid": "p", "annotations": [layer]}]}}
    (issue,) = rs.validate(pdf, page_resolutions={1: (10, 10), 2: (100, 200)})
    assert issue.value == pytest.approx(0.25 * 100 * 200)
    (skipped,) = rs.validate(pdf, page_resolutions={1: (10, 10)})  # page 2's size unknown
    assert skipped.kind == "unchecked" and "resolution" in skipped.text
    with pytest.raises(ValueError, match="positive"):
        rs.validate(pdf, page_resolutions={2: (0, 10)})
