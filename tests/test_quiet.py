"""Quiet by default (issue 17, point 8), seen from outside: a real ``kili-rules audit --apply``
and ``kili-rules apply`` process against the emulator, and the plugin with a logging setup as
a Kili plugin has one, print no SDK progress bar (tqdm) and each line once; the plugin logs
its findings at INFO, not above."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _quiet import TQDM_MARKS, assert_quiet
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator

pytest.importorskip("kili")

from kili_rules.kili.plugin import RulesPlugin

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
RULES_FILE = ROOT / "examples" / "rules.toml"
ONE_BOX: dict[str, Any] = json.loads((SEED / "json_response_one_box.json").read_text())
INTERFACE: dict[str, Any] = json.loads((SEED / "json_interface.json").read_text())
ASSETS = 30  # more than one batch of the SDK's calls, as a real project


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_audit_apply_and_apply_print_no_sdk_progress_bar_and_each_line_once(
    emu: KiliEmulator, tmp_path: Path
) -> None:
    project = emu.add_project(json_interface=INTERFACE)
    for n in range(ASSETS):
        emu.add_label(emu.add_asset(project, external_id=f"a{n}"), ONE_BOX)
    env = {**os.environ, "KILI_SDK_SKIP_CHECKS": "1", "QUIET_KEY": emu.api_key}
    key = ("--api-key-env", "QUIET_KEY", "--api-endpoint", emu.endpoint)
    saved = tmp_path / "report.json"
    rules = str(RULES_FILE)
    audited = cli("audit", "--project", project, "--rules", rules, "-o", str(saved), *key, env=env)
    assert audited.returncode == 1, audited.stderr  # violations
    assert_quiet(audited.stderr)
    applied = cli("apply", str(saved), "--rules", rules, *key, env=env)
    assert applied.returncode == 0, applied.stderr
    assert_quiet(applied.stderr)
    assert len(emu.issues(project)) == ASSETS  # it did the work it is quiet about
    assert "create_issue" in applied.stderr  # its own one-line summary
    quiet = cli("apply", str(saved), "--rules", rules, "--quiet", *key, env=env)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr

    redo = tmp_path / "again"
    redo.mkdir()
    again = cli("audit", "--project", project, "--rules", rules, "-o", str(redo / "r.json"),
                "--apply", *key, env=env)  # fmt: skip
    assert again.returncode == 1, again.stderr
    assert_quiet(again.stderr)


def test_the_plugin_logs_each_line_once_findings_at_info_and_no_progress_bar(
    emu: KiliEmulator, capfd: pytest.CaptureFixture[str]
) -> None:
    # the plugin's default logger, under a root that has a handler (logging.basicConfig)
    root = logging.getLogger()
    root_handler = logging.StreamHandler(sys.stderr)
    old_level = root.level
    root.addHandler(root_handler)
    root.setLevel(logging.DEBUG)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logging.getLogger().addHandler(keep)
    try:
        kili = emu.kili_client(timeout=1.0)
        project = emu.add_project(json_interface=INTERFACE)
        asset_id = emu.add_asset(project)
        label_id = emu.add_label(asset_id, ONE_BOX)
        capfd.readouterr()
        decision = RulesPlugin(kili, project, rules=RuleSet.from_file(RULES_FILE)).on_submit(
            {"id": label_id, "jsonResponse": ONE_BOX}, asset_id
        )
        assert decision.sent_back and len(decision.effects.created) == 1
        err = capfd.readouterr().err
    finally:
        for h, owner in ((root_handler, root), (keep, root)):
            owner.removeHandler(h)
        root.setLevel(old_level)
    for mark in TQDM_MARKS:
        assert mark not in err, f"{mark!r} on stderr:\n{err}"
    ours = [r for r in records if r.name.startswith("kili_rules.kili")]
    assert ours, ("the plugin logged nothing", [(r.name, r.getMessage()) for r in records], err)
    messages = [r.getMessage() for r in ours]
    assert [m for m, n in Counter(messages).items() if n > 1] == []
    # a finding is routine: INFO; nothing here failed, so nothing above it
    assert {r.levelno for r in ours} == {logging.INFO}, [
        (r.levelname, r.getMessage()) for r in ours
    ]
    assert any("BBox too large" in m or "issue" in m for m in messages), messages
    # each line once on the stream, though the plugin's logger and the root could both print it
    printed = [line for line in err.splitlines() if "kili-rules" in line]
    assert printed and [line for line, n in Counter(printed).items() if n > 1] == [], err


def test_serve_prints_no_progress_bar_and_each_line_once(emu: KiliEmulator, tmp_path: Path) -> None:
    """A real ``kili-rules serve`` process drains events that create issues and send assets
    back (the SDK's issue creation draws a bar by default): its log has no bar, and each line
    once (its access log of the status polls aside)."""
    pytest.importorskip("uvicorn")
    import signal

    from _server import JSON_INTERFACE, THREE_BOXES, Server, legacy_event, post_all

    project = emu.add_project(json_interface=JSON_INTERFACE)
    bodies = []
    for n in range(ASSETS):
        asset = emu.add_asset(project, external_id=f"s{n}")
        bodies.append(legacy_event(project, asset, emu.add_label(asset, THREE_BOXES), THREE_BOXES))
    log = tmp_path / "serve.log"
    server = Server(tmp_path / "events.db", emu.endpoint, emu.api_key, log).wait_ready()
    try:
        assert set(post_all(server.url, bodies, clients=4)) <= {200, 202}
        status = server.wait_drained(120)
        assert status["done"] == ASSETS and status["dead_letters"] == 0, status
        assert server.kill(signal.SIGTERM) in (0, -signal.SIGTERM)  # uvicorn re-raises it
    finally:
        server.stop()
    assert len(emu.sent_back) == ASSETS  # it did the work it is quiet about
    text = log.read_text(errors="replace")
    assert_quiet(text, ignore=('"GET /status', '"GET /healthz', '"POST / HTTP'))
