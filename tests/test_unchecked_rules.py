"""What the labeler cannot fix is not the labeler's problem (issue 17, point 6): a rule whose
needs the asset lacks (a pixel rule on an asset of unknown size) is ``unchecked`` for that label,
reported and counted, never clean, while the other rules still run; it makes no issue and no
send-back. Tested from a dict, JSON bytes, a batch and an export, and with the real kili client
against the emulator."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet

CONFIG: dict[str, Any] = {
    "rule": [
        {"id": "box-px", "kind": "area", "job": "JOB_0", "max": 3000, "unit": "pixels"},
        {"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1},
    ]
}
RULES = RuleSet.from_dict(CONFIG)
LOG = logging.getLogger("kili_rules.tests.unchecked_rules")


def box(mid: str, category: str = "OBJECT_A", size: float = 0.6) -> dict[str, Any]:
    x0, y0, x1, y1 = 0.1, 0.1, 0.1 + size, 0.1 + size
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": category}],
        "boundingPoly": [
            {
                "normalizedVertices": [
                    {"x": x0, "y": y1},
                    {"x": x0, "y": y0},
                    {"x": x1, "y": y0},
                    {"x": x1, "y": y1},
                ]
            }
        ],
    }


def response(*boxes: dict[str, Any]) -> dict[str, Any]:
    return {"JOB_0": {"annotations": list(boxes)}}


TWO_A = response(box("a1"), box("a2"))
ONE_A = response(box("a1"))


def keys(rows: Any) -> list[tuple[str, str, str | None]]:
    return sorted((r.rule, r.kind, r.mid) for r in rows)


EXPECTED_TWO_A = [("box-px", "unchecked", None), ("one-a", "count", None)]


def test_a_label_without_resolution_runs_the_other_rules_from_a_dict_and_bytes() -> None:
    for given in (TWO_A, json.dumps(TWO_A), json.dumps(TWO_A).encode()):
        issues = RULES.validate(given)
        assert keys(issues) == EXPECTED_TWO_A
        (skipped,) = [i for i in issues if i.kind == "unchecked"]
        assert skipped.severity == "error"  # never clean
        assert "box-px" in skipped.text and "resolution" in skipped.text


def test_with_the_resolution_the_pixel_rule_judges() -> None:
    # 0.6 x 0.6 of a 100 x 100 image: 3600 px² > 3000
    sized = {"resolution": {"width": 100, "height": 100}, **ONE_A}
    assert keys(RULES.validate(sized)) == [("box-px", "area", "a1")]


def test_a_batch_and_an_export_count_it_and_never_pass(tmp_path: Path) -> None:
    records = [
        {"id": "l1", "jsonResponse": TWO_A, "labelOf": {"id": "asset-1"}},
        {"id": "l2", "jsonResponse": ONE_A, "labelOf": {"id": "asset-2"}},
    ]
    report = RULES.validate_many(records, progress=False)
    assert report.labels == 2 and report.invalid == 0
    assert keys(report) == sorted([*EXPECTED_TWO_A, ("box-px", "unchecked", None)])
    assert not report.ok  # two labels were not fully checked

    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        for i, json_response in enumerate((TWO_A, ONE_A)):
            asset = {"id": f"asset-{i}", "externalId": f"x{i}.jpg"}
            asset["latestLabel"] = {"jsonResponse": json_response}
            zf.writestr(f"labels/x{i}.json", json.dumps(asset))
    from_export = RULES.validate_export(export)
    assert keys(from_export) == keys(report)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(CONFIG))
    done = subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", "check", str(export), "--rules", str(rules)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "unchecked" in done.stdout


kili_mod = pytest.importorskip("kili")

from kili_rules.kili.effects import MemorySteps  # noqa: E402
from kili_rules.kili.plugin import handle_label  # noqa: E402
from kili_rules.testing import KiliEmulator  # noqa: E402


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


def test_with_the_real_client_no_issue_no_send_back_for_the_unchecked_rule(
    emu: KiliEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    kili = emu.kili_client(timeout=1.0)
    project = emu.add_project()
    only_unchecked = emu.add_asset(project)  # no resolution
    with_count = emu.add_asset(project)
    one = {"id": emu.add_label(only_unchecked, ONE_A), "jsonResponse": ONE_A}
    two = {"id": emu.add_label(with_count, TWO_A), "jsonResponse": TWO_A}

    with caplog.at_level(logging.WARNING, logger=LOG.name):
        first = handle_label(
            kili, RULES, project, only_unchecked, one, logger=LOG, steps=MemorySteps()
        )
    assert first.error is None and first.invalid is None
    assert first.outcome == "pass" and first.issues == () and not first.sent_back
    assert [(i.rule, i.kind) for i in first.unchecked] == [("box-px", "unchecked")]
    assert emu.issues(project) == [] and emu.sent_back == []
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("box-px" in m and "resolution" in m for m in warned), warned

    second = handle_label(kili, RULES, project, with_count, two, logger=LOG, steps=MemorySteps())
    assert second.sent_back and [i.rule for i in second.issues] == ["one-a"]
    texts = [i["text"] for i in emu.issues(project)]
    assert len(texts) == 1 and "resolution" not in texts[0]
    assert emu.sent_back == [with_count]

    # the audit of the project says the same: counted, not ok, not applied as an issue
    report = RULES.validate_project(kili, project)
    assert keys(report) == sorted([*EXPECTED_TWO_A, ("box-px", "unchecked", None)])
    assert not report.ok
