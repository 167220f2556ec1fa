"""What a team meets in its first week: the example rulebooks and the audit's usage checks,
each through the CLI as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [ROOT / "examples" / "rules.toml", ROOT / "examples" / "webhook" / "rules.toml"]


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tutorial_too_large(points: list[tuple[float, float]]) -> bool:
    """The Kili webhook tutorial's check, as it writes it: the extent of the vertices."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (max(xs) - min(xs)) * (max(ys) - min(ys)) > 0.33


@pytest.mark.parametrize("rules", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_rulebooks_flag_what_the_tutorial_flags(rules: Path, tmp_path: Path) -> None:
    # A box from (0.10, 0.10) to (0.85, 0.54) given as a triangle-ish quad: its extent is
    # 0.75 x 0.44 = 0.33 + a bit (the tutorial flags it), its polygon area is half that.
    points = [(0.10, 0.10), (0.85, 0.10), (0.85, 0.54), (0.10, 0.10)]
    shapes = {
        "rectangle": [(0.10, 0.10), (0.85, 0.10), (0.85, 0.54), (0.10, 0.54)],
        "polygon": points,
    }
    records = []
    for name, vertices in shapes.items():
        assert tutorial_too_large(vertices)
        annotation = {
            "mid": name,
            "type": name,
            "categories": [{"name": "OBJECT_B"}],
            "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in vertices]}],
        }
        records.append(
            {
                "id": f"asset-{name}",
                "externalId": name,
                "latestLabel": {"id": f"label-{name}", "jsonResponse": {"JOB_0": {
                    "annotations": [annotation]}}},
            }
        )  # fmt: skip
    export = tmp_path / "data.json"
    export.write_text(json.dumps(records))
    result = run("check", export, "--rules", rules, "--format", "json", "--no-progress")
    assert result.returncode == 1, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert sorted(r["external_id"] for r in rows if r["rule"] == "bbox-too-large") == [
        "polygon",
        "rectangle",
    ]


@pytest.mark.e2e
def test_audit_refuses_a_dry_run_without_apply_and_an_empty_project(tmp_path: Path) -> None:
    import os

    from kili_rules.testing import KiliEmulator

    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nid = "one-a"\nkind = "count"\njob = "JOB_0"\nmax = 1\n')
    with KiliEmulator() as emu:
        empty = emu.add_project()
        env = dict(os.environ, KILI_SDK_SKIP_CHECKS="1", AUDIT_KEY=emu.api_key)
        base = ["audit", "--project", empty, "--rules", str(rules), "--api-key-env", "AUDIT_KEY"]
        base += ["--api-endpoint", emu.endpoint, "--no-progress"]

        def audit(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "kili_rules.cli", *base, *extra],
                capture_output=True, text=True, timeout=120, env=env, check=False,
            )  # fmt: skip

        dry = audit("--dry-run")
        assert dry.returncode == 2 and "Traceback" not in dry.stderr
        (line,) = dry.stderr.strip().splitlines()
        assert "--dry-run" in line and "--apply" in line
        nothing = audit()
        assert nothing.returncode == 2, nothing.stderr
        assert "no label was read" in nothing.stderr and empty in nothing.stderr
        accepted = audit("--allow-empty", "--format", "json")
        assert accepted.returncode == 0, accepted.stderr
        assert json.loads(accepted.stdout)["summary"]["labels"] == 0


REQUIRED_RULES = """
[[rule]]
id = "needs-job-1"
kind = "required"
job = "JOB_1"

[[rule]]
id = "count-job-2"
kind = "count"
job = "JOB_2"
max = 3
"""


def test_strict_never_calls_a_rule_that_produced_issues_unmatched(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(REQUIRED_RULES)
    data = tmp_path / "labels.json"
    label = {"id": "l1", "jsonResponse": {"JOB_0": {"annotations": []}}}
    data.write_text(json.dumps([{"id": "a1", "externalId": "x1", "latestLabel": label}]))
    r = run("check", data, "--rules", rules, "--strict")
    # the required rule fired (JOB_1 is missing): it checked something; JOB_2's rule did not
    assert r.returncode == 2, r
    (line,) = r.stderr.strip().splitlines()
    assert "count-job-2" in line and "needs-job-1" not in line
    rules.write_text(REQUIRED_RULES.split('[[rule]]\nid = "count-job-2"')[0])
    r = run("check", data, "--rules", rules, "--strict", "--format", "json")
    assert r.returncode == 1, r  # the required rule's issue, and nothing "unmatched"
    assert [row["rule"] for row in json.loads(r.stdout)["rows"]] == ["needs-job-1"]
    assert "matched no job" not in r.stderr


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["check", "x.json", "--rules", "r.toml", "--format", "json", "--images", "local"], "HTML"),
        (["check", "x.json", "--rules", "r.toml", "-o", "r.csv", "--drawings", "0"], "HTML"),
        (["serve", "--rules", "r.toml", "--secret-env", "S", "--insecure-no-auth"], "contradict"),
        (["events", "list", "3"], "takes no event id"),
        (["events", "purge", "3", "--state", "done"], "takes no event id"),
        (["events", "show", "3", "--state", "dead"], "not --state"),
        (["audit", "--project", "p", "--rules", "r.toml", "--dry-run"], "--apply"),
    ],
)
def test_flags_that_make_no_sense_together_are_refused(
    argv: list[str], reason: str, tmp_path: Path
) -> None:
    r = run(*argv, cwd=tmp_path)  # refused before any file is read
    assert r.returncode == 2, r
    (line,) = r.stderr.strip().splitlines()
    assert reason in line and "Traceback" not in r.stderr


@pytest.mark.e2e
def test_audit_of_a_project_that_does_not_exist_names_it(tmp_path: Path) -> None:
    import os

    from kili_rules.testing import KiliEmulator

    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nid = "one-a"\nkind = "count"\njob = "JOB_0"\nmax = 1\n')
    with KiliEmulator() as emu:
        env = dict(os.environ, KILI_SDK_SKIP_CHECKS="1", AUDIT_KEY=emu.api_key)
        for extra in ([], ["--allow-empty"]):  # --allow-empty accepts an empty project only
            r = subprocess.run(
                [sys.executable, "-m", "kili_rules.cli", "audit", "--project", "project-typo",
                 "--rules", str(rules), "--api-key-env", "AUDIT_KEY", "--api-endpoint",
                 emu.endpoint, "--no-progress", *extra],
                capture_output=True, text=True, timeout=120, env=env, check=False,
            )  # fmt: skip
            assert r.returncode == 2, r
            (line,) = r.stderr.strip().splitlines()
            assert "project project-typo does not exist" in line, line
