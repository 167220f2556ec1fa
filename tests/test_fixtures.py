"""Every label fixture (tests/data/kili-shapes, written by tests/data/make_fixtures.py) parses,
through both readers, with the same result; the shapes the fixtures were written to have are
there (frames, parts sharing a mid, holes, pages)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, KILI_SDK, SEED, load
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
    # one box per frame from frame 4 to 12 (two tracks); frames 0-3 are empty
    assert [(i.frame, i.value) for i in issues] == [(f, 1) for f in range(4, 13)]
    # the assetLevel answer is read too, once, with no frame
    cls = RuleSet.from_dict({"rule": [{"kind": "count", "job": "CLASSIFICATION_JOB", "max": 0}]})
    (answer,) = cls.validate(assets[0])
    assert (answer.frame, answer.value) == (None, 1)


def test_semantic_parts_share_a_mid() -> None:
    case = load(KILI_SDK / "geospatial_test_case_13.json")
    rs = RuleSet.from_dict({"rule": [{"kind": "count", "job": "SEGMENTATION_JOB", "max": 0}]})
    # Two annotations share one mid: one object; the second part has three holes.
    parts = json.loads(case["json_response"])["SEGMENTATION_JOB"]["annotations"]
    assert len({p["mid"] for p in parts}) == 1
    assert [len(p["boundingPoly"]) for p in parts] == [1, 4]
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
    ratios = [round(y.value / x.value) for x, y in zip(a, b, strict=True)]  # type: ignore[operator]
    # two boxes on page 1 (595 x 842), one on page 2 (595 x 420)
    assert sorted(ratios) == sorted([595 * 420, 595 * 842, 595 * 842])
    assert set(ratios) == {round(p["width"] * p["height"]) for p in pages.values()}


def test_image_masks_in_parts_count_one_object_per_mid() -> None:
    assets = load(KILI_SDK / "image_project_assets_for_coco.json")
    rs = RuleSet.from_dict(
        {
            "rule": [
                {"kind": "count", "job": "OBJECT_DETECTION_JOB", "max": 0},
                {"kind": "count", "job": "OBJECT_DETECTION_JOB_0", "max": 0},
            ]
        }
    )
    parts, holes = 0, 0
    for a in assets:
        for job in a["latestLabel"]["jsonResponse"].values():
            parts += len(job["annotations"])
            holes += sum(len(ann["boundingPoly"]) - 1 for ann in job["annotations"])
    assert (parts, holes) == (11, 5)
    # 11 parts, but 5 objects: (car, tree), (road, lake), (roof)
    assert [[(i.job, i.value) for i in rs.validate(a)] for a in assets] == [
        [("OBJECT_DETECTION_JOB", 1), ("OBJECT_DETECTION_JOB_0", 1)],
        [("OBJECT_DETECTION_JOB", 2)],
        [("OBJECT_DETECTION_JOB_0", 1)],
    ]


def test_committed_fixtures_are_what_the_generator_writes() -> None:
    # The fixtures are the project's own: regenerating them must give the committed bytes.
    script = DATA / "make_fixtures.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
