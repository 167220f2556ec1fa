"""A rulebook learned from accepted labels (``kili-rules suggest``).

The measures are computed here from the label records (jsonResponse) so that what is learned is
exactly what the rules later judge: per job and category, objects per label, the bounding
extent's width, height and area, whether every object answers a child job, transcription
lengths and alphabets, and the answer sets of classifications. Bounds are quantiles widened by
a margin, so a fresh sample of the same distribution passes and gross errors (a box ten times
too big, a count over the maximum) do not. Every rule carries a comment with its support.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kili_rules import deep_json
from kili_rules.init import _toml

__all__ = ["Profile", "accepted_responses", "profile_responses", "suggest_rules"]

#: Asset statuses whose labels count as accepted (an asset sent back is ONGOING again).
ACCEPTED_STATUSES = frozenset({"LABELED", "REVIEWED"})


@dataclass
class _Scope:
    counts: list[int] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    heights: list[float] = field(default_factory=list)
    areas: list[float] = field(default_factory=list)
    polygons: int = 0
    objects: int = 0
    children: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class Profile:
    """What the accepted labels look like, per (job, category)."""

    labels: int = 0
    objects: dict[tuple[str, str], _Scope] = field(default_factory=lambda: defaultdict(_Scope))
    texts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    answered: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _response_of(record: Mapping[str, Any], n: int) -> Mapping[str, Any] | None:
    label: Any = record
    if "jsonResponse" not in record:
        label = record.get("latestLabel")
        if not isinstance(label, Mapping):
            labels = record.get("labels")
            label = labels[-1] if isinstance(labels, list) and labels else None
    if not isinstance(label, Mapping):
        return None
    response = label.get("jsonResponse")
    if isinstance(response, (str, bytes)):
        # as Kili's API sends it (a live project): decoded at any depth, never recursing
        try:
            response = deep_json.loads(response)
        except ValueError as error:
            raise ValueError(f"record {n}: jsonResponse is not JSON ({error})") from None
    return response if isinstance(response, Mapping) else None


def accepted_responses(records: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The jsonResponses of accepted labels: where a record has a ``status``, only LABELED or
    REVIEWED assets (not sent back); a record without one is taken as accepted."""
    out = []
    for n, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(f"record {n}: expected an object, got {type(record).__name__}")
        status = record.get("status")
        if status is not None and status not in ACCEPTED_STATUSES:
            continue
        response = _response_of(record, n)
        if response is not None:
            out.append(response)
    return out


def _points(annotation: Mapping[str, Any]) -> list[tuple[float, float]]:
    verts: list[tuple[float, float]] = []
    for part in annotation.get("boundingPoly") or []:
        for v in part.get("normalizedVertices") or [] if isinstance(part, Mapping) else []:
            if isinstance(v, Mapping):
                x, y = v.get("x"), v.get("y")
                if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                    verts.append((float(x), float(y)))
    return verts


def _walk(
    response: Mapping[str, Any], profile: Profile, per_label: dict[tuple[str, str], int]
) -> None:
    for job, value in response.items():
        if not isinstance(value, Mapping):
            continue
        if isinstance(value.get("text"), str) and value["text"]:
            profile.texts[job].append(value["text"])
        if isinstance(value.get("categories"), list):
            profile.answered[job] += 1
            for cat in value["categories"]:
                if isinstance(cat, Mapping) and isinstance(cat.get("name"), str):
                    profile.answers[job].add(cat["name"])
                    if isinstance(cat.get("children"), Mapping):
                        _walk(cat["children"], profile, per_label)
        for ann in value.get("annotations") or []:
            if not isinstance(ann, Mapping):
                continue
            cats = ann.get("categories") or []
            name = cats[0].get("name") if cats and isinstance(cats[0], Mapping) else None
            if not isinstance(name, str):
                continue
            scope = profile.objects[(job, name)]
            per_label[(job, name)] = per_label.get((job, name), 0) + 1
            scope.objects += 1
            pts = _points(ann)
            if pts:
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                w, h = max(xs) - min(xs), max(ys) - min(ys)
                scope.widths.append(w)
                scope.heights.append(h)
                scope.areas.append(w * h)
            if ann.get("type") in ("polygon", "semantic"):
                scope.polygons += 1
            children = ann.get("children")
            if isinstance(children, Mapping):
                for child, answer in children.items():
                    if isinstance(answer, Mapping) and (
                        answer.get("text") or answer.get("categories") or answer.get("annotations")
                    ):
                        scope.children[child] += 1
                _walk(children, profile, per_label)


def profile_responses(responses: Iterable[Mapping[str, Any]]) -> Profile:
    profile = Profile()
    for response in responses:
        per_label: dict[tuple[str, str], int] = {}
        _walk(response, profile, per_label)
        profile.labels += 1
        for key in profile.objects:
            profile.objects[key].counts.append(per_label.get(key, 0))
    # Scopes first seen after some labels miss the zeros of those earlier labels.
    for scope in profile.objects.values():
        scope.counts[:0] = [0] * (profile.labels - len(scope.counts))
    return profile


