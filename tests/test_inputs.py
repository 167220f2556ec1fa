"""The inputs users have, validated like the equivalent dicts: a pandas DataFrame from
``kili.assets(..., format="pandas")`` (each row a record) and kili's ``ParsedLabel`` objects
(``kili.labels(..., output_format="parsed_label")``, ``kili.assets(...,
label_output_format="parsed_label")``), with the real kili client against the emulator."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e

RULES = RuleSet.from_dict(
    {
        "rule": [
            {"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1},
            {"id": "cls", "kind": "required", "job": "CLASSIFICATION_JOB"},
            {"id": "px", "kind": "area", "job": "JOB_0", "unit": "pixels", "max": 50_000},
        ]
    }
)
# kili.labels() gives no resolution: these tests leave the pixel rule out.
LABEL_RULES = RuleSet.from_dict({"rule": RULES.rules[:2]})
INTERFACE = {
    "jobs": {
        "JOB_0": {
            "mlTask": "OBJECT_DETECTION",
            "tools": ["rectangle"],
            "required": 0,
            "isChild": False,
            "instruction": "boxes",
            "content": {
                "input": "radio",
                "categories": {"OBJECT_A": {"name": "A"}, "OBJECT_B": {"name": "B"}},
            },
        },
        "CLASSIFICATION_JOB": {
            "mlTask": "CLASSIFICATION",
            "required": 1,
            "isChild": False,
            "instruction": "class",
            "content": {"input": "radio", "categories": {"YES": {"name": "Yes"}}},
        },
    }
}


def box(mid: str, size: float = 0.1, category: str = "OBJECT_A") -> dict[str, Any]:
    pts = [(0.1, 0.1), (0.1, 0.1 + size), (0.1 + size, 0.1 + size), (0.1 + size, 0.1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": category}],
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in pts]}],
    }


LABELS = [
    {"JOB_0": {"annotations": [box("m1"), box("m2")]}},  # one-a, cls
    {
        "JOB_0": {"annotations": [box("m3", 0.5, "OBJECT_B")]},
        "CLASSIFICATION_JOB": {"categories": [{"name": "YES"}]},
    },  # px (where the resolution is known)
    {"CLASSIFICATION_JOB": {"categories": [{"name": "YES"}]}},  # clean
]


@pytest.fixture(scope="module")
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def project(emu: KiliEmulator) -> str:
    project_id = emu.add_project(json_interface=INTERFACE)
    emu.add_assets(
        project_id,
        [
            {"external_id": "x0", "labels": [LABELS[0]], "resolution": (1000, 1000)},
            {"external_id": "x1", "labels": [LABELS[1]], "resolution": (1000, 1000)},
            {"external_id": "x2", "labels": [LABELS[2]]},  # no resolution: a missing cell
            {"external_id": "x3"},  # not labeled: latestLabel is None
        ],
    )
    return project_id


@pytest.fixture()
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    return emu.kili_client()


ASSET_FIELDS = [
    "id",
    "externalId",
    "resolution.width",
    "resolution.height",
    "latestLabel.id",
    "latestLabel.jsonResponse",
]


def keys(report: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (r.asset_id, r.external_id, r.label_id, r.rule, r.mid, r.value, r.text) for r in report
    )


def same(a: Any, b: Any) -> None:
    assert keys(a) == keys(b)
    assert (a.labels, a.assets, a.invalid, a.unchecked) == (b.labels, b.assets, b.invalid, 0)


def test_pandas_dataframe_rows_are_records(project: str, kili: Any) -> None:
    import pandas as pd

    frame = kili.assets(project, fields=ASSET_FIELDS, format="pandas")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    dicts = RULES.validate_many(kili.assets(project, fields=ASSET_FIELDS))
    assert sorted(r.rule for r in dicts) == ["cls", "one-a", "px"]
    report = RULES.validate_many(frame)
    same(report, dicts)
    assert (report.labels, report.assets) == (3, 4)


def test_pandas_missing_cells_are_no_errors(project: str, kili: Any) -> None:
    import pandas as pd

    assets = kili.assets(project, fields=ASSET_FIELDS)
    # Frames joined or concatenated hold NaN where a record had no such key (x3: not labeled).
    frame = pd.concat([pd.DataFrame(assets[:3]), pd.DataFrame(assets[3:])[["id", "externalId"]]])
    frame["status"] = pd.Series([pd.NA, "LABELED", pd.NA, pd.NA], dtype="string").array
    frame["priority"] = [3, 2, 1, 0]  # an int64 column: numpy scalars
    frame["consensusMark"] = [0.5, float("nan"), 1.0, 0.25]
    cells = frame.iloc[3]
    assert isinstance(cells["resolution"], float) and math.isnan(cells["resolution"])
    assert isinstance(cells["latestLabel"], float) and math.isnan(cells["latestLabel"])
    report = RULES.validate_many(frame)
    assert not [r for r in report if r.kind in ("invalid_label", "unchecked")]
    same(report, RULES.validate_many(assets))
    assert (report.labels, report.assets) == (3, 4)
    # bare jsonResponses, one job missing from some rows
    bare = pd.DataFrame(LABELS)
    assert bare["CLASSIFICATION_JOB"].isna().any()
    by_row = RULES.validate_many(bare)
    assert keys(by_row) == keys(RULES.validate_many(LABELS)) and by_row.labels == 3


def test_pandas_missing_json_response_is_unchecked() -> None:
    import pandas as pd

    labels = [
        {"id": "l1", "labelOf": {"id": "a1"}, "jsonResponse": LABELS[2]},
        {"id": "l2", "labelOf": {"id": "a2"}},
    ]
    report = RULES.validate_many(pd.DataFrame(labels))
    assert (report.labels, report.unchecked) == (1, 1)
    assert [(r.asset_id, r.kind) for r in report] == [("a2", "unchecked")]


def test_parsed_labels_from_kili_labels(project: str, kili: Any) -> None:
    from kili.utils.labels.parsing import ParsedLabel

    fields = ["id", "labelOf.id", "labelOf.externalId", "jsonResponse"]
    parsed = kili.labels(project, fields=fields, output_format="parsed_label")
    assert parsed and all(isinstance(p, ParsedLabel) for p in parsed)
    assert all("jsonResponse" not in p for p in parsed)  # the SDK keeps it in .jobs
    plain = kili.labels(project, fields=fields)
    report = LABEL_RULES.validate_many(parsed)
    same(report, LABEL_RULES.validate_many(plain))
    assert sorted(r.rule for r in report) == ["cls", "one-a"]
    # the asset comes from labelOf: the first asset's label breaks both rules
    first = emu_asset_ids(kili, project)[0]
    assert {(r.asset_id, r.external_id) for r in report} == {(first, "x0")}
    # one label at a time too
    assert sorted(i.rule for p in parsed for i in LABEL_RULES.validate(p)) == ["cls", "one-a"]
    assert LABEL_RULES.decide(parsed[0]).issues


def emu_asset_ids(kili: Any, project: str) -> list[str]:
    return [a["id"] for a in kili.assets(project, fields=["id"])]


def test_assets_with_parsed_labels(project: str, kili: Any) -> None:
    fields = [*ASSET_FIELDS, "labels.id", "labels.jsonResponse"]
    parsed = kili.assets(project, fields=fields, label_output_format="parsed_label")
    held = [a["latestLabel"] for a in parsed if a["latestLabel"] is not None]
    assert held and all(type(h).__name__ == "ParsedLabel" for h in held)
    report = RULES.validate_many(parsed)
    same(report, RULES.validate_many(kili.assets(project, fields=fields)))
    # latestLabel and labels both hold the one label of each asset: checked twice, as dicts are
    assert report.labels == 6


def test_parsed_label_built_with_kilis_constructor(
    project: str, kili: Any, emu: KiliEmulator
) -> None:
    from kili.utils.labels.parsing import ParsedLabel

    (label,) = kili.labels(project, fields=["id", "jsonResponse"], first=1)
    parsed = ParsedLabel(label, json_interface=INTERFACE, input_type="IMAGE")
    assert [i.rule for i in LABEL_RULES.validate(parsed)] == [
        i.rule for i in LABEL_RULES.validate(label)
    ]
    # as JSON text it is the plain label too
    assert LABEL_RULES.validate(json.dumps(parsed.to_dict())) == LABEL_RULES.validate(label)
