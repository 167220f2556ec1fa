"""Every python and shell snippet of README.md and docs/*.md runs as written (issue 19).

Each fenced ``python``, ``bash``, ``sh`` or ``console`` block runs against the installed package
in a fresh temp dir holding a copy of the bundled ``examples/`` (the paths the docs use); a
python block in its own interpreter, a shell block in ``bash -e`` (``console`` blocks: the
lines starting with ``$ `` are the commands, the rest is their output). Any error fails.

A block that cannot run here is marked in the markdown, on the line just before its fence:

    <!-- snippet: skip REASON -->   not run (needs a real Kili key, a cluster, ...); counted
    <!-- snippet: exit N -->        run; the block's last command must exit with N (e.g. 1:
                                    ``kili-rules check`` found issues)

An unknown marker, or a skip without a reason, fails the test (docs/README marker: see the
"Snippets" section of docs/recipes.md). A skip whose reason starts with "to fix" marks a
snippet that is wrong as written and not fixed yet; the count is printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
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
            skip, code = None, 0
            if marker:
                words = marker.group(1)
                if words.startswith("skip"):
                    skip = words[4:].strip()
                    if not skip:
                        raise AssertionError(f"{where}: 'snippet: skip' needs a reason")
                elif re.fullmatch(r"exit \d+", words):
                    code = int(words.split()[1])
                else:
                    raise AssertionError(f"{where}: unknown snippet marker {words!r}")
            found.append(Snippet(where, match.group(1), match.group(2), skip, code))
    return found


SNIPPETS = snippets()


def shell_of(snippet: Snippet) -> str:
    """The block as a script. In a ``console`` block each ``$`` command must exit 0, unless the
    block shows its code (``$ echo $?`` and the number on the next line): then that code."""
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
        script += [line[2:] + "; rc=$?", "test $rc -eq 0 || { echo exit $rc >&2; exit 9; }"]
    return "\n".join(script)


def test_the_snippets_are_counted() -> None:
    skipped = [s for s in SNIPPETS if s.skip]
    ran = len(SNIPPETS) - len(skipped)
    # Counted, so that a change that skips more snippets shows in review.
    print(f"{len(SNIPPETS)} snippets: {ran} run, {len(skipped)} skipped")
    for s in skipped:
        print(f"  skipped {s.where}: {s.skip}")
    assert len(SNIPPETS) >= 30 and ran >= 2
    # "to fix" marks a snippet that is wrong as written and not fixed yet: counted apart.
    to_fix = [s for s in skipped if s.skip and s.skip.startswith("to fix")]
    print(f"  of which {len(to_fix)} to fix")


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if not s.skip], ids=lambda s: s.where)
def test_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {**os.environ, "KILI_SDK_SKIP_CHECKS": "1", "PYTHONPATH": ""}
    bin_dir = str(Path(sys.executable).parent)  # kili-rules of the installed package
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
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
