"""The ``kili-rules`` command, run as a real process on the bundled example export."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "examples" / "export" / "example_export.zip"
INTERFACE = ROOT / "tests" / "data" / "seed" / "json_interface.json"

# The tutorial's rules, as in examples/rules.toml.
TUTORIAL_RULES = """
[[rule]]
id = "too-many-object-a"
kind = "count"
job = "JOB_0"
category = "OBJECT_A"
max = 1
message = "There are too many BBox ({count}) - Only 1 BBox of Object A accepted"

[[rule]]
id = "bbox-too-large"
kind = "area"
job = "JOB_0"
max = 0.33
message = "BBox too large"
"""

# What the example export holds (see examples/export/make_example_export.py).
TOO_MANY_A = {"street_003.jpg", "street_010.jpg", "tutorial_three_boxes.jpg"}
TOO_LARGE = {"street_006.jpg", "street_008.jpg", "tutorial_three_boxes.jpg"}


def run(
    *args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kili-rules: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "rules.toml"
    path.write_text(TUTORIAL_RULES)
    return path


def check_json(*paths: str | Path, rules: Path) -> tuple[int, dict[str, Any]]:
    result = run("check", *paths, "--rules", rules, "--format", "json", "--no-progress")
    assert result.returncode in (0, 1), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, document


def test_readme_quick_start_command() -> None:
    """The README's first command, verbatim (examples/rules.toml is the tutorial's rules)."""
    rules = ROOT / "examples" / "rules.toml"
    assert rules.is_file(), "examples/rules.toml is missing"
    result = run("check", "examples/export/example_export.zip", "--rules", "examples/rules.toml")
    assert result.returncode == 1, result.stderr
    assert "checked 12 labels in 12 assets" in result.stdout
    assert "FAILED: 6 issues (6 errors, 0 warnings) in 5 assets" in result.stdout
    assert "Traceback" not in result.stderr


def test_check_text(rules_file: Path) -> None:
    result = run("check", EXPORT, "--rules", rules_file, "--no-progress")
    assert result.returncode == 1
    assert result.stderr == ""
    out = result.stdout
    assert "FAILED: 6 issues (6 errors, 0 warnings) in 5 assets" in out
    assert "There are too many BBox (3) - Only 1 BBox of Object A accepted" in out
    assert "street scene 007.jpg" not in out  # a clean asset
    for external_id in TOO_MANY_A | TOO_LARGE:
        assert external_id in out


def test_check_json_rows_match_the_export(rules_file: Path) -> None:
    code, document = check_json(EXPORT, rules=rules_file)
    assert code == 1
    summary = document["summary"]
    assert (summary["labels"], summary["assets"], summary["invalid"]) == (12, 12, 0)
    assert (summary["issues"], summary["errors"], summary["assets_with_issues"]) == (6, 6, 5)
    assert len(summary["fingerprint"]) == 64
    rows = document["rows"]
    assert {r["external_id"] for r in rows if r["rule"] == "too-many-object-a"} == TOO_MANY_A
    assert {r["external_id"] for r in rows if r["rule"] == "bbox-too-large"} == TOO_LARGE
    assert all(r["asset_id"] and r["asset_id"].startswith("cl") for r in rows)
    per_rule: dict[str, int] = {}
    for line in summary["by_rule"]:
        per_rule[line["rule"]] = per_rule.get(line["rule"], 0) + line["issues"]
    assert per_rule == {"too-many-object-a": 3, "bbox-too-large": 3}


def test_check_jsonl_and_junit_and_html(rules_file: Path) -> None:
    jsonl = run("check", EXPORT, "--rules", rules_file, "--format", "jsonl", "--no-progress")
    assert jsonl.returncode == 1
    assert len([json.loads(line) for line in jsonl.stdout.splitlines()]) == 6

    junit = run("check", EXPORT, "--rules", rules_file, "--format", "junit", "--no-progress")
    assert junit.returncode == 1
    suite = ET.fromstring(junit.stdout).find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "5"  # one failing case per violating asset
    assert suite.get("tests") == "6"  # ... and one for the 7 clean labels
    assert suite.find("testcase[@name='7 labels without issues']") is not None

    html = run("check", EXPORT, "--rules", rules_file, "--format", "html", "--no-progress")
    assert html.returncode == 1
    assert html.stdout.startswith("<!DOCTYPE html>")
    assert "too-many-object-a" in html.stdout and "tutorial_three_boxes.jpg" in html.stdout


def test_output_file_and_format_from_suffix(rules_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.xml"
    result = run("check", EXPORT, "--rules", rules_file, "--output", target, "--no-progress")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "report written to" in result.stderr and "FAILED" in result.stderr
    assert ET.parse(target).getroot().tag == "testsuites"
    explicit = tmp_path / "report.out"
    result = run(
        "check", EXPORT, "--rules", rules_file, "-o", explicit, "--format", "jsonl", "--no-progress"
    )
    assert len(explicit.read_text().splitlines()) == 6


def test_csv_to_stdout_and_from_suffix(rules_file: Path, tmp_path: Path) -> None:
    import csv
    import io

    result = run("check", EXPORT, "--rules", rules_file, "--format", "csv", "-o", "-")
    assert result.returncode == 1
    lines = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(lines) == 6 and "written to" not in result.stderr  # "-o -" is stdout
    assert {line["external_id"] for line in lines if line["rule"] == "too-many-object-a"} == (
        TOO_MANY_A
    )
    target = tmp_path / "issues.csv"
    assert run("check", EXPORT, "--rules", rules_file, "-o", target).returncode == 1
    assert target.read_text() == result.stdout


def test_html_options(rules_file: Path) -> None:
    html = run(
        "check", EXPORT, "--rules", rules_file, "--format", "html", "--project", "p1",
        "--kili-url", "https://kili.example.org", "--drawings", "1",
    ).stdout  # fmt: skip
    assert "https://kili.example.org/label/projects/p1/labeling/" in html
    assert str(rules_file) in html  # the header names the rules file
    assert html.count('<svg class="kr-drawing"') == 2  # one per rule
    bad = run("check", EXPORT, "--rules", rules_file, "--drawings", "-1")
    assert bad.returncode == 2 and "--drawings" in bad.stderr


def test_fail_on(rules_file: Path, tmp_path: Path) -> None:
    assert (
        run(
            "check", EXPORT, "--rules", rules_file, "--fail-on", "never", "--no-progress"
        ).returncode
        == 0
    )
    lenient = tmp_path / "lenient.toml"
    lenient.write_text(
        TUTORIAL_RULES.replace("max = 1\n", "max = 3\n").replace("max = 0.33", "max = 0.5")
    )
    assert run("check", EXPORT, "--rules", lenient, "--no-progress").returncode == 0
    warn = tmp_path / "warn.toml"
    warn.write_text(TUTORIAL_RULES.replace('kind = "area"', 'kind = "area"\nseverity = "warning"'))
    assert run("check", EXPORT, "--rules", warn, "--no-progress").returncode == 1  # count errors
    only_area = tmp_path / "only_area.toml"
    only_area.write_text(
        "[[rule]]" + TUTORIAL_RULES.split("[[rule]]")[2] + 'severity = "warning"\n'
    )
    assert run("check", EXPORT, "--rules", only_area, "--no-progress").returncode == 0
    result = run("check", EXPORT, "--rules", only_area, "--fail-on", "warning", "--no-progress")
    assert result.returncode == 1
    assert "FAILED: 3 issues (0 errors, 3 warnings) in 3 assets" in result.stdout


def test_folder_json_list_and_jsonl_exports_agree(rules_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(EXPORT) as archive:
        archive.extractall(folder)
        records = [
            json.loads(archive.read(name))
            for name in sorted(archive.namelist())
            if name.endswith(".json")
        ]
    data_json = tmp_path / "data.json"
    data_json.write_text(json.dumps(records))
    lines = tmp_path / "assets.jsonl"
    lines.write_text("".join(json.dumps(record) + "\n" for record in records))

    def key(document: dict[str, Any]) -> list[tuple[str, str, str | None]]:
        return sorted((r["external_id"], r["rule"], r["mid"]) for r in document["rows"])

    _, from_zip = check_json(EXPORT, rules=rules_file)
    for path in (folder, data_json, lines):
        code, document = check_json(path, rules=rules_file)
        assert code == 1
        assert document["summary"]["labels"] == 12, path
        assert key(document) == key(from_zip), path


def test_several_paths_are_merged(rules_file: Path) -> None:
    code, document = check_json(EXPORT, EXPORT, rules=rules_file)
    assert code == 1
    assert (document["summary"]["labels"], document["summary"]["issues"]) == (24, 12)


def test_bad_rules_file_is_a_one_line_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[[rule]]\nkind = "count"\njob = "JOB_0"\nmax = "one"\n')
    assert_one_line_error(run("check", EXPORT, "--rules", broken, "--no-progress"))
    not_toml = tmp_path / "not.toml"
    not_toml.write_text("[[rule]\nkind = ")
    assert_one_line_error(run("check", EXPORT, "--rules", not_toml, "--no-progress"))
    unknown_kind = tmp_path / "unknown.toml"
    unknown_kind.write_text('[[rule]]\nkind = "colour"\njob = "JOB_0"\n')
    assert_one_line_error(run("check", EXPORT, "--rules", unknown_kind), "colour")
    assert_one_line_error(run("check", EXPORT, "--rules", tmp_path / "absent.toml"), "absent.toml")


def test_unreadable_input_is_a_one_line_error(rules_file: Path, tmp_path: Path) -> None:
    assert_one_line_error(run("check", tmp_path / "nope.zip", "--rules", rules_file), "nope.zip")
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip archive")
    assert_one_line_error(run("check", corrupt, "--rules", rules_file, "--no-progress"))


def test_bad_usage_exits_2(rules_file: Path) -> None:
    assert run().returncode == 2
    assert run("check", EXPORT).returncode == 2  # no --rules
    assert run("check", EXPORT, "--rules", rules_file, "--format", "pdf").returncode == 2
    assert run("check", EXPORT, "--rules", rules_file, "--threads", "0").returncode == 2
    assert (
        run("check", EXPORT, "--rules", rules_file, "--threads", "2", "--no-progress").returncode
        == 1
    )


def test_lint(rules_file: Path, tmp_path: Path) -> None:
    ok = run("lint", rules_file, "--interface", INTERFACE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrapper = tmp_path / "project.json"
    wrapper.write_text(json.dumps({"id": "p1", "jsonInterface": json.loads(INTERFACE.read_text())}))
    assert run("lint", rules_file, "--interface", wrapper).returncode == 0
    as_string = tmp_path / "project_string.json"
    as_string.write_text(json.dumps({"jsonInterface": INTERFACE.read_text()}))
    assert run("lint", rules_file, "--interface", as_string).returncode == 0

    wrong = tmp_path / "wrong.toml"
    wrong.write_text(TUTORIAL_RULES.replace('category = "OBJECT_A"', 'category = "OBJECT_Z"'))
    result = run("lint", wrong, "--interface", INTERFACE)
    assert result.returncode == 1
    assert "OBJECT_Z" in result.stdout

    not_json = tmp_path / "interface.json"
    not_json.write_text("{")
    assert_one_line_error(run("lint", rules_file, "--interface", not_json), "not valid JSON")
    assert run("lint", rules_file).returncode == 0  # without --interface: the file loads


def test_schema() -> None:
    result = run("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert isinstance(schema, dict) and schema


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("kili-rules ")


def test_serve_and_register_check_their_inputs(rules_file: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KILI_API_KEY", "NO_SUCH_VAR")}
    assert_one_line_error(
        run("serve", "--rules", rules_file, "--secret-env", "NO_SUCH_VAR", env=env), "NO_SUCH_VAR"
    )
    assert_one_line_error(run("serve", "--rules", rules_file, env=env), "--insecure-no-auth")
    assert_one_line_error(
        run("serve", "--rules", rules_file, "--insecure-no-auth", env=env),
        "KILI_API_KEY",
        "--dry-run",
    )
    assert_one_line_error(run("serve", "--rules", tmp_path / "none.toml", "--dry-run", env=env))
    assert_one_line_error(
        run("register", "--project", "p", "--url", "https://x", "--name", "n", env=env),
        "KILI_API_KEY",
    )


def test_console_script_when_installed(rules_file: Path) -> None:
    script = shutil.which("kili-rules", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the kili-rules console script is not installed (package built without cli)")
    result = subprocess.run(
        [script, "check", str(EXPORT), "--rules", str(rules_file), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "FAILED: 6 issues" in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.e2e
def test_serve_answers_on_loopback(rules_file: Path, tmp_path: Path) -> None:
    httpx = pytest.importorskip("httpx")
    port = _free_port()
    env = dict(os.environ, KILI_RULES_TEST_SECRET="s3cret")
    command = [sys.executable, "-m", "kili_rules.cli", "serve", "--rules", str(rules_file)]
    command += ["--port", str(port), "--dry-run", "--secret-env", "KILI_RULES_TEST_SECRET"]
    command += ["--store", str(tmp_path / "events.db")]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90  # importing kili takes seconds on a busy machine
        while True:
            assert server.poll() is None, server.communicate()[1].decode()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "kili-rules serve did not start in 90 s"
                time.sleep(0.1)
        assert response.status_code == 200
        unauthorized = httpx.post(f"http://127.0.0.1:{port}/", json={}, timeout=5)
        assert unauthorized.status_code == 401
    finally:
        server.terminate()
        server.communicate(timeout=10)


@pytest.mark.e2e
def test_register_creates_the_webhook(tmp_path: Path) -> None:
    testing = pytest.importorskip("kili_rules.testing")
    with testing.KiliEmulator() as emu:
        project_id = emu.add_project(json_interface=json.loads(INTERFACE.read_text()))
        env = dict(os.environ, HOME=str(tmp_path), EMU_KEY=emu.api_key, HOOK_SECRET="s3cret")
        result = run(
            "register",
            "--project", project_id,
            "--url", "http://127.0.0.1:8000/",
            "--name", "kili-rules",
            "--header-env", "HOOK_SECRET",
            "--api-endpoint", emu.endpoint,
            "--api-key-env", "EMU_KEY",
            env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
        (hook,) = emu.webhooks
        assert hook["header"] == "s3cret"
        assert hook["url"] == "http://127.0.0.1:8000/"

        wrong_key = dict(env, EMU_KEY="not-the-key")
        result = run(
            "register",
            "--project", project_id,
            "--url", "http://127.0.0.1:8000/",
            "--name", "kili-rules",
            "--api-endpoint", emu.endpoint,
            "--api-key-env", "EMU_KEY",
            env=wrong_key,
        )  # fmt: skip
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
