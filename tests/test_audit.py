"""`kili-rules audit` against the emulator: output, exit codes, filters, API failures."""

from __future__ import annotations

import json
import subprocess
import sys
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


def box(mid: str, x: float) -> dict[str, Any]:
    points = [(x, 0.1), (x, 0.2), (x + 0.1, 0.2), (x + 0.1, 0.1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "OBJECT_A"}],
        "boundingPoly": [{"normalizedVertices": [{"x": a, "y": b} for a, b in points]}],
    }


ONE = {"JOB_0": {"annotations": [box("a", 0.1)]}}
TWO = {"JOB_0": {"annotations": [box("a", 0.1), box("b", 0.5)]}}


@pytest.fixture(scope="module")
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture()
def env(emu: KiliEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    monkeypatch.setenv("AUDIT_KEY", emu.api_key)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    return rules


def audit(emu: KiliEmulator, rules: Path, project: str, *extra: str) -> int:
    argv = ["audit", "--project", project, "--rules", str(rules), "--api-key-env", "AUDIT_KEY"]
    return main([*argv, "--api-endpoint", emu.endpoint, "--no-progress", *extra])


def test_clean_project_exits_0(emu: KiliEmulator, env: Path, capsys: Any) -> None:
    project = emu.add_project()
    emu.add_assets(project, [{"labels": [ONE]}] * 3)
    assert audit(emu, env, project, "--format", "json") == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["labels"] == 3 and summary["issues"] == 0 and summary["ok"]


def test_violations_exit_1_and_filters_apply(
    emu: KiliEmulator, env: Path, capsys: Any, tmp_path: Path
) -> None:
    project = emu.add_project()
    ids = emu.add_assets(project, [{"labels": [TWO]}, {"labels": [TWO], "status": "REVIEWED"}])
    out = tmp_path / "report.jsonl"
    assert audit(emu, env, project, "--output", str(out)) == 1
    assert {json.loads(line)["asset_id"] for line in out.read_text().splitlines()} == set(ids)
    assert "report written to" in capsys.readouterr().err
    assert audit(emu, env, project, "--status", "REVIEWED", "--format", "jsonl") == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["asset_id"] for r in rows] == [ids[1]]
    # nothing read proves nothing: exit 2 as `check` on an empty export, unless accepted
    assert audit(emu, env, project, "--since", "2999-01-01", "--format", "json") == 2
    assert "no label was read in project " + project in capsys.readouterr().err
    empty = ("--since", "2999-01-01", "--allow-empty", "--format", "json")
    assert audit(emu, env, project, *empty) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["labels"] == 0
    assert audit(emu, env, project, "--fail-on", "never") == 0


def test_unchecked_label_fails_the_audit(emu: KiliEmulator, env: Path, capsys: Any) -> None:
    project = emu.add_project()
    emu.add_assets(project, [{"labels": [ONE]}, {"labels": [None]}])
    assert audit(emu, env, project, "--format", "jsonl") == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in rows] == ["unchecked"]


def test_usage_and_api_errors_exit_2(emu: KiliEmulator, env: Path, capsys: Any) -> None:
    project = emu.add_project()
    emu.add_assets(project, [{"labels": [ONE]}])
    assert audit(emu, env, project, "--since", "last week") == 2
    assert "since: 'last week'" in capsys.readouterr().err
    assert audit(emu, env, project, "--concurrency", "0") == 2
    assert "concurrency" in capsys.readouterr().err
    emu.inject_fault("countAssets", "refuse", calls=2)  # retried, then a refused filter
    assert audit(emu, env, project, "--status", "NOT_A_STATUS") == 2
    err = capsys.readouterr().err
    assert "Kili API: countAssets" in err and "NOT_A_STATUS" in err
    argv = ["audit", "--project", project, "--rules", str(env), "--api-key-env", "NO_SUCH_VAR"]
    assert main(argv) == 2
    assert "NO_SUCH_VAR" in capsys.readouterr().err


def test_dry_run_then_apply_then_nothing_left(emu: KiliEmulator, env: Path, capsys: Any) -> None:
    project = emu.add_project()
    bad, fine = emu.add_assets(project, [{"labels": [TWO]}, {"labels": [ONE]}])
    assert audit(emu, env, project, "--apply", "--dry-run", "--format", "json") == 1
    assert "dry run" in capsys.readouterr().err.lower()
    assert emu.issues(project) == [] and emu.sent_back == []  # a dry run changes nothing
    assert audit(emu, env, project, "--apply", "--format", "json") == 1
    capsys.readouterr()
    issues = emu.issues(project)
    assert [i["assetId"] for i in issues] == [bad] and issues[0]["status"] == "OPEN"
    assert bad in emu.sent_back and fine not in emu.sent_back
    assert audit(emu, env, project, "--apply", "--format", "json") == 1  # again: no change
    assert len(emu.issues(project)) == 1


def test_apply_prints_a_summary_the_list_on_demand_and_all_of_it_as_json(
    emu: KiliEmulator, env: Path, capsys: Any, tmp_path: Path
) -> None:
    project = emu.add_project()
    bad = emu.add_assets(project, [{"labels": [TWO]} for _ in range(12)])
    log = tmp_path / "changes.json"
    args = ("--apply", "--dry-run", "--format", "json")
    assert audit(emu, env, project, *args, "--apply-log", str(log)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    # One headline of counts, not one line per change.
    # the bounce cap (on by default) counts each send-back in the metadata
    assert err == [f"dry run: 12 create_issue, 12 send_back, 12 metadata on project {project}"], err
    changes = json.loads(log.read_text())["changes"]
    assert len(changes) == 36 and {c["asset_id"] for c in changes} == set(bad)
    assert audit(emu, env, project, *args, "--verbose") == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 37
    assert audit(emu, env, project, *args, "--quiet") == 1
    assert capsys.readouterr().err.strip() == ""
    assert audit(emu, env, project, "--quiet") == 2  # without --apply it describes nothing
    assert "--apply" in capsys.readouterr().err


def test_audit_as_a_process(emu: KiliEmulator, env: Path) -> None:
    project = emu.add_project()
    emu.add_assets(project, [{"labels": [TWO]}])
    argv = ["audit", "--project", project, "--rules", str(env), "--api-key-env", "AUDIT_KEY"]
    done = subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *argv, "--api-endpoint", emu.endpoint],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "one-a" in done.stdout


