"""`kili-rules audit` on a Kili that misbehaves while paging: the exit code never says clean
about assets it did not read. The CLI in process, the real kili client, the emulator's faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules.cli import main
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e

RULES = """
[[rule]]
id = "one-a"
kind = "count"
job = "JOB_0"
category = "OBJECT_A"
max = 1
"""


def box(mid: str) -> dict[str, Any]:
    points = [(0.1, 0.1), (0.1, 0.2), (0.2, 0.2), (0.2, 0.1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "OBJECT_A"}],
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in points]}],
    }


CLEAN = {"JOB_0": {"annotations": [box("a")]}}
BAD = {"JOB_0": {"annotations": [box("a"), box("b")]}}


@pytest.fixture()
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture()
def rules(emu: KiliEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    monkeypatch.setenv("AUDIT_KEY", emu.api_key)
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    return path


def audit(emu: KiliEmulator, rules: Path, project: str) -> int:
    argv = ["audit", "--project", project, "--rules", str(rules), "--api-key-env", "AUDIT_KEY"]
    return main([*argv, "--api-endpoint", emu.endpoint, "--no-progress", "--format", "jsonl"])


def rows(capsys: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_a_count_that_lies_low_fails_the_audit(emu: KiliEmulator, rules: Path, capsys: Any) -> None:
    project = emu.add_project()
    emu.add_assets(project, [{"labels": [CLEAN]} for _ in range(250)])
    emu.inject_count_fault(-50, calls=None)  # every countAssets: 50 fewer than Kili holds
    assert audit(emu, rules, project) == 1, "a total that lied was audited clean"
    assert [r["kind"] for r in rows(capsys)] == ["unchecked"]


def test_a_page_served_twice_still_finds_the_bad_assets(
    emu: KiliEmulator, rules: Path, capsys: Any
) -> None:
    project = emu.add_project()
    ids = emu.add_assets(
        project, [{"labels": [CLEAN]} for _ in range(200)] + [{"labels": [BAD]} for _ in range(5)]
    )
    emu.inject_page_fault(200, serve_skip=0)  # the page holding the bad assets never comes
    assert audit(emu, rules, project) == 1
    assert {r["asset_id"] for r in rows(capsys) if r["rule"] == "one-a"} == set(ids[200:])


def test_a_429_with_retry_after_is_waited_out(emu: KiliEmulator, rules: Path, capsys: Any) -> None:
    project = emu.add_project()
    ids = emu.add_assets(project, [{"labels": [BAD]}, {"labels": [CLEAN]}])
    emu.inject_fault("assets", "http", status=429, retry_after=3, calls=1)
    t0 = time.monotonic()
    assert audit(emu, rules, project) == 1
    assert time.monotonic() - t0 >= 3, "Retry-After was not honoured"
    assert {r["asset_id"] for r in rows(capsys) if r["rule"] == "one-a"} == {ids[0]}


def test_a_create_issues_that_stores_less_fails_the_apply_exit(
    emu: KiliEmulator, rules: Path, capsys: Any
) -> None:
    project = emu.add_project()
    emu.add_assets(project, [{"labels": [BAD]} for _ in range(3)])
    emu.inject_lost_write("createIssues", drop=1)  # answers 3 created, keeps 2
    argv = ["audit", "--project", project, "--rules", str(rules), "--api-key-env", "AUDIT_KEY"]
    code = main([*argv, "--api-endpoint", emu.endpoint, "--no-progress", "--apply"])
    assert code == 2, "an apply whose creation did not land exited as a success"
    assert "missing" in capsys.readouterr().err
    assert len(emu.issues(project, status="OPEN")) == 2
