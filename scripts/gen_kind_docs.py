"""Write the kinds' field tables in docs/rules.md, the README's kind table and the Python rule
classes of python/kili_rules/rules.py from the native
registry of the installed package (kinds and fields in the registry's order, each field's JSON
Schema), between marker comments.

    .venv/bin/python scripts/gen_kind_docs.py          # rewrite the files
    .venv/bin/python scripts/gen_kind_docs.py --check  # exit 1 if they differ (what CI runs)
    ... --root DIR                                     # another copy of README.md and docs/
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any


def _native() -> Any:
    """The installed package's native module, loaded without running kili_rules/__init__.py
    (which imports rules.py: a stale or broken rules.py must not stop its own regeneration)."""
    import importlib.machinery
    import importlib.util

    pkg = importlib.util.find_spec("kili_rules")
    if pkg is None or not pkg.submodule_search_locations:
        raise SystemExit("kili_rules is not installed")
    for folder in pkg.submodule_search_locations:
        for so in sorted(Path(folder).glob("_native*.so")):
            loader = importlib.machinery.ExtensionFileLoader("kili_rules._native", str(so))
            spec = importlib.util.spec_from_loader("kili_rules._native", loader)
            if spec is not None:
                module = importlib.util.module_from_spec(spec)
                loader.exec_module(module)
                return module
    raise SystemExit("kili_rules has no native module (_native*.so)")


ROOT = Path(__file__).resolve().parent.parent
COMMAND = ".venv/bin/python scripts/gen_kind_docs.py"


def _type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " / ".join(f'`"{v}"`' for v in prop["enum"])
    if "anyOf" in prop:
        return "string or list of strings"
    kind = prop.get("type")
    if kind == "array":
        return "list of lists of strings"
    if kind == "integer":
        return "whole number >= 0"
    if kind == "number":
        return "number >= 0" if prop.get("minimum") == 0 else "number"
    if kind == "string" and prop.get("format") == "regex":
        return "regex"
    return {"string": "string", "boolean": "bool"}.get(str(kind), str(kind))


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return ""
    d = prop["default"]
    if isinstance(d, bool):
        return "true" if d else "false"
    if isinstance(d, str):
        return f'`"{d}"`'
    return str(d)


def kinds() -> list[dict[str, Any]]:
    """[{name, doc, fields: [{name, schema}]}], in the registry's order."""
    out: list[dict[str, Any]] = json.loads(_native().Engine.registry_json())
    return out


def field_table(kind: dict[str, Any]) -> str:
    if not kind["fields"]:
        return "No field of its own."
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for f in kind["fields"]:
        s = f["schema"]
        lines.append(f"| `{f['name']}` | {_type(s)} | {_default(s)} | {s.get('description', '')} |")
    return "\n".join(lines)


def kind_table() -> str:
    lines = ["| kind | checks | fields |", "|---|---|---|"]
    for k in kinds():
        names = []
        for f in k["fields"]:
            d = _default(f["schema"])
            names.append(f"`{f['name']}`" + (f" (default {d})" if d else ""))
        link = f"[`{k['name']}`](docs/rules.md#{k['name']})"
        lines.append(f"| {link} | {k['doc']} | {', '.join(names) or '—'} |")
    return "\n".join(lines)


def _py_type(s: dict[str, Any]) -> str:
    if "enum" in s:
        return "Literal[" + ", ".join(f'"{v}"' for v in s["enum"]) + "]"
    if "anyOf" in s:
        return "list[str]"
    kind = s.get("type")
    if kind == "array":
        return "list[list[str]]"
    return {"integer": "int", "number": "float", "boolean": "bool"}.get(str(kind), "str")


def python_classes() -> str:
    out: list[str] = []
    for k in kinds():
        cls = "".join(w.capitalize() for w in k["name"].split("_"))
        doc = textwrap.fill(k["doc"], 90, initial_indent="    ", subsequent_indent="    ")
        out += ["", "", "@dataclass(frozen=True)", f"class {cls}(Rule):"]
        out += [f'    """{doc.strip()}"""' if "\n" not in doc else f'    """{doc.strip()}\n    """']
        out += ["", f'    kind: ClassVar[str] = "{k["name"]}"']
        out += [f"    {f['name']}: {_py_type(f['schema'])} | None = None" for f in k["fields"]]
    return "\n".join(out[2:])


def _between(text: str, tag: str, body: str, where: str, py: bool = False) -> str:
    start, end = f"<!-- generated:{tag} -->", f"<!-- /generated:{tag} -->"
    if py:
        start, end = f"# generated:{tag}", f"# /generated:{tag}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{where}: no {start} ... {end} markers")
    note = f"<!-- written by {COMMAND}; edit the kind's Rust file, not this table -->"
    if py:
        note = f"# Written by {COMMAND}: edit the kinds' Rust files."
    # (Python: the blank lines ruff format keeps, so that formatting leaves the file as is.)
    tail = "\n\n\n" if py else "\n"
    return pattern.sub(lambda _: f"{start}\n{note}\n{body}{tail}{end}", text)


def render(root: Path) -> dict[Path, str]:
    rules_md = root / "docs" / "rules.md"
    text = rules_md.read_text()
    for k in kinds():
        text = _between(text, f"fields:{k['name']}", field_table(k), str(rules_md))
    readme = root / "README.md"
    py = root / "python" / "kili_rules" / "rules.py"
    return {
        rules_md: text,
        readme: _between(readme.read_text(), "kinds", kind_table(), str(readme)),
        py: _between(py.read_text(), "classes", python_classes(), str(py), py=True),
    }


def main(argv: list[str]) -> int:
    root = Path(argv[argv.index("--root") + 1]) if "--root" in argv else ROOT
    rendered = render(root)
    stale = [p for p, text in rendered.items() if p.read_text() != text]
    if "--check" in argv:
        for p in stale:
            print(f"{p.relative_to(root)} differs from the kinds' registry: run {COMMAND}")
        return 1 if stale else 0
    for p, text in rendered.items():
        p.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
