"""docs/rules.md's field tables, the README's kind table and the Python rule classes are the
registry's, as the generator writes them; the check fails on a stale one and names the command
that regenerates it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gen_kind_docs.py"
COMMAND = ".venv/bin/python scripts/gen_kind_docs.py"


def copy_tree(to: Path) -> None:
    """The files the generator writes, copied to `to`."""
    (to / "docs").mkdir()
    (to / "python" / "kili_rules").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", to / "README.md")
    shutil.copy(ROOT / "docs" / "rules.md", to / "docs" / "rules.md")
    shutil.copy(ROOT / "python" / "kili_rules" / "rules.py", to / "python" / "kili_rules")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


def test_the_docs_tables_are_the_registrys() -> None:
    r = run("--check")
    assert r.returncode == 0, f"{r.stdout}{r.stderr}\nregenerate with: {COMMAND}"


def test_a_stale_table_is_found_named_and_rewritten(tmp_path: Path) -> None:
    copy_tree(tmp_path)
    rules_md = tmp_path / "docs" / "rules.md"
    text = (ROOT / "docs" / "rules.md").read_text()
    row = "| `max_iou` | number >= 0 | 0.9 | Largest IoU allowed (0 to 1) |"
    assert row in text
    rules_md.write_text(text.replace(row, row.replace("0.9", "0.8")))
    r = run("--check", "--root", str(tmp_path))
    assert r.returncode == 1
    assert r.stdout.strip() == (f"docs/rules.md differs from the kinds' registry: run {COMMAND}"), (
        r.stdout
    )
    assert run("--root", str(tmp_path)).returncode == 0
    assert rules_md.read_text() == text
    assert run("--check", "--root", str(tmp_path)).returncode == 0


def test_markers_missing_is_an_error_naming_the_file(tmp_path: Path) -> None:
    copy_tree(tmp_path)
    (tmp_path / "docs" / "rules.md").write_text("# Rules reference\n")
    r = run("--check", "--root", str(tmp_path))
    assert r.returncode == 1
    assert "rules.md: no <!-- generated:fields:count -->" in r.stderr


def test_a_python_class_out_of_step_with_the_registry_is_found(tmp_path: Path) -> None:
    copy_tree(tmp_path)
    py = tmp_path / "python" / "kili_rules" / "rules.py"
    text = py.read_text()
    line = "    max_iou: float | None = None\n"
    assert line in text
    py.write_text(text.replace(line, ""))
    r = run("--check", "--root", str(tmp_path))
    assert r.returncode == 1
    assert "python/kili_rules/rules.py differs" in r.stdout, r.stdout
    assert run("--root", str(tmp_path)).returncode == 0
    assert py.read_text() == text
