#!/usr/bin/env python3
"""Fail on an import circle between the top-level modules of the Rust core (src/).

Reads every ``use crate::X`` / ``crate::X::`` in src/**/*.rs, maps each file to its top-level
module (src/label/..., src/error.rs -> error), and prints each cycle of that graph. Exit 1 on
a cycle, 0 when there is none. Usage: scripts/check_imports.py [SRC_DIR]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# `use crate::x`, `use crate::{x, y::z}`, and paths written inline (`crate::x::f()`)
USE_GROUP = re.compile(r"\bcrate::\{([^}]*)\}")
CRATE_PATH = re.compile(r"\bcrate::([A-Za-z_][A-Za-z0-9_]*)")
LINE_COMMENT = re.compile(r"//[^\n]*")


def top_module(src: Path, path: Path) -> str:
    rel = path.relative_to(src)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def graph(src: Path) -> dict[str, dict[str, list[str]]]:
    """module -> module it uses -> the files that use it (for the message)."""
    edges: dict[str, dict[str, list[str]]] = {}
    for path in sorted(src.rglob("*.rs")):
        here = top_module(src, path)
        if here in ("lib", "main"):
            continue  # the crate root declares every module; it is not one of them
        text = LINE_COMMENT.sub("", path.read_text(encoding="utf-8"))
        used = set(CRATE_PATH.findall(text))
        for group in USE_GROUP.findall(text):
            used.update(p.strip().split("::")[0] for p in group.split(",") if p.strip())
        for other in used - {here, "self"}:
            edges.setdefault(here, {}).setdefault(other, []).append(str(path.relative_to(src)))
    return edges


def cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main(argv: list[str]) -> int:
    src = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parent.parent / "src")
    if not src.is_dir():
        print(f"check_imports: {src} is not a directory", file=sys.stderr)
        return 2
    edges = graph(src)
    found = cycles(edges)
    for comp in found:
        print(f"cycle between top-level modules: {' <-> '.join(comp)}")
        for a in comp:
            for b in comp:
                for f in sorted(set(edges.get(a, {}).get(b, []))):
                    print(f"  {a} -> {b}: {f}")
    if found:
        return 1
    print(f"check_imports: no cycle between the {len(edges)} top-level modules of {src}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
