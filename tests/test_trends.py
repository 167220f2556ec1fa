"""kili-rules check --baseline: each rule's rate against an earlier JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

RULES = """
[[rule]]
id = "few"
kind = "count"
job = "J"
max = 1

[[rule]]
id = "required"
kind = "required"
job = "T"
"""


def _label(n_objects: int, text: bool) -> dict[str, Any]:
    anns = [{"mid": f"m{i}", "categories": [{"name": "A"}]} for i in range(n_objects)]
    response: dict[str, Any] = {"J": {"annotations": anns}}
    if text:
        response["T"] = {"text": "x"}
    return response


def _export(path: Path, too_many: int, no_text: int, total: int = 100) -> None:
    # the first too_many labels have two objects, the first no_text labels lack the text
    records = [
        {
            "id": f"a{i}",
            "latestLabel": {"jsonResponse": _label(2 if i < too_many else 1, i >= no_text)},
        }
        for i in range(total)
    ]
    path.write_text(json.dumps(records), encoding="utf-8")


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_baseline_flags_rates_that_moved(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    before, now = tmp_path / "before.json", tmp_path / "now.json"
    _export(before, too_many=3, no_text=10)
    _export(now, too_many=9, no_text=11)
    baseline = tmp_path / "baseline.json"
    first = _check(str(before), "--rules", str(rules), "--format", "json", "-o", str(baseline))
    assert first.returncode == 1, first.stderr

    run = _check(str(now), "--rules", str(rules), "--format", "json", "--baseline", str(baseline))
    assert run.returncode == 1, run.stderr
    trends = {t["rule"]: t for t in json.loads(run.stdout)["summary"]["trends"]}
    assert abs(trends["few"]["before"] - 0.03) < 1e-9 and abs(trends["few"]["after"] - 0.09) < 1e-9
    assert trends["few"]["flagged"] is True
    # 10% -> 11%: within the default two points
    assert trends["required"]["flagged"] is False
    assert "rule few: 9.0% of the labels, was 3.0%" in run.stderr
    assert "rule required" not in run.stderr

    tight = _check(
        str(now),
        "--rules",
        str(rules),
        "--format",
        "json",
        "--baseline",
        str(baseline),
        "--trend-threshold",
        "0.005",
    )
    trends = {t["rule"]: t for t in json.loads(tight.stdout)["summary"]["trends"]}
    assert trends["required"]["flagged"] is True

    html = tmp_path / "report.html"
    page = _check(str(now), "--rules", str(rules), "--baseline", str(baseline), "-o", str(html))
    assert page.returncode == 1, page.stderr
    text = html.read_text(encoding="utf-8")
    assert "Trends against the baseline" in text
    assert "+6.0 pts" in text and "up beyond the threshold" in text and "steady" in text


def test_baseline_that_is_not_a_report_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    now = tmp_path / "now.json"
    _export(now, too_many=1, no_text=1)
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"rules": []}', encoding="utf-8")
    run = _check(str(now), "--rules", str(rules), "--baseline", str(bogus))
    assert run.returncode not in (0, 1)
    assert "not a kili-rules JSON report" in run.stderr
    bad = _check(
        str(now), "--rules", str(rules), "--baseline", str(bogus), "--trend-threshold", "2"
    )
    assert "--trend-threshold must be in [0, 1]" in bad.stderr
