"""The project stands alone: no file cites material that is not in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITATION = re.compile(r"reference/|kili-webhook-tutorial|\.\./shared|/work/shared|(?<![\w/])seed/")
SCANNED = {".rs", ".py", ".pyi", ".md", ".toml", ".ipynb", ".txt", ".sh", ".yml", ".yaml", ""}
SKIPPED_DIRS = {".git", "target", ".venv", "node_modules", "dist", "__pycache__", "data"}


def _files() -> list[Path]:
    out = []
    for p in ROOT.rglob("*"):
        rel = p.relative_to(ROOT)
        if any(part in SKIPPED_DIRS or part.startswith(".venv") for part in rel.parts[:-1]):
            continue
        if p.is_file() and p.suffix in SCANNED and p.stat().st_size < 2_000_000:
            out.append(p)
    return out


def test_no_citation_of_files_outside_the_repository() -> None:
    files = _files()
    assert any(f.name == "README.md" for f in files)
    hits = []
    for f in files:
        if f.name == "test_standalone.py":
            continue
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            if CITATION.search(line):
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert hits == []
