"""Kili fidelity: areas as kili-formats' COCO exporter computes them, validity wording,
inside_image's excess."""

from __future__ import annotations

import random
from typing import Any

import pytest
from conftest import KILI_SDK, load
from kili_rules import RuleSet

coco = pytest.importorskip("kili_formats.format.coco")
shapely = pytest.importorskip("shapely")
from shapely.geometry import Polygon  # noqa: E402

W, H = 1920, 1080
Z_RECT = [(0.1, 0.1), (0.1, 0.3), (0.3, 0.1), (0.3, 0.3)]


def ring_json(pts: list[tuple[float, float]]) -> dict[str, Any]:
    return {"normalizedVertices": [{"x": x, "y": y} for x, y in pts]}


def pixel_area(rings: list[list[tuple[float, float]]], w: int = W, h: int = H) -> float | None:
    rules = RuleSet.from_dict({"rule": [{"kind": "area", "job": "J", "max": 0, "unit": "pixels"}]})
    label = {
        "jsonResponse": {
            "J": {"annotations": [{"mid": "m", "boundingPoly": [ring_json(r) for r in rings]}]}
        },
        "resolution": {"width": w, "height": h},
    }
    issues = rules.validate(label)
    return issues[0].value if issues else 0.0


def kili_formats_area(pts: list[tuple[float, float]], w: int = W, h: int = H) -> float:
    """kili-formats' own area of one ring (make_valid, pieces summed), in pixels."""
    return float(coco._get_shoelace_area([x * w for x, _ in pts], [y * h for _, y in pts]))


def test_z_ordered_rectangle_area_is_kili_formats() -> None:
    assert kili_formats_area(Z_RECT) == pytest.approx(41_472)
    assert pixel_area([Z_RECT]) == pytest.approx(41_472, rel=1e-7)


def test_generated_bow_ties_match_kili_formats() -> None:
    rng = random.Random(5)
    compared = 0
    while compared < 300:
        n = rng.randint(4, 7)
        pts = [(rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95)) for _ in range(n)]
        if Polygon(pts).is_valid:
            continue  # only rings that cross themselves
        expected = kili_formats_area(pts)
        assert pixel_area([pts]) == pytest.approx(expected, rel=1e-6, abs=1e-3), pts
        compared += 1


def test_simple_rings_keep_the_shoelace_area() -> None:
    rng = random.Random(6)
    for _ in range(100):
        pts = [(rng.uniform(0, 1), rng.uniform(0, 1)) for _ in range(3)]
        assert pixel_area([pts]) == pytest.approx(kili_formats_area(pts), rel=1e-9, abs=1e-6)


def test_fixture_polygons_match_kili_formats() -> None:
    assets = load(KILI_SDK / "image_project_assets_for_coco.json")
    compared = 0
    for asset in assets:
        res = asset.get("resolution") or {"width": W, "height": H}
        w, h = res["width"], res["height"]
        for job in asset["latestLabel"]["jsonResponse"].values():
            for ann in job.get("annotations") or []:
                bp = ann.get("boundingPoly") or []
                rings = [[(v["x"], v["y"]) for v in r["normalizedVertices"]] for r in bp]
                if not rings or isinstance(bp[0], list) or len(rings[0]) < 3:
                    continue
                area, _, _ = coco._get_coco_geometry_from_kili_bpoly(bp, w, h, 0)
                # kili-formats rounds the outer ring's area to a whole pixel.
                assert pixel_area(rings, w, h) == pytest.approx(area, abs=0.5 + 1e-6)
                compared += 1
    assert compared > 0


def test_valid_polygon_names_the_crossing_of_a_zero_area_bow_tie() -> None:
    rules = RuleSet.from_dict({"rule": [{"kind": "valid_polygon", "job": "J"}]})
    (issue,) = rules.validate(
        {"J": {"annotations": [{"mid": "m", "boundingPoly": [ring_json(Z_RECT)]}]}}
    )
    # a crossing, not "no area": the annotator is told to redraw without crossing edges
    assert "crosses itself" in issue.text, issue.text
    assert "no area" not in issue.text


def test_inside_image_reports_the_largest_excess_on_opposite_sides() -> None:
    rules = RuleSet.from_dict({"rule": [{"kind": "inside_image", "job": "J"}]})
    for pts, value, edge in (
        ([(-0.05, 0.5), (1.3, 0.5), (0.5, 0.9)], 1.3, 1.0),
        ([(1.05, 0.5), (-0.3, 0.5), (0.5, 0.9)], -0.3, 0.0),
    ):
        (issue,) = rules.validate(
            {"J": {"annotations": [{"mid": "m", "boundingPoly": [ring_json(pts)]}]}}
        )
        assert (issue.value, issue.limit) == (value, edge), (pts, issue.text)
