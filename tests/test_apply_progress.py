"""``apply``'s one progress bar (issue 17, point 8), seen on a real terminal: ``kili-rules
apply`` and ``audit --apply`` run as processes whose stderr is a pseudo-terminal, against the
emulator. On a terminal exactly one bar of apply's own is drawn and it reaches 100% over the
assets acted on; with ``--quiet`` or ``--no-progress``, or with stderr a pipe, none is; no SDK
bar ever is."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules.testing import KiliEmulator

pytest.importorskip("kili")
pytest.importorskip("tqdm")

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
RULES = str(ROOT / "examples" / "rules.toml")
ONE_BOX: dict[str, Any] = json.loads((SEED / "json_response_one_box.json").read_text())
INTERFACE: dict[str, Any] = json.loads((SEED / "json_interface.json").read_text())
ASSETS = 130  # two of apply's batches (100 assets each): the bar moves, then ends
# one redraw of a tqdm bar: "DESC:  76%|#####   | 100/130 [00:01<00:00, 80.1asset/s]"
BAR = re.compile(r"(?P<desc>[^\r\n|]*?):?\s*(?P<pct>\d+)%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)")
APPLY_DESC = "kili-rules apply"


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


def run_on_terminal(args: list[str], env: dict[str, str], timeout: float = 240) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (120 columns); its exit code and all that
    reached the terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kili_rules.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            out += data
        else:
            proc.kill()
            pytest.fail(f"{args[0]} did not end within {timeout}s: {out.decode(errors='replace')}")
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
    return code, out.decode("utf-8", errors="replace")


def bars(screen: str) -> list[re.Match[str]]:
    """Every bar redraw on the screen, in order (a redraw starts after a \\r or a newline)."""
    return [m for part in re.split(r"[\r\n]", screen) if (m := BAR.search(part))]


def assert_one_apply_bar(screen: str, total: int, *, also: tuple[str, ...] = ()) -> None:
    drawn = bars(screen)
    ours = [m for m in drawn if m["desc"].strip() == APPLY_DESC]
    others = [m[0] for m in drawn if m["desc"].strip() != APPLY_DESC]
    # any other bar is a foreign one (the SDK's "Creating issues"...), unless named in ``also``
    assert all(any(name in o for name in also) for o in others), (others, screen)
    assert ours, f"no apply progress bar on the terminal:\n{screen!r}"
    assert {int(m["total"]) for m in ours} == {total}, [m[0] for m in ours]
    counts = [int(m["n"]) for m in ours]
    # one bar: it starts at 0 once and only moves forward (a second bar would start again)
    assert counts.count(0) == 1 and counts[0] == 0, counts
    assert counts == sorted(counts), counts
    assert counts[-1] == total and ours[-1]["pct"] == "100", [m[0] for m in ours]
    assert "Creating issues" not in screen


def assert_no_bar(screen: str) -> None:
    assert bars(screen) == [] and "%|" not in screen and "\r" not in screen.replace("\r\n", ""), (
        screen
    )


@pytest.fixture
def project_report(emu: KiliEmulator, tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    project = emu.add_project(json_interface=INTERFACE)
    for n in range(ASSETS):
        emu.add_label(emu.add_asset(project, external_id=f"a{n}"), ONE_BOX)
    env = {**os.environ, "KILI_SDK_SKIP_CHECKS": "1", "BAR_KEY": emu.api_key}
    env["TERM"] = "xterm"
    saved = tmp_path / "report.json"
    audited = subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", "audit", "--project", project, "--rules", RULES,
         "-o", str(saved), "--api-key-env", "BAR_KEY", "--api-endpoint", emu.endpoint],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert audited.returncode == 1, audited.stderr  # violations found
    return project, saved, env


def key(emu: KiliEmulator) -> list[str]:
    return ["--api-key-env", "BAR_KEY", "--api-endpoint", emu.endpoint]


def test_apply_on_a_terminal_draws_one_bar_to_100_percent(
    emu: KiliEmulator, project_report: tuple[str, Path, dict[str, str]]
) -> None:
    project, saved, env = project_report
    code, screen = run_on_terminal(["apply", str(saved), "--rules", RULES, *key(emu)], env)
    assert code == 0, screen
    assert_one_apply_bar(screen, ASSETS)
    assert len(emu.issues(project)) == ASSETS  # the bar went over work that was done
    assert "create_issue" in screen  # and the summary still follows it


def test_apply_quiet_no_progress_or_a_pipe_draw_no_bar(
    emu: KiliEmulator, project_report: tuple[str, Path, dict[str, str]]
) -> None:
    project, saved, env = project_report
    code, screen = run_on_terminal(
        ["apply", str(saved), "--rules", RULES, "--quiet", *key(emu)], env
    )
    assert code == 0, screen
    assert screen == "", screen  # --quiet on a terminal: nothing at all
    assert len(emu.issues(project)) == ASSETS  # it applied, quietly
    code, screen = run_on_terminal(
        ["apply", str(saved), "--rules", RULES, "--no-progress", *key(emu)], env
    )
    assert code == 0, screen
    assert_no_bar(screen)
    assert "no change" in screen  # the summary, without a bar
    piped = subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", "apply", str(saved), "--rules", RULES,
         "--dry-run", *key(emu)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert_no_bar(piped.stderr)
    assert "no change" in piped.stderr


def test_audit_apply_on_a_terminal_draws_one_apply_bar_and_none_with_quiet(
    emu: KiliEmulator, project_report: tuple[str, Path, dict[str, str]], tmp_path: Path
) -> None:
    project, _saved, env = project_report
    audit = ["audit", "--project", project, "--rules", RULES, "--apply", *key(emu)]
    code, screen = run_on_terminal([*audit, "-o", str(tmp_path / "a.json")], env)
    assert code == 1, screen  # violations
    # the audit's own reading bar ("Validating <project>") may come first; apply adds one
    assert_one_apply_bar(screen, ASSETS, also=(f"Validating {project}",))
    assert len(emu.issues(project)) == ASSETS
    code, screen = run_on_terminal([*audit, "-o", str(tmp_path / "b.json"), "--quiet"], env)
    assert code == 1, screen
    assert_no_bar(screen)
