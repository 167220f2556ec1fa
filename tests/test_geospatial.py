"""Geospatial labels: lon/lat degrees are not normalized image coordinates, so ``inside_image``
judges them only against explicit bounds (``min_x``, ``min_y``, ``max_x``, ``max_y``).

Fixtures of tests/data/kili-shapes: a GeoTIFF export record and a GEOSPATIAL API record
(jsonContent list, jsonResponse as JSON text); constructed ones for the API's jsonContent
text, the southern and western hemispheres, and the cases that stay normalized."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import KILI_SDK, load
from kili_rules import RulesError, RuleSet
from kili_rules.rules import InsideImage

JOBS = [
    "BBOX_DETECTION_JOB",
    "POINT_DETECTION_JOB",
    "POLYGON_DETECTION_JOB",
    "LINE_DETECTION_JOB",
    "SEGMENTATION_JOB",
]
PLAIN = RuleSet([InsideImage(job=j) for j in JOBS])
# The area the fixtures cover (their jsonContent bounds), in degrees.
AREA = {"min_x": 4.3235, "max_x": 4.4729, "min_y": 52.1668, "max_y": 52.2587}


def fixture_assets() -> list[dict[str, Any]]:
    geotiff = load(KILI_SDK / "geotiff_image_project_assets.json")
    case_13 = load(KILI_SDK / "geospatial_test_case_13.json")["assets"]
    return [*geotiff, *case_13]


def forms(items: list[dict[str, Any]]) -> list[list[object]]:
    return [list(items), [json.dumps(i) for i in items]]


@pytest.mark.parametrize("as_json", [False, True])
def test_lonlat_fixtures_are_not_judged_against_the_unit_square(as_json: bool) -> None:
    items = forms(fixture_assets())[as_json]
    report = PLAIN.validate_many(items)
    assert report.labels == 2 and report.invalid == 0
    assert list(report) == []  # every coordinate is ~4.4, ~52.2: [0, 1] does not apply
    for item in items:
        assert PLAIN.validate(item) == []


@pytest.mark.parametrize("as_json", [False, True])
def test_lonlat_fixtures_against_explicit_bounds(as_json: bool) -> None:
    items = forms(fixture_assets())[as_json]
    inside = RuleSet([InsideImage(job=j, **AREA) for j in JOBS])
    assert list(inside.validate_many(items)) == []
    # Cut the area at longitude 4.40: the objects east of it are reported, with the excess.
    cut = {**AREA, "max_x": 4.40}
    rules = RuleSet([InsideImage(job=j, **cut) for j in JOBS])
    rows = list(rules.validate_many(items))
    assert rows and all(r.limit == 4.40 and r.value is not None and r.value > 4.40 for r in rows)
    assert all("outside the allowed area" in r.text for r in rows)
    # every object with a vertex east of 4.40 is there, and only those
    expected = set()
    for asset in fixture_assets():
        response = asset["latestLabel"]["jsonResponse"]
        if isinstance(response, str):
            response = json.loads(response)
        for job, value in response.items():
            for a in value.get("annotations", []):
                xs = [float(v) for v in _xs(a)]
                if max(xs) > 4.40 + 1e-6:
                    expected.add((asset["id"], job, str(a["mid"])))
    assert {(r.asset_id, r.job, r.mid) for r in rows} == expected


def _xs(node: object) -> list[float]:
    if isinstance(node, dict):
        found = [node["x"]] if "x" in node and "y" in node else []
        return found + [x for v in node.values() for x in _xs(v)]
    if isinstance(node, list):
        return [x for v in node for x in _xs(v)]
    return []


def geo_asset(json_content: object, points: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "id": "a1",
        "jsonContent": json_content,
        "latestLabel": {
            "id": "l1",
            "jsonResponse": {
                "POLYGON_DETECTION_JOB": {
                    "annotations": [
                        {
                            "mid": "p1",
                            "type": "polygon",
                            "categories": [{"name": "A"}],
                            "boundingPoly": [
                                {"normalizedVertices": [{"x": x, "y": y} for x, y in points]}
                            ],
                        }
                    ]
                }
            },
        },
    }


SANTIAGO = [(-70.70, -33.50), (-70.60, -33.50), (-70.60, -33.40)]
LAYER = {"epsg": "EPSG4326", "initEpsg": 4326, "useClassicCoordinates": False}


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("content", ["list", "api-text"])
def test_southern_western_hemisphere(as_json: bool, content: str) -> None:
    # kili.assets() returns jsonContent as the JSON text the API sends; exports hold the list.
    json_content: object = [LAYER] if content == "list" else json.dumps([LAYER])
    item: object = geo_asset(json_content, SANTIAGO)
    if as_json:
        item = json.dumps(item)
    assert PLAIN.validate_many([item]).rows == []
    box = {"min_x": -71.0, "max_x": -70.5, "min_y": -34.0, "max_y": -33.0}
    assert RuleSet([InsideImage(job="POLYGON_DETECTION_JOB", **box)]).validate(item) == []
    narrow = {**box, "max_y": -33.45}  # -33.40 is north of it by 0.05
    (issue,) = RuleSet([InsideImage(job="POLYGON_DETECTION_JOB", **narrow)]).validate(item)
    assert (issue.mid, issue.value, issue.limit) == ("p1", -33.40, -33.45)


@pytest.mark.parametrize(
    "json_content",
    [
        None,  # no jsonContent: an image
        [{**LAYER, "useClassicCoordinates": True}],  # a GeoTIFF labeled in image coordinates
        [{**LAYER, "epsg": "TiledImage"}],  # a tiled image, not geo-referenced
        "https://storage.example/content.json",  # a URL: nothing says lon/lat
        "",
    ],
)
def test_normalized_coordinates_stay_judged(json_content: object) -> None:
    item = geo_asset(json_content, [(0.1, 0.1), (1.2, 0.1), (0.1, 0.3)])
    if json_content is None:
        del item["jsonContent"]
    for form in (item, json.dumps(item)):
        (issue,) = PLAIN.validate(form)
        assert (issue.mid, issue.value, issue.limit) == ("p1", 1.2, 1.0)
        assert "outside the image" in issue.text


def test_a_bare_lonlat_response_needs_its_asset_or_bounds() -> None:
    # A bare jsonResponse cannot say its coordinates are degrees: it is judged as an image,
    # and wrapped in its asset record (jsonContent) it is not.
    response = load(KILI_SDK / "geojson_tutorial_kili_label.json")
    assert len(PLAIN.validate(response)) > 0
    record = {
        "id": "a1",
        "jsonContent": json.dumps([LAYER]),
        "latestLabel": {"id": "l1", "jsonResponse": response},
    }
    assert PLAIN.validate(record) == []
    wide = RuleSet([InsideImage(job=j, min_x=4.0, max_x=5.0, min_y=52.0, max_y=53.0) for j in JOBS])
    assert wide.validate(response) == []


def test_bounds_are_all_four_and_ordered() -> None:
    with pytest.raises(RulesError, match="max_y: explicit bounds need all four"):
        RuleSet([InsideImage(job="J", min_x=0.0, min_y=0.0, max_x=1.0)])
    with pytest.raises(RulesError, match=r"min_x: min_x \(5\) is above max_x \(4\)"):
        RuleSet([InsideImage(job="J", min_x=5.0, min_y=0.0, max_x=4.0, max_y=1.0)])
    schema = RuleSet.json_schema()
    (variant,) = [
        v for v in schema["properties"]["rule"]["items"]["oneOf"] if v["title"] == "inside_image"
    ]
    assert variant["properties"]["min_x"]["type"] == "number"
    assert "minimum" not in variant["properties"]["min_x"]  # degrees west and south are < 0
