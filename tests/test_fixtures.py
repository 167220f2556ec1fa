"""Every real Kili fixture parses, through both readers, with the same result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import KILI_SDK, SEED, load
from kili_rules import RuleSet
from kili_rules._native import _read_model

FILES = [
    *sorted(KILI_SDK.glob("*.json")),
    SEED / "json_response_three_boxes.json",
    SEED / "json_response_one_box.json",
]

EVERYTHING = RuleSet.from_dict(
    {
        "rule": [
            {"kind": "count", "job": job, "max": 0}
            for job in [
                "JOB_0",
                "OBJECT_DETECTION_JOB",
                "CLASSIFICATION_JOB",
                "SEGMENTATION_JOB",
                "POLYGON_DETECTION_JOB",
                "BBOX_DETECTION_JOB",
                "POINT_DETECTION_JOB",
                "LINE_DETECTION_JOB",
            ]
        ]
        + [
            {"kind": "valid_polygon", "job": "SEGMENTATION_JOB"},
            {"kind": "inside_image", "job": "JOB_0"},
        ]
    }
)


def documents(path: Path) -> list[Any]:
    data = load(path)
    items = data if isinstance(data, list) else [data]
    out = []
    for it in items:
        if isinstance(it, dict) and "json_response" in it:  # test_case_13: a jsonResponse string
            out.append({"id": "label-13", "jsonResponse": it["json_response"]})
        else:
            out.append(it)
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_both_readers_build_the_same_model(path: Path) -> None:
    for doc in documents(path):
        from_dict = _read_model(doc, False)
        from_json = _read_model(json.dumps(doc), True)
        assert from_dict == from_json
        assert "objects: [" in from_dict


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_validate_agrees_across_input_forms(path: Path) -> None:
    for doc in documents(path):
        a = EVERYTHING.validate(doc)
        b = EVERYTHING.validate(json.dumps(doc))
        c = EVERYTHING.validate(json.dumps(doc).encode())
        assert a == b == c
        many = EVERYTHING.validate_many([doc, json.dumps(doc)])
        assert [r.text for r in many] == [i.text for i in a] * 2


def test_video_frames_and_counts() -> None:
    assets = load(KILI_SDK / "video_project_assets.json")
    rs = RuleSet.from_dict({"rule": [{"kind": "count", "job": "OBJECT_DETECTION_JOB", "max": 0}]})
    issues = rs.validate(assets[0])
    frames = [i.frame for i in issues]
    assert frames and all(isinstance(f, int) for f in frames)
    assert frames == sorted(frames)


def test_semantic_parts_share_a_mid() -> None:
    case = load(KILI_SDK / "geospatial_test_case_13.json")
    rs = RuleSet.from_dict({"rule": [{"kind": "count", "job": "SEGMENTATION_JOB", "max": 0}]})
    # Two annotations share one mid: one object.
    (issue,) = rs.validate(case["json_response"])
    assert issue.value == 1


def test_pdf_pixel_area_uses_page_resolutions() -> None:
    assets = load(KILI_SDK / "pdf_project_assets.json")
    norm = RuleSet.from_dict({"rule": [{"kind": "area", "job": "OBJECT_DETECTION_JOB", "max": 0}]})
    pix = RuleSet.from_dict(
        {"rule": [{"kind": "area", "job": "OBJECT_DETECTION_JOB", "max": 0, "unit": "pixels"}]}
    )
    a, b = norm.validate(assets[0]), pix.validate(assets[0])
    assert len(a) == len(b) > 0
    pages = {p["pageNumber"]: p for p in assets[0]["pageResolutions"]}
    ratios = {round(y.value / x.value) for x, y in zip(a, b, strict=True)}  # type: ignore[operator]
    assert ratios <= {round(p["width"] * p["height"]) for p in pages.values()}
