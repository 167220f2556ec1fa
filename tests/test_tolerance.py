"""Tolerances: a rule's ``max_fraction`` decides the verdict of a batch, not its rows.

A ``count`` rule (at most one CAR per label) runs over 100 generated labels, some with two
cars. Within the tolerance the run passes (exit code 0, headline OK) and every breaking label
still has its row; past it the run fails. One label alone is judged without the tolerance.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from kili_rules import Report, RulesError, RuleSet
from kili_rules.dask import ShardedResult

RULES = """
[[rule]]
id = "one-car"
kind = "count"
job = "DET"
category = "CAR"
max = 1
max_fraction = {fraction}
"""


def box(mid: str) -> dict[str, Any]:
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "CAR"}],
        "boundingPoly": [
            {
                "normalizedVertices": [
                    {"x": 0.1, "y": 0.1},
                    {"x": 0.1, "y": 0.2},
                    {"x": 0.2, "y": 0.2},
                    {"x": 0.2, "y": 0.1},
                ]
            }
        ],
    }


def records(n: int, breaking: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        cars = [box(f"m{i}-0")] + ([box(f"m{i}-1")] if i < breaking else [])
        out.append(
            {
                "id": f"a{i}",
                "externalId": f"e{i}",
                "latestLabel": {"id": f"l{i}", "jsonResponse": {"DET": {"annotations": cars}}},
            }
        )
    return out


def ruleset(fraction: float) -> RuleSet:
    return RuleSet.from_toml(RULES.format(fraction=fraction))


@pytest.mark.parametrize(("breaking", "passes"), [(0, True), (3, True), (5, True), (6, False)])
def test_the_verdict_follows_the_tolerance(breaking: int, passes: bool) -> None:
    report = ruleset(0.05).validate_many(records(100, breaking), threads=1)
    assert len(report) == breaking  # every breaking label keeps its row
    assert report.ok is passes
    assert report.exit_code() == (0 if passes else 1)
    [status] = report.tolerance_status()
    assert status == {
        "rule": "one-car",
        "max_fraction": 0.05,
        "labels": 100,
        "breaking": breaking,
        "fraction": breaking / 100,
        "within": passes,
    }
    from kili_rules.report.text import headline

    line = headline(report)
    assert line.startswith("OK" if passes else "FAILED"), line
    if breaking:
        side = "within" if passes else "over"
        assert f"one-car: {breaking}% of 100 labels, {side} the 5% tolerance" in line, line


def test_without_a_tolerance_one_breaking_label_fails_the_run() -> None:
    rules = RuleSet.from_toml(RULES.replace("max_fraction = {fraction}\n", ""))
    assert rules.tolerances == {}
    report = rules.validate_many(records(100, 1), threads=1)
    assert not report.ok
    assert report.tolerance_status() == []


def test_one_label_alone_is_judged_without_the_tolerance() -> None:
    rules = ruleset(0.5)
    issues = rules.validate(records(1, 1)[0]["latestLabel"])
    assert [issue.rule for issue in issues] == ["one-car"]


def test_no_label_checked_is_not_within() -> None:
    report = Report(tolerances={"one-car": 0.05})
    assert report.tolerance_status()[0]["within"] is False


@pytest.mark.parametrize("bad", ["0", "1", "1.5", "-0.1", '"5%"'])
def test_a_bad_tolerance_names_the_rule_and_the_field(bad: str) -> None:
    with pytest.raises(RulesError) as error:
        RuleSet.from_toml(RULES.format(fraction=bad))
    assert error.value.rule == "one-car"
    assert error.value.field == "max_fraction"


def test_the_schema_documents_the_field() -> None:
    schema = json.dumps(RuleSet.json_schema())
    assert "max_fraction" in schema


def test_concat_keeps_the_tolerance_over_the_whole_run() -> None:
    rules = ruleset(0.05)
    # 4 of 50 break (8%) and 0 of 50: 4% over the run, within 5%
    first = rules.validate_many(records(50, 4), threads=1)
    second = rules.validate_many(records(50, 0), threads=1)
    assert not first.ok
    assert (first + second).ok


def test_dask_judges_the_tolerance_over_every_shard() -> None:
    pandas = pytest.importorskip("pandas")
    rules = ruleset(0.05)
    shards = [rules.validate_many(records(50, n), threads=1) for n in (4, 0)]
    frame = pandas.concat([s.to_pandas() for s in shards], ignore_index=True)
    counts = {str(i): {"labels": s.labels} for i, s in enumerate(shards)}
    result = ShardedResult(frame=frame, counts=counts, tolerances=rules.tolerances)
    assert result.tolerated() == {"one-car"}
    assert result.ok
    assert not ShardedResult(frame=frame, counts=counts).ok
    failed = ShardedResult(frame=frame, counts=counts, tolerances=rules.tolerances)
    failed.failures["2"] = "OSError: gone"
    assert not failed.ok and failed.tolerated() == set()


def run_check(tmp_path: Path, breaking: int) -> subprocess.CompletedProcess[str]:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES.format(fraction=0.05))
    export = tmp_path / f"export-{breaking}.zip"
    with zipfile.ZipFile(export, "w") as z:
        for i, record in enumerate(records(100, breaking)):
            z.writestr(f"labels/{i:04}.json", json.dumps(record))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kili_rules.cli",
            "check",
            str(export),
            "--rules",
            str(rules),
            "--format",
            "json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_exit_code_and_json_follow_the_tolerance(tmp_path: Path) -> None:
    within = run_check(tmp_path, 5)
    assert within.returncode == 0, within.stderr
    summary = json.loads(within.stdout)["summary"]
    assert summary["issues"] == 5 and summary["ok"] is True
    assert summary["tolerances"][0]["within"] is True
    over = run_check(tmp_path, 6)
    assert over.returncode == 1, over.stderr
    assert json.loads(over.stdout)["summary"]["tolerances"][0]["within"] is False
