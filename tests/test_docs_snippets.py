"""Every python and shell snippet of README.md and docs/*.md runs as written (issue 19).

Each fenced ``python``, ``bash``, ``sh`` or ``console`` block runs against the installed package
in a fresh temp dir holding a copy of the bundled ``examples/`` (the paths the docs use); a
python block in its own interpreter, a shell block in ``bash -e`` (``console`` blocks: the
lines starting with ``$ `` are the commands, the rest is their output). Any error fails.

A block that cannot run here is marked in the markdown, on the line just before its fence:

    <!-- snippet: skip REASON -->   not run (needs a real Kili key, a cluster, ...); counted
    <!-- snippet: exit N -->        run; the block's last command must exit with N (e.g. 1:
                                    ``kili-rules check`` found issues)
    <!-- snippet: emulator -->      run against a local Kili (``emulator exit N`` also works)

The ``emulator`` blocks of one file are one session, as the terminals of docs/local-kili.md
are: one ``kili-rules emulator --seed examples/local-kili/seed.json`` process (a free port),
the blocks in order in one folder, each with the ``KILI_API_ENDPOINT`` and ``KILI_API_KEY``
that the emulator prints; the emulator must then stop cleanly on SIGTERM.

An unknown marker, or a skip without a reason, fails the test (docs/README marker: see the
"Snippets" section of docs/recipes.md), and so does a skip whose reason starts with "to fix"
(a snippet wrong as written). What is skipped is printed, with its reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"python", "bash", "sh", "console"}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"<!--\s*snippet:\s*(.*?)\s*-->\s*\n\Z")


@dataclass(frozen=True)
class Snippet:
    where: str
    language: str
    code: str
    skip: str | None
    exit: int
    emulator: bool = False


def snippets() -> list[Snippet]:
    found = []
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group(1) not in LANGUAGES:
                continue
            line = text.count("\n", 0, match.start()) + 1
            where = f"{path.relative_to(ROOT)}:{line}"
            marker = MARKER.search(text[: match.start()])
            skip, code, emulator = None, 0, False
            if marker:
                words = marker.group(1)
                if words.startswith("skip"):
                    skip = words[4:].strip()
                    if not skip:
                        raise AssertionError(f"{where}: 'snippet: skip' needs a reason")
                elif found_words := re.fullmatch(r"(emulator)(?: exit (\d+))?|exit (\d+)", words):
                    emulator = found_words.group(1) is not None
                    code = int(found_words.group(2) or found_words.group(3) or 0)
                else:
                    raise AssertionError(f"{where}: unknown snippet marker {words!r}")
            found.append(Snippet(where, match.group(1), match.group(2), skip, code, emulator))
    return found


SNIPPETS = snippets()


EXIT_COMMENT = re.compile(r"#.*\bexit (\d+)\b")


def shell_of(snippet: Snippet) -> str:
    """The block as a script. In a ``console`` block each ``$`` command must exit 0, unless the
    block shows its code: ``$ echo $?`` and the number on the next line, or a comment on the
    command saying ``# exit N`` (``# exit 1: 5 assets break the rules``); then that code."""
    if snippet.language != "console":
        return snippet.code
    lines = snippet.code.splitlines()
    script: list[str] = []
    for i, line in enumerate(lines):
        if not line.startswith("$ "):
            continue
        if line.strip() == "$ echo $?":
            shown = lines[i + 1].strip() if i + 1 < len(lines) else ""
            script[-1] = script[-1].replace("test $rc -eq 0", f"test $rc -eq {int(shown)}")
            continue
        said = EXIT_COMMENT.search(line)
        want = int(said.group(1)) if said else 0
        # rc on its own line: a trailing comment on the command must not swallow it
        script += [line[2:], "rc=$?", f"test $rc -eq {want} || {{ echo exit $rc >&2; exit 9; }}"]
    return "\n".join(script)


def test_the_snippets_are_counted() -> None:
    skipped = [s for s in SNIPPETS if s.skip]
    ran = len(SNIPPETS) - len(skipped)
    # Counted, so that a change that skips more snippets shows in review.
    print(f"{len(SNIPPETS)} snippets: {ran} run, {len(skipped)} skipped")
    for s in skipped:
        print(f"  skipped {s.where}: {s.skip}")
    assert len(SNIPPETS) >= 38 and ran >= RAN_AT_LEAST
    # "to fix" marked a snippet wrong as written; none is left, and none may come back.
    to_fix = [s.where for s in skipped if s.skip and s.skip.startswith("to fix")]
    assert not to_fix, f"snippets marked 'to fix': {to_fix}"


# The number of blocks run today: a change that skips more of them fails here.
RAN_AT_LEAST = 17


def environment(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "KILI_SDK_SKIP_CHECKS": "1", "PYTHONPATH": ""}
    bin_dir = str(Path(sys.executable).parent)  # kili-rules of the installed package
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def run(snippet: Snippet, tmp_path: Path, env: dict[str, str]) -> None:
    if snippet.language == "python":
        command = [sys.executable, "-c", snippet.code]
    else:
        script = shell_of(snippet)
        strict = snippet.exit == 0 and snippet.language != "console"
        command = ["bash", "-c", ("set -e\n" if strict else "") + script]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == snippet.exit, (
        f"{snippet.where}: exit {done.returncode}, expected {snippet.exit}\n"
        f"{done.stdout[-1500:]}\n{done.stderr[-3000:]}"
    )
    # a traceback in a thread (a server, a worker) does not change the exit code, yet is a failure
    assert "Traceback (most recent call last)" not in done.stderr, (
        f"{snippet.where}: a traceback\n{done.stderr[-3000:]}"
    )


@pytest.mark.parametrize(
    "snippet", [s for s in SNIPPETS if not s.skip and not s.emulator], ids=lambda s: s.where
)
def test_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    run(snippet, tmp_path, environment(tmp_path))


SESSIONS: dict[str, list[Snippet]] = {}
for _s in SNIPPETS:
    if _s.emulator and not _s.skip:
        SESSIONS.setdefault(_s.where.split(":")[0], []).append(_s)


@contextlib.contextmanager
def emulator(cwd: Path, env: dict[str, str], log: Path) -> Iterator[dict[str, str]]:
    """A ``kili-rules emulator`` process; yields the variables its banner says to export.

    Its output goes to ``log`` (a pipe nobody reads after the banner could fill and block it).
    """
    command = ["kili-rules", "emulator", "--port", "0", "--seed", SEED]
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "stop it with" not in (banner := log.read_text()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"emulator not ready (exit {proc.poll()}):\n{banner}")
            time.sleep(0.1)
        exported = dict(re.findall(r"^\s*export (\w+)=(\S+)$", banner, re.M))
        assert set(exported) == {"KILI_API_ENDPOINT", "KILI_API_KEY"}, banner
        yield exported
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        assert code == 0, f"emulator: exit {code}\n{log.read_text()[-3000:]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


SEED = "examples/local-kili/seed.json"


@pytest.mark.parametrize("where", sorted(SESSIONS))
def test_emulator_session_runs(where: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(ROOT / "examples", work / "examples")
    # HOME here: the kili SDK's schema cache stays out of the user's
    env = {**environment(work), "HOME": str(work)}
    with emulator(work, env, tmp_path / "emulator.log") as exported:
        for snippet in SESSIONS[where]:
            run(snippet, work, {**env, **exported})