def page_parts(page: str) -> dict[str, Any]:
    """What a report page shows: the issues table's columns, its charts, drawings, rates."""
    import re

    table = page.split('id="kr-issues"', 1)[1].split("</thead>", 1)[0]
    return {
        "columns": re.findall(r"<th>([^<]*)</th>", table),
        "charts": sorted(re.findall(r'<svg class="kr-chart ([\w-]+)"', page)),
        "drawings": page.count('<svg class="kr-drawing"'),
        "hits": page.count('class="kr-hit"'),
        "pass rate": re.findall(r"Pass rate: <b>([^<]*)</b>", page),
        "per labeler": re.findall(
            r'<tr><td>([^<]*@example.com)</td><td class="num">([^<]*)<', page
        ),
        "not drawn": "given as an iterator" in page,
    }


def test_the_audit_report_is_the_export_report(
    emu: KiliEmulator, env: Path, tmp_path: Path, capsys: Any
) -> None:
    from kili.client import Kili

    project = emu.add_project()
    records = [
        {"external_id": f"img{i}.jpg", "resolution": (1920, 1080), "status": "LABELED",
         "labels": [{"json_response": TWO if i % 3 == 0 else ONE, "author_id": who}]}
        for i, who in enumerate(["ann", "bob", "ann", "bob", "ann", "ann"])
    ]  # fmt: skip
    emu.add_assets(project, records)
    audited = tmp_path / "audit.html"
    assert audit(emu, env, project, "--output", str(audited)) == 1
    kili = Kili(api_key=emu.api_key, api_endpoint=emu.endpoint)
    export = tmp_path / "export.zip"
    kili.export_labels(project_id=project, filename=str(export), fmt="kili", with_assets=False)
    checked = tmp_path / "export.html"
    argv = ["check", str(export), "--rules", str(env), "--project", project, "--no-progress"]
    assert main([*argv, "--output", str(checked)]) == 1
    capsys.readouterr()
    ours, theirs = page_parts(audited.read_text()), page_parts(checked.read_text())
    # Every column of the export's report, in its order (the audit adds the label id, which
    # the SDK's kili export leaves out); every chart, drawing and rate the same.
    assert [c for c in ours["columns"] if c in theirs["columns"]] == theirs["columns"]
    assert set(ours["columns"]) - set(theirs["columns"]) == {"label"}
    for key in ours.keys() - {"columns"}:
        assert ours[key] == theirs[key], (key, ours[key], theirs[key])
    # And what they both show: the label columns, four charts, the two labels drawn (1920x1080
    # resolution), the pass rate overall and per labeler (img0 and img3: ann and bob fail one).
    assert {"labeler", "label date", "asset status", "label type", "message"} <= set(
        ours["columns"]
    )
    assert ours["charts"] == ["kr-per-category", "kr-per-labeler", "kr-per-rule", "kr-timeline"]
    assert ours["drawings"] == 2 and ours["hits"] == 4 and not ours["not drawn"]
    assert ours["pass rate"] == ["66.7% (4 of 6)"]
    assert ours["per labeler"] == [("ann@example.com", "75.0% (3 of 4)"),
                                   ("bob@example.com", "50.0% (1 of 2)")]  # fmt: skip


def test_the_audit_message_column_is_on_screen_at_1400_px(
    emu: KiliEmulator, env: Path, tmp_path: Path
) -> None:
    from test_report_browser import probe_cell

    project = emu.add_project()
    emu.add_assets(project, [{"labels": [{"json_response": TWO, "author_id": "ann"}]}])
    page = tmp_path / "audit.html"
    assert audit(emu, env, project, "--output", str(page)) == 1
    cell = probe_cell(page, tmp_path, 1400)
    assert cell["width"] == 1400
    assert 0 <= cell["left"] < cell["right"] <= 1400, cell
    assert 0 <= cell["cellLeft"] < cell["cellRight"] <= 1400, cell


def test_audit_baseline_flags_a_rule_whose_rate_moved(
    emu: KiliEmulator, env: Path, tmp_path: Path
) -> None:
    project = emu.add_project()
    emu.add_assets(project, [{"labels": [TWO]}, {"labels": [ONE]}])
    baseline = tmp_path / "baseline.json"
    # the earlier run: 10 labels, none flagged
    baseline.write_text(json.dumps({"summary": {"labels": 10, "by_rule": []}, "rows": []}))
    argv = ["audit", "--project", project, "--rules", str(env), "--api-key-env", "AUDIT_KEY"]
    done = subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *argv, "--api-endpoint", emu.endpoint,
         "--format", "json", "--baseline", str(baseline)],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    trends = json.loads(done.stdout)["summary"]["trends"]
    assert [(t["rule"], t["before"], t["after"], t["flagged"]) for t in trends] == [
        ("one-a", 0.0, 0.5, True)
    ]
    assert "rule one-a: 50.0% of the labels, was 0.0%" in done.stderr
