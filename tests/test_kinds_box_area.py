"""box.min_area / max_area reproduce the webhook tutorial's arithmetic to the last bit:
``(max(xs) - min(xs)) * (max(ys) - min(ys))`` on the box's vertices, rotated boxes included."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from _kinds_check import asset, three_ways
from kili_rules import Box, RuleSet

LIMIT = 0.33


def tutorial_area(vertices: list[dict[str, float]]) -> float:
    # The tutorial's own helper, verbatim in substance.
    x_array = [point["x"] for point in vertices]
    y_array = [point["y"] for point in vertices]
    width = max(x_array) - min(x_array)
    height = max(y_array) - min(y_array)
    return width * height


def rect(x0: float, y0: float, x1: float, y1: float) -> list[dict[str, float]]:
    return [{"x": x0, "y": y1}, {"x": x0, "y": y0}, {"x": x1, "y": y0}, {"x": x1, "y": y1}]


def rotated(cx: float, cy: float, w: float, h: float, angle: float) -> list[dict[str, float]]:
    c, s = math.cos(angle), math.sin(angle)
    pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [{"x": cx + x * c - y * s, "y": cy + x * s + y * c} for x, y in pts]


def response(boxes: list[list[dict[str, float]]]) -> dict[str, Any]:
    return {
        "JOB_0": {
            "annotations": [
                {
                    "mid": f"m{i}",
                    "type": "rectangle",
                    "categories": [{"name": "OBJECT_A"}],
                    "boundingPoly": [{"normalizedVertices": v}],
                }
                for i, v in enumerate(boxes)
            ]
        }
    }


RULES = RuleSet([Box(job="JOB_0", max_area=LIMIT)])


def test_the_tutorials_box_is_flagged_where_the_polygon_area_is_not() -> None:
    box = rect(0.10, 0.10, 0.85, 0.54)
    assert tutorial_area(box) == 0.33000000000000007
    issues = RULES.validate(response([box]))
    assert [(i.mid, i.value, i.limit) for i in issues] == [("m0", 0.33000000000000007, LIMIT)]
    # The polygon area of the same box is 0.33: the `area` kind does not flag it.
    assert (
        RuleSet.from_dict({"rule": [{"kind": "area", "job": "JOB_0", "max": LIMIT}]}).validate(
            response([box])
        )
        == []
    )


def test_a_box_turned_45_degrees_has_extent_0_64() -> None:
    box = rotated(0.5, 0.5, 0.4 * math.sqrt(2), 0.4 * math.sqrt(2), math.pi / 4)
    issues = RuleSet([Box(job="JOB_0", max_area=0.5)]).validate(response([box]))
    assert [i.value for i in issues] == [tutorial_area(box)]
    assert abs(tutorial_area(box) - 0.64) < 1e-12


def test_random_boxes_match_the_tutorial_bit_for_bit() -> None:
    rng = random.Random(20261128)
    boxes: list[list[dict[str, float]]] = []
    for _ in range(2000):
        # Axis-aligned, with coordinates on a 0.01 grid so that many land at 0.33 exactly.
        x0, x1 = sorted(rng.randrange(0, 101) / 100 for _ in range(2))
        y0, y1 = sorted(rng.randrange(0, 101) / 100 for _ in range(2))
        boxes.append(rect(x0, y0, x1, y1))
    for _ in range(1000):
        # Products of the tutorial's threshold's neighbours: widths x heights around 0.33.
        w = rng.choice([0.3, 0.33, 0.5, 0.55, 0.6, 0.66, 0.75, 1.0, 0.44])
        h = LIMIT / w + rng.choice([-1e-16, 0.0, 1e-16, 1e-9])
        x0 = rng.random() * (1 - w)
        y0 = rng.random() * 0.2
        boxes.append(rect(x0, y0, x0 + w, y0 + h))
    for _ in range(1500):
        boxes.append(
            rotated(
                rng.random(),
                rng.random(),
                rng.random() * 0.8,
                rng.random() * 0.8,
                rng.random() * math.tau,
            )
        )
    issues = RULES.validate(response(boxes))
    flagged = {i.mid: i.value for i in issues}
    oracle = {f"m{k}": tutorial_area(b) for k, b in enumerate(boxes) if tutorial_area(b) > LIMIT}
    assert flagged == oracle  # same boxes, same values to the last bit
    near = [b for b in boxes if abs(tutorial_area(b) - LIMIT) < 1e-12]
    assert len(near) > 50  # the threshold itself was exercised
    assert any(tutorial_area(b) == LIMIT for b in near)
    assert any(tutorial_area(b) > LIMIT for b in near)
    # min_area is the same measure from below.
    low = RuleSet([Box(job="JOB_0", min_area=LIMIT)]).validate(response(boxes))
    assert {i.mid for i in low} == {
        f"m{k}" for k, b in enumerate(boxes) if tutorial_area(b) < LIMIT
    }


def test_box_area_from_dict_json_and_export_agree(tmp_path: Path) -> None:
    rs = RuleSet.from_toml(
        '[[rule]]\nkind = "box"\njob = "JOB_0"\nmax_area = 0.33\n'
        'message = "BBox too large ({value})"\n'
    )
    assets = [
        asset("a1", response([rect(0.10, 0.10, 0.85, 0.54), rect(0, 0, 0.1, 0.1)])),
        asset("a2", response([rotated(0.5, 0.5, 0.5, 0.5, 0.3)])),
        asset("a3", response([rect(0, 0, 0.5, 0.5)])),
    ]
    rows = three_ways(rs, assets, tmp_path)
    assert [(r[0], r[5]) for r in rows] == [("a1", "m0"), ("a2", "m0")]
    assert rows[0][4] == "BBox too large (0.33)"


def test_area_bounds_are_validated() -> None:
    import pytest
    from kili_rules import RulesError

    with pytest.raises(RulesError, match="rule 1: min_area"):
        RuleSet([Box(job="J", min_area=0.5, max_area=0.1)])
    with pytest.raises(RulesError, match="max_area: expected a number"):
        RuleSet.from_dict({"rule": [{"kind": "box", "job": "J", "max_area": "big"}]})
