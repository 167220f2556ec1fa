"""Nothing passes silently: empty inputs, empty rules, unmatched rules, skipped paths, corrupt
zips and the headline under ``--fail-on``, through the real ``kili-rules`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "examples" / "export" / "example_export.zip"

RULES = """
[[rule]]
id = "too-many-object-a"
kind = "count"
job = "JOB_0"
category = "OBJECT_A"
max = 1
"""


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def box(x: float) -> dict[str, Any]:
    pts = [(x, 0.1), (x + 0.1, 0.1), (x + 0.1, 0.2), (x, 0.2)]
    return {
        "categories": [{"name": "OBJECT_A"}],
        "mid": f"m{x}",
        "type": "rectangle",
        "boundingPoly": [{"normalizedVertices": [{"x": a, "y": b} for a, b in pts]}],
    }


def asset(i: int, job: str = "JOB_0", boxes: int = 1) -> dict[str, Any]:
    return {
        "id": f"a{i}",
        "externalId": f"x{i}",
        "latestLabel": {
            "id": f"l{i}",
            "jsonResponse": {job: {"annotations": [box(0.1 * k) for k in range(boxes)]}},
        },
    }


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    p = tmp_path / "rules.toml"
    p.write_text(RULES)
    return p


def one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("kili-rules: error: "), r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


@pytest.mark.parametrize("kind", ["zip", "folder", "list"])
def test_empty_input_is_not_ok(rules: Path, tmp_path: Path, kind: str) -> None:
    if kind == "zip":
        path = tmp_path / "empty.zip"
        zipfile.ZipFile(path, "w").close()
    elif kind == "folder":
        path = tmp_path / "empty"
        path.mkdir()
    else:
        path = tmp_path / "empty.json"
        path.write_text("[]")
    r = run("check", path, "--rules", rules)
    one_line_error(r, "no label was checked", "--allow-empty")
    assert "OK" not in r.stdout and "NOTHING CHECKED" in r.stdout
    r = run("check", path, "--rules", rules, "--allow-empty")
    assert r.returncode == 0, r


def test_empty_rules_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "rules.toml"
    empty.write_text("# nothing yet\n")
    one_line_error(run("check", EXPORT, "--rules", empty), "defines no rule")


def test_rule_on_a_job_no_label_has_warns_and_fails_under_strict(
    rules: Path, tmp_path: Path
) -> None:
    data = tmp_path / "other.json"
    data.write_text(json.dumps([asset(1, job="OTHER_JOB")]))
    r = run("check", data, "--rules", rules)
    assert r.returncode == 0, r
    assert "warning: 1 rule matched no job in the labels checked: too-many-object-a" in r.stdout
    assert "warning" in r.stderr
    r = run("check", data, "--rules", rules, "--format", "json")
    assert json.loads(r.stdout)["summary"]["notes"]
    one_line_error(run("check", data, "--rules", rules, "--strict"), "too-many-object-a")
    # A rule whose job is present is not reported.
    data.write_text(json.dumps([asset(1)]))
    r = run("check", data, "--rules", rules, "--strict")
    assert r.returncode == 0 and "matched no job" not in r.stdout, r


def test_skipped_paths_are_rows(rules: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(asset(1)))
    export = tmp_path / "export"
    (export / "labels").mkdir(parents=True)
    (export / "labels" / "linked.json").symlink_to(outside)
    deep = export.joinpath(*[f"d{k}" for k in range(35)])
    deep.mkdir(parents=True)
    (deep / "deep.json").write_text(json.dumps(asset(2)))
    os.mkfifo(export / "labels" / "pipe.json")
    r = run("check", export, "--rules", rules, "--format", "json")
    assert r.returncode == 2, r  # and no label was read
    rows = json.loads(r.stdout)["rows"]
    texts = sorted(row["text"] for row in rows)
    assert len(rows) == 3, texts
    assert any("linked.json" in t and "symbolic link" in t for t in texts)
    assert any("pipe.json" in t and "not a regular file" in t for t in texts)
    assert any("d31/d32" in t and "too deep" in t for t in texts)
    text = run("check", export, "--rules", rules).stdout
    assert "OK" not in text and "FAILED" in text


def test_text_file_named_zip_and_truncated_zip_exit_2(rules: Path, tmp_path: Path) -> None:
    fake = tmp_path / "export.zip"
    fake.write_text("this is not a zip\n")
    one_line_error(run("check", fake, "--rules", rules), "not a zip")
    cut = tmp_path / "cut.zip"
    with zipfile.ZipFile(cut, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(40):
            z.writestr(f"labels/x{i}.json", json.dumps(asset(i)) + " " * (i * 500))
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    one_line_error(run("check", cut, "--rules", rules), "corrupt zip")


def test_headline_follows_fail_on(tmp_path: Path) -> None:
    rules = tmp_path / "warn.toml"
    rules.write_text(RULES + 'severity = "warning"\n')
    data = tmp_path / "three.json"
    data.write_text(json.dumps([asset(i, boxes=2) for i in range(3)]))
    r = run("check", data, "--rules", rules, "--fail-on", "warning")
    assert r.returncode == 1, r
    assert "FAILED: 3 issues" in r.stdout and "OK" not in r.stdout, r.stdout
    r = run("check", data, "--rules", rules)
    assert r.returncode == 0 and "OK: 3 issues" in r.stdout, r.stdout