def _quantile(values: list[float], q: float) -> float:
    # one definition of the quantile (numpy's linear rule), the profiles'
    from kili_rules.profile import _quantile as quantile_of_sorted

    return quantile_of_sorted(sorted(values), q)


def _round(value: float, up: bool) -> float:
    # Three significant digits, rounded outward so the bound never tightens.
    if value <= 0:
        return 0.0
    digits = 2 - math.floor(math.log10(value))
    scaled = value * 10.0**digits
    whole = math.ceil(scaled) if up else math.floor(scaled)
    # round() drops the binary noise of the division (0.00262, not 0.0026200000000000004).
    return round(whole / 10.0**digits, digits)


def _alphabet(texts: list[str]) -> str | None:
    classes = [("0-9", r"[0-9]"), ("A-Z", r"[A-Z]"), ("a-z", r"[a-z]"), (" ", r" ")]
    seen = [c for c, rx in classes if any(re.search(rx, t) for t in texts)]
    body = "".join(c for c, _ in classes if c in seen)
    if not body or not all(re.fullmatch(f"[{body}]+", t) for t in texts):
        return None
    return f"^[{body}]+$"


def suggest_rules(
    responses: list[Mapping[str, Any]],
    *,
    quantile: float = 0.001,
    margin: float = 1.5,
    min_support: int = 20,
    source: str = "the accepted labels",
) -> str:
    """A TOML rulebook from accepted jsonResponses. ``quantile`` is the tail cut on each side
    (bounds are the q and 1-q quantiles), ``margin`` widens them (divides the lower, multiplies
    the upper); scopes with fewer than ``min_support`` samples get no bound."""
    if not 0 <= quantile < 0.5:
        raise ValueError(f"--quantile must be in [0, 0.5), got {quantile}")
    profile = profile_responses(responses)
    if profile.labels == 0:
        raise ValueError(f"{source}: no accepted label to learn from")
    blocks: list[str] = [
        f"# Suggested by kili-rules suggest from {profile.labels} accepted labels of {source}\n"
        f"# quantile {quantile} on each side, margin x{margin}; review before enforcing."
    ]
    ids: set[str] = set()

    def rule(why: str, fields: Mapping[str, Any]) -> None:
        base = "-".join(str(fields[k]) for k in ("kind", "job", "category") if k in fields)
        base = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
        rid, n = base, 2
        while rid in ids:
            rid, n = f"{base}-{n}", n + 1
        ids.add(rid)
        lines = [f"# {why}", "[[rule]]", f"id = {_toml(rid)}"]
        lines += [f"{k} = {_toml(v)}" for k, v in fields.items()]
        blocks.append("\n".join(lines))

    for (job, cat), scope in sorted(profile.objects.items()):
        where = {"job": job, "category": cat}
        counts = [float(c) for c in scope.counts]
        if len(counts) >= min_support:
            top = math.ceil(_quantile(counts, 1 - quantile) * margin)
            rule(
                f"support {len(counts)} labels; {1 - quantile} quantile of objects per label "
                f"{_quantile(counts, 1 - quantile):g}, x{margin}",
                {"kind": "count", **where, "max": max(top, 1)},
            )
        if len(scope.widths) >= min_support:
            box: dict[str, Any] = {"kind": "box", **where}
            for name, values in (
                ("width", scope.widths),
                ("height", scope.heights),
                ("area", scope.areas),
            ):
                lo = _round(_quantile(values, quantile) / margin, up=False)
                if lo > 0:
                    box[f"min_{name}"] = lo
                box[f"max_{name}"] = _round(_quantile(values, 1 - quantile) * margin, up=True)
            rule(
                f"support {len(scope.widths)} objects; width, height and extent area within "
                f"the {quantile} and {1 - quantile} quantiles, margin x{margin}",
                box,
            )
            rule(
                f"support {len(scope.widths)} objects; every vertex seen was in the image",
                {"kind": "inside_image", **where},
            )
        if scope.polygons >= min_support:
            rule(f"support {scope.polygons} polygons", {"kind": "valid_polygon", **where})
        for child, seen in sorted(scope.children.items()):
            if scope.objects >= min_support and seen == scope.objects:
                rule(
                    f"support {scope.objects} objects; all of them answer {child}",
                    {"kind": "required", **where, "child": child},
                )
    for job, texts in sorted(profile.texts.items()):
        if len(texts) < min_support:
            continue
        lengths = [float(len(t)) for t in texts]
        text: dict[str, Any] = {
            "kind": "text",
            "job": job,
            "min_length": max(1, math.floor(_quantile(lengths, quantile) / margin)),
            "max_length": math.ceil(_quantile(lengths, 1 - quantile) * margin),
        }
        pattern = _alphabet(texts)
        if pattern is not None:
            text["pattern"] = pattern
        rule(
            f"support {len(texts)} texts; lengths within the {quantile} and "
            f"{1 - quantile} quantiles, margin x{margin}; alphabet as seen",
            text,
        )
    for job, answers in sorted(profile.answers.items()):
        if profile.answered[job] >= min_support:
            rule(
                f"support {profile.answered[job]} answers; every category seen",
                {"kind": "answer", "job": job, "allowed": sorted(answers)},
            )
    return "\n\n".join(blocks) + "\n"
