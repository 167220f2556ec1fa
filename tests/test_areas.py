"""Areas and validity against an independent implementation (shapely / GEOS)."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Any

import pytest
from conftest import KILI_SDK, load
from kili_rules import RuleSet

shapely = pytest.importorskip("shapely")
from shapely.geometry import Polygon  # noqa: E402


def areas_by_mid(rules: RuleSet, label: Any) -> dict[str | None, float]:
    return {i.mid: i.value for i in rules.validate(label) if i.value is not None}


def star(cx: float, cy: float, r: float, n: int, rng: random.Random) -> list[tuple[float, float]]:
    pts = []
    for k in range(n):
        t = 2 * math.pi * k / n
        rr = r * rng.uniform(0.5, 1.0)
        pts.append((cx + rr * math.cos(t), cy + rr * math.sin(t)))
    return pts


def ring_json(pts: list[tuple[float, float]]) -> dict[str, Any]:
    return {"normalizedVertices": [{"x": x, "y": y} for x, y in pts]}


def test_random_polygons_with_holes_match_shapely() -> None:
    rng = random.Random(7)
    rules = RuleSet.from_dict(
        {
            "rule": [
                {"kind": "area", "job": "J", "max": 0},
                {"kind": "valid_polygon", "job": "J", "id": "v"},
            ]
        }
    )
    for trial in range(300):
        annotations, expected = [], {}
        for k in range(rng.randint(1, 4)):
            cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)
            while True:
                outer = star(cx, cy, 0.25, rng.randint(3, 60), rng)
                offsets = [(-0.06, 0.0), (0.06, 0.0)][: rng.randint(0, 2)]
                holes = [
                    star(cx + dx, cy + dy, 0.03, rng.randint(3, 12), rng) for dx, dy in offsets
                ]
                shape = Polygon(outer, holes)
                if shape.is_valid:  # a valid polygon is what Kili's convention is defined on
                    break
            mid = f"m{trial}-{k}"
            annotations.append(
                {
                    "mid": mid,
                    "type": "semantic",
                    "boundingPoly": [ring_json(outer)] + [ring_json(h) for h in holes],
                }
            )
            expected[mid] = shape.area
        got = areas_by_mid(rules, {"J": {"annotations": annotations}})
        assert got.keys() == expected.keys()
        for mid, a in expected.items():
            assert got[mid] == pytest.approx(a, abs=1e-9, rel=1e-12)


def test_parts_sharing_a_mid_add_up_and_hierarchical_form_agrees() -> None:
    rules = RuleSet.from_dict({"rule": [{"kind": "area", "job": "J", "max": 0}]})
    rng = random.Random(3)
    a, b = star(0.3, 0.3, 0.1, 20, rng), star(0.7, 0.7, 0.1, 30, rng)
    hole = star(0.7, 0.7, 0.02, 8, rng)
    flat = {
        "J": {
            "annotations": [
                {"mid": "m", "boundingPoly": [ring_json(a)]},
                {"mid": "m", "boundingPoly": [ring_json(b), ring_json(hole)]},
            ]
        }
    }
    hier = {
        "J": {
            "annotations": [
                {"mid": "m", "boundingPoly": [[ring_json(a)], [ring_json(b), ring_json(hole)]]}
            ]
        }
    }
    expected = Polygon(a).area + Polygon(b, [hole]).area
    assert areas_by_mid(rules, flat)["m"] == pytest.approx(expected, abs=1e-12)
    assert areas_by_mid(rules, hier)["m"] == pytest.approx(expected, abs=1e-12)


def kili_annotations(obj: Any) -> list[tuple[str, str | None, Any]]:
    """(job, mid, annotation) for every annotation, wherever nested (independent walk)."""
    out = []

    def walk_response(resp: Any) -> None:
        if not isinstance(resp, dict):
            return
        for job, payload in resp.items():
            if job.isdigit() or job == "assetLevel":
                walk_response(payload)
            elif isinstance(payload, dict):
                for ann in payload.get("annotations") or []:
                    out.append((job, None if ann.get("mid") is None else str(ann.get("mid")), ann))
                    walk_response(ann.get("children"))

    walk_response(obj)
    return out


def shapely_area(ann: Any) -> float:
    bp = ann.get("boundingPoly") or []
    total = 0.0
    if bp and isinstance(bp[0], list):  # hierarchical
        for part in bp:
            rings = [[(v["x"], v["y"]) for v in r["normalizedVertices"]] for r in part]
            total += Polygon(rings[0]).area - sum(Polygon(h).area for h in rings[1:])
        return total
    rings = [
        [(v["x"], v["y"]) for v in r["normalizedVertices"]]
        for r in bp
        if r.get("normalizedVertices")
    ]
    rings = [r for r in rings if len(r) >= 3]
    if not rings:
        return 0.0
    return Polygon(rings[0]).area - sum(Polygon(h).area for h in rings[1:])


@pytest.mark.parametrize(
    "name",
    [
        "image_project_assets_for_coco.json",
        "geospatial_test_case_13.json",
        "geojson_tutorial_kili_label.json",
    ],
)
def test_every_polygon_of_the_fixtures_matches_shapely(name: str) -> None:
    data = load(KILI_SDK / name)
    if isinstance(data, dict) and "json_response" in data:
        import json

        responses = [json.loads(data["json_response"])]
    elif isinstance(data, list):
        responses = [a["latestLabel"]["jsonResponse"] for a in data]
    else:
        responses = [data]
    checked = 0
    for resp in responses:
        expected: dict[tuple[str, str | None], float] = defaultdict(float)
        for job, mid, ann in kili_annotations(resp):
            if ann.get("boundingPoly"):
                expected[(job, mid)] += shapely_area(ann)
        for job in {j for j, _ in expected}:
            rules = RuleSet.from_dict({"rule": [{"kind": "area", "job": job, "max": 0}]})
            got = areas_by_mid(rules, resp)
            for (j, mid), a in expected.items():
                if j == job and a > 0:
                    assert got[mid] == pytest.approx(a, abs=1e-9), (job, mid)
                    checked += 1
    assert checked > 0


def test_validity_agrees_with_geos_on_random_rings() -> None:
    rng = random.Random(11)
    rules = RuleSet.from_dict({"rule": [{"kind": "valid_polygon", "job": "J"}]})
    disagreements = 0
    for _ in range(2000):
        n = rng.randint(3, 9)
        pts = [(rng.randint(0, 6) / 6, rng.randint(0, 6) / 6) for _ in range(n)]
        # Exactly collinear rings come out of floats with an area of ~1e-17, which GEOS calls
        # valid; kili-rules calls them zero-area. Compare on the rest.
        geos_valid = Polygon(pts).is_valid and Polygon(pts).area > 1e-12
        ours_valid = not rules.validate(
            {"J": {"annotations": [{"mid": "m", "boundingPoly": [ring_json(pts)]}]}}
        )
        disagreements += geos_valid != ours_valid
    assert disagreements == 0


def test_bow_tie_and_collinear_are_invalid() -> None:
    rules = RuleSet.from_dict({"rule": [{"kind": "valid_polygon", "job": "J"}]})
    for pts in ([(0, 0), (1, 1), (1, 0), (0, 1)], [(0, 0), (0.5, 0), (1, 0)]):
        (issue,) = rules.validate(
            {"J": {"annotations": [{"mid": "m", "boundingPoly": [ring_json(pts)]}]}}
        )
        assert issue.mid == "m" and ("crosses itself" in issue.text or "no area" in issue.text)
