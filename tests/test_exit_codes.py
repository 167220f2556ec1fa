"""The exit codes of docs/exit-codes.md, each from the command run as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "examples" / "rules.toml"
INTERFACE = ROOT / "tests" / "data" / "seed" / "json_interface.json"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KILI_API_KEY": "not-used"}
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def rect(mid: str, cat: str, x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    pts = [(x0, y1), (x0, y0), (x1, y0), (x1, y1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": cat}],
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in pts]}],
    }


def export(path: Path, annotations: list[dict[str, Any]]) -> Path:
    asset = {
        "id": "asset-1",
        "externalId": "a1",
        "latestLabel": {"id": "label-1", "jsonResponse": {"JOB_0": {"annotations": annotations}}},
    }
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("labels/a1.json", json.dumps(asset))
    return path


def test_check_exits_0_1_2(tmp_path: Path) -> None:
    clean = export(tmp_path / "clean.zip", [rect("m1", "OBJECT_A", 0.1, 0.1, 0.2, 0.2)])
    bad = export(
        tmp_path / "bad.zip",
        [rect("m1", "OBJECT_A", 0.1, 0.1, 0.2, 0.2), rect("m2", "OBJECT_A", 0.3, 0.3, 0.4, 0.4)],
    )
    assert run("check", str(clean), "--rules", str(RULES), cwd=tmp_path).returncode == 0
    assert run("check", str(bad), "--rules", str(RULES), cwd=tmp_path).returncode == 1
    assert (
        run("check", str(bad), "--rules", str(RULES), "--fail-on", "never", cwd=tmp_path)
    ).returncode == 0
    missing = run("check", str(tmp_path / "none.zip"), "--rules", str(RULES), cwd=tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    junk = run("check", str(tmp_path / "junk.zip"), "--rules", str(RULES), cwd=tmp_path)
    assert junk.returncode == 2 and "Traceback" not in junk.stderr
    (tmp_path / "bad.toml").write_text('[[rule]]\nkind = "nope"\njob = "JOB_0"\n')
    rules = run("check", str(clean), "--rules", "bad.toml", cwd=tmp_path)
    assert rules.returncode == 2 and "Traceback" not in rules.stderr


def test_lint_exits_0_1_2(tmp_path: Path) -> None:
    assert run("lint", str(RULES), "--interface", str(INTERFACE), cwd=tmp_path).returncode == 0
    (tmp_path / "other.toml").write_text('[[rule]]\nkind = "count"\njob = "NOT_A_JOB"\nmax = 1\n')
    assert run("lint", "other.toml", "--interface", str(INTERFACE), cwd=tmp_path).returncode == 1
    assert run("lint", "missing.toml", cwd=tmp_path).returncode == 2


def test_init_exits_0_then_2_without_force(tmp_path: Path) -> None:
    first = run("init", "--interface", str(INTERFACE), "-o", "rules.toml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = run("init", "--interface", str(INTERFACE), "-o", "rules.toml", cwd=tmp_path)
    assert again.returncode == 2


def test_serve_exits_3_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken, socket.socket() as nobody:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        nobody.bind(("127.0.0.1", 0))  # a loopback port nothing answers on: no Kili reached
        port, dead = taken.getsockname()[1], nobody.getsockname()[1]
        out = run(
            "serve",
            "--rules",
            str(RULES),
            "--port",
            str(port),
            "--insecure-no-auth",
            "--api-endpoint",
            f"http://127.0.0.1:{dead}/api/label/v2/graphql",
            "--store",
            str(tmp_path / "events.db"),
            cwd=tmp_path,
        )
    assert out.returncode == 3, out.stderr[-2000:]
    assert "address already in use" in out.stderr


def test_serve_exits_2_on_a_bad_rules_file(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("not toml [")
    out = run("serve", "--rules", "bad.toml", "--insecure-no-auth", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    # psycopg made unimportable in the child, as on a machine without the postgres extra.
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from kili_rules.cli import main\n"
        f"sys.exit(main(['serve', '--rules', {str(RULES)!r}, '--insecure-no-auth', '--dry-run',"
        " '--port', '0', '--store', 'postgresql://127.0.0.1:1/none']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "pip install 'kili-rules[postgres]'" in out.stderr
    (tmp_path / "rules.yaml").write_text("rule: []\n")
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "from kili_rules.cli import main\n"
        "sys.exit(main(['lint', 'rules.yaml']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "kili-rules[yaml]" in out.stderr


def _serve_against(endpoint: str, key: str, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KILI_API_KEY": key, "PYTHONUNBUFFERED": "1"}
    env["KILI_SDK_SKIP_CHECKS"] = "1"  # as in production containers: the serve check still runs
    argv = [sys.executable, "-m", "kili_rules.cli", "serve", "--rules", str(RULES)]
    argv += ["--insecure-no-auth", "--api-endpoint", endpoint, "--port", str(_free_port())]
    argv += ["--store", str(tmp_path / "events.db"), *extra]
    return subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_exits_4_on_a_wrong_key_or_an_unreadable_project(tmp_path: Path) -> None:
    from tests.test_emulator_process import Emulator

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"projects": [{"id": "project-cars", "title": "Cars"}]}))
    emulator = Emulator(tmp_path, "--seed", str(seed)).wait_ready()
    try:
        wrong = _serve_against(emulator.endpoint, "not-the-key", tmp_path, "--project", "x")
        _, err = wrong.communicate(timeout=120)
        assert wrong.returncode == 4, err[-2000:]
        assert "Kili refused the API key" in err and "Traceback" not in err
        assert not (tmp_path / "events.db").exists()  # refused before anything was opened

        key = "kili-rules-emulator-key"
        unknown = _serve_against(emulator.endpoint, key, tmp_path, "--project", "no-such")
        _, err = unknown.communicate(timeout=120)
        assert unknown.returncode == 4, err[-2000:]
        assert "project no-such: does not exist or cannot be read" in err

        good = _serve_against(emulator.endpoint, key, tmp_path, "--project", "project-cars")
        try:
            # it starts: no exit within a few seconds, then SIGTERM ends it cleanly
            with pytest.raises(subprocess.TimeoutExpired):
                good.wait(timeout=8)
        finally:
            good.send_signal(signal.SIGTERM)
            _, err = good.communicate(timeout=60)
        assert good.returncode == -signal.SIGTERM, err[-2000:]
        assert "refused" not in err
    finally:
        emulator.stop()
