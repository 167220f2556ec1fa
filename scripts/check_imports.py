#!/usr/bin/env python3
"""Fail on an import circle between the top-level modules of the Rust core (src/), or between
the submodules of one of its packages (PACKAGES: src/batch/ today).

Top level: reads every ``use crate::X`` / ``crate::X::`` in src/**/*.rs, maps each file to its
top-level module (src/label/..., src/error.rs -> error), and prints each cycle of that graph.

A package (src/P/): its nodes are its submodules (src/P/x.rs, src/P/x/...) and P itself (the
code of src/P/mod.rs). A submodule's ``super::X``, ``crate::P::X`` and ``self::X`` (in mod.rs)
name the submodule X, or P when X is an item of mod.rs. mod.rs's ``mod x;`` and ``pub use
x::...`` lines declare its interface and are not uses; its code using a re-exported name (or a
bare ``x::`` path) is a use of that submodule.

Exit 1 on a cycle, 0 when there is none. Usage: scripts/check_imports.py [SRC_DIR]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# `use crate::x`, `use crate::{x, y::z}`, and paths written inline (`crate::x::f()`)
USE_GROUP = re.compile(r"\bcrate::\{([^}]*)\}")
CRATE_PATH = re.compile(r"\bcrate::([A-Za-z_][A-Za-z0-9_]*)")
LINE_COMMENT = re.compile(r"//[^\n]*")
# The submodules whose circles are checked too.
PACKAGES = ("batch",)
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
DECLARATION = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:mod|use)\s[^;]*;", re.M)
REEXPORT = re.compile(rf"^\s*pub(?:\([^)]*\))?\s+use\s+({IDENT})::(\{{[^}}]*\}}|{IDENT})\s*;", re.M)


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


def package_graph(src: Path, pkg: str) -> dict[str, dict[str, list[str]]]:
    """The graph of src/PKG's submodules (PKG itself stands for the code of its mod.rs)."""
    root = src / pkg
    children = {p.stem for p in root.glob("*.rs") if p.name != "mod.rs"}
    children |= {d.name for d in root.iterdir() if d.is_dir()}
    inner = rf"(?:crate::{pkg}|super|self)"
    path_re = re.compile(rf"\b{inner}::({IDENT})")
    group_re = re.compile(rf"\b{inner}::\{{([^}}]*)\}}")
    edges: dict[str, dict[str, list[str]]] = {}
    for path in sorted(root.rglob("*.rs")):
        rel = path.relative_to(root)
        here = pkg if rel.parts == ("mod.rs",) else Path(rel.parts[0]).stem
        text = LINE_COMMENT.sub("", path.read_text(encoding="utf-8"))
        if here == pkg:
            # The parent: its declarations are its interface; its code's uses of what it
            # re-exports, or of a bare `child::` path, are uses of the child.
            reexported: dict[str, str] = {}
            for child, names in REEXPORT.findall(text):
                for n in names.strip("{}").split(","):
                    n = n.strip().split(" as ")[-1].strip()
                    if n and child in children:
                        reexported[n] = child
            code = DECLARATION.sub("", text)
            code = re.sub(r"\bsuper::", "", code)  # the crate root, not a sibling
            used = {reexported.get(n, n) for n in path_re.findall(code)}
            used |= {n for n in re.findall(rf"\b({IDENT})::", code) if n in children}
            used |= {c for n, c in reexported.items() if re.search(rf"\b{n}\b", code)}
        else:
            if len(rel.parts) > 1 and rel.parts[-1] != "mod.rs":
                text = re.sub(r"\bsuper::", "", text)  # its own parent, inside this node
            used = set(path_re.findall(text))
            for group in group_re.findall(text):
                used.update(p.strip().split("::")[0] for p in group.split(",") if p.strip())
        for other in {u if u in children else pkg for u in used} - {here}:
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
    graphs = [("top-level modules", graph(src))]
    for p in PACKAGES:
        if (src / p).is_dir():
            graphs.append((f"submodules of {p}", package_graph(src, p)))
    failed = False
    for what, edges in graphs:
        found = cycles(edges)
        for comp in found:
            print(f"cycle between {what}: {' <-> '.join(comp)}")
            for a in comp:
                for b in comp:
                    for f in sorted(set(edges.get(a, {}).get(b, []))):
                        print(f"  {a} -> {b}: {f}")
        if found:
            failed = True
        else:
            print(f"check_imports: no cycle between the {len(edges)} {what} of {src}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
