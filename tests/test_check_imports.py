"""scripts/check_imports.py finds import circles between the core's top-level modules and
between the submodules of src/batch/, on small crafted source trees and on the real one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_imports.py"


def run(src: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(SCRIPT), str(src)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def tree(tmp: Path, files: dict[str, str]) -> Path:
    src = tmp / "src"
    for name, text in {"lib.rs": "pub mod batch;\n", **files}.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src


MOD = "mod a;\nmod b;\npub use a::run;\npub struct Out;\n"


def test_the_core_has_no_circle() -> None:
    r = run(SCRIPT.parent.parent / "src")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "submodules of batch" in r.stdout


def test_siblings_in_a_circle(tmp_path: Path) -> None:
    src = tree(
        tmp_path,
        {
            "batch/mod.rs": MOD,
            "batch/a.rs": "use super::b::helper;\npub fn run() {}\n",
            "batch/b.rs": "use super::{a::run, Out};\npub fn helper() { crate::batch::a::run() }\n",
        },
    )
    r = run(src)
    assert r.returncode == 1, r.stdout
    assert "cycle between submodules of batch: a <-> b" in r.stdout, r.stdout
    assert "a -> b: batch/a.rs" in r.stdout and "b -> a: batch/b.rs" in r.stdout


def test_parent_code_using_a_child_that_uses_it(tmp_path: Path) -> None:
    files = {
        "batch/a.rs": "use super::Out;\npub fn run() -> Out { Out }\n",
        "batch/b.rs": "// super::a::run is only named in a comment\npub fn helper() {}\n",
    }
    # Re-exporting is the parent's interface, not a use...
    r = run(tree(tmp_path / "ok", {"batch/mod.rs": MOD, **files}))
    assert r.returncode == 0, r.stdout
    # ...but its code calling what it re-exports is.
    code = MOD + "pub fn go() -> Out { run() }\n"
    r = run(tree(tmp_path / "bad", {"batch/mod.rs": code, **files}))
    assert r.returncode == 1, r.stdout
    assert "cycle between submodules of batch: a <-> batch" in r.stdout, r.stdout
