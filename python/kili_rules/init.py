"""A first rulebook from a project's jsonInterface (``kili-rules init``).

Every job gets the rules its ontology already implies: a required job is answered, a
classification's answers come from its categories (one for a radio button), geometry stays
inside the image and polygons are valid, boxes are not degenerate, transcriptions and entities
are not empty, required child jobs are answered on each object. Each rule carries a comment
saying why it is there, so a team edits a file it understands instead of starting from nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["starter_rulebook"]

#: Geometry tools whose vertices must lie in the image.
_VERTEX_TOOLS = {"rectangle", "polygon", "semantic", "polyline", "vector", "marker", "point"}
_AREA_TOOLS = {"polygon", "semantic"}


class _Book:
    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.ids: set[str] = set()

    def rule(self, why: str, fields: Mapping[str, Any]) -> None:
        base = re.sub(r"[^a-z0-9]+", "-", f"{fields['job']}-{fields['kind']}".lower()).strip("-")
        rid, n = base, 2
        while rid in self.ids:
            rid, n = f"{base}-{n}", n + 1
        self.ids.add(rid)
        lines = [f"# {why}", "[[rule]]", f"id = {_toml(rid)}"]
        lines += [f"{key} = {_toml(value)}" for key, value in fields.items()]
        self.blocks.append("\n".join(lines))


def _toml(value: Any) -> str:
    # JSON strings, numbers, booleans and lists of strings are valid TOML as they are.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value, ensure_ascii=False)


def _categories(job: Mapping[str, Any]) -> dict[str, Any]:
    content = job.get("content")
    cats = content.get("categories") if isinstance(content, Mapping) else None
    return dict(cats) if isinstance(cats, Mapping) else {}


def _child_jobs(category: Any) -> list[str]:
    children = category.get("children") if isinstance(category, Mapping) else None
    return [c for c in children if isinstance(c, str)] if isinstance(children, list) else []


def starter_rulebook(interface: Mapping[str, Any], *, source: str = "the jsonInterface") -> str:
    """The TOML text of a commented starting rulebook for ``interface`` (a jsonInterface)."""
    jobs = interface.get("jobs")
    if not isinstance(jobs, Mapping) or not jobs:
        raise ValueError(f"{source}: no jobs (expected an object with a non-empty 'jobs')")
    book = _Book()
    for name, job in jobs.items():
        if not isinstance(job, Mapping):
            raise ValueError(f"{source}: job {name!r} is not an object")
        task = str(job.get("mlTask", ""))
        tools = {t for t in job.get("tools", []) or [] if isinstance(t, str)}
        cats = _categories(job)
        title = job.get("instruction") or name
        if job.get("required") and not job.get("isChild"):
            book.rule(
                f"{title}: the interface marks this job required",
                {"kind": "required", "job": name},
            )
        if task == "CLASSIFICATION" and cats:
            fields: dict[str, Any] = {"kind": "answer", "job": name, "allowed": sorted(cats)}
            content = job.get("content")
            single = isinstance(content, Mapping) and content.get("input") in ("radio", "single")
            if single:
                fields["max"] = 1
            book.rule(
                f"{title}: only the interface's categories"
                + (", one answer (a radio button)" if single else ""),
                fields,
            )
        if task == "OBJECT_DETECTION":
            if tools & _VERTEX_TOOLS:
                book.rule(
                    f"{title}: every vertex inside the image",
                    {"kind": "inside_image", "job": name},
                )
            if tools & _AREA_TOOLS:
                book.rule(
                    f"{title}: polygons with 3+ distinct vertices, an area, no self-crossing",
                    {"kind": "valid_polygon", "job": name},
                )
            if "rectangle" in tools:
                book.rule(
                    f"{title}: no degenerate box (tune the bounds to your objects' sizes)",
                    {"kind": "box", "job": name, "min_width": 0.001, "min_height": 0.001},
                )
            if tools & ({"rectangle"} | _AREA_TOOLS):
                book.rule(
                    f"{title}: two objects of one category covering the same place are duplicates",
                    {"kind": "overlap", "job": name, "max_iou": 0.9},
                )
        if task == "TRANSCRIPTION":
            book.rule(
                f"{title}: a transcription is not empty",
                {"kind": "text", "job": name, "min_length": 1, "strip": True},
            )
        if task == "NAMED_ENTITIES_RECOGNITION":
            book.rule(
                f"{title}: an entity spans at least one character",
                {"kind": "entity", "job": name, "min_length": 1},
            )
        for cat_name, cat in cats.items():
            for child in _child_jobs(cat):
                child_job = jobs.get(child)
                if not (isinstance(child_job, Mapping) and child_job.get("required")):
                    continue
                if task == "OBJECT_DETECTION":
                    book.rule(
                        f"{title} / {cat_name}: each object answers its required child {child}",
                        {"kind": "required", "job": name, "category": cat_name, "child": child},
                    )
                else:
                    book.rule(
                        f"{title} / {cat_name}: its required child {child} is answered when "
                        f"{cat_name} is chosen",
                        {
                            "kind": "required",
                            "job": child,
                            "when": {"job": name, "answer": cat_name},
                        },
                    )
    head = (
        f"# A starting rulebook written by `kili-rules init` from {source}.\n"
        "# Each rule says why it is here. Tune the bounds, add the rules only your team knows\n"
        "# (counts, sizes, text patterns: see docs/rules.md), then check it with\n"
        "#   kili-rules lint rules.toml --interface interface.json\n"
    )
    if not book.blocks:
        return head + "# The interface implies no rule: start from docs/rules.md.\n"
    return head + "\n" + "\n\n".join(book.blocks) + "\n"
