"""W5: `valid_polygon` on one large mask polygon; time per vertex must stay flat."""

from __future__ import annotations

from typing import Any

import baselines
import gen
from kili_rules import RuleSet
from results import Config, Result, Row, Target
from timing import per_call

RULES: dict[str, Any] = {"rule": [{"id": "valid", "kind": "valid_polygon", "job": "JOB_0"}]}
# Reads the same vertices but does next to nothing with them: the reading cost alone.
AREA_ONLY: dict[str, Any] = {"rule": [{"id": "area", "kind": "area", "job": "JOB_0", "max": 2}]}


def bow_tie_of(label: dict[str, Any]) -> dict[str, Any]:
    """The same polygon with two vertices a quarter turn apart swapped: must be invalid."""
    import copy

    bad = copy.deepcopy(label)
    vs = bad["jsonResponse"]["JOB_0"]["annotations"][0]["boundingPoly"][0]["normalizedVertices"]
    n = len(vs)
    vs[n // 8], vs[3 * n // 8] = vs[3 * n // 8], vs[n // 8]
    return bad


def measure(rs: RuleSet, label: dict[str, Any], cfg: Config, tag: str) -> list[Row]:
    """The rows for one polygon, after checking that both sides agree on it."""
    import shapely

    vs = label["jsonResponse"]["JOB_0"]["annotations"][0]["boundingPoly"][0]
    n = len(vs["normalizedVertices"])
    body = baselines.to_json_bytes(label)
    if rs.validate(label) or rs.validate(body) or not baselines.shapely_polygon_from_dict(label):
        raise AssertionError(f"W5: the {n}-vertex{tag} polygon should be valid on both sides")
    bad = bow_tie_of(label)
    if len(rs.validate(bad)) != 1 or baselines.shapely_polygon_from_dict(bad):
        raise AssertionError(f"W5: the {n}-vertex{tag} bow-tie should be invalid on both sides")
    poly = shapely.Polygon([(p["x"], p["y"]) for p in vs["normalizedVertices"]])
    r, secs = cfg.repeat, (0.02 if cfg.smoke else 0.2)
    name = f"{n:,} vertices{tag}"
    area_only = RuleSet.from_dict(AREA_ONLY)
    b = Row(
        f"{name}: shapely `Polygon(...)` from the dict + `is_valid`",
        per_call(lambda: baselines.shapely_polygon_from_dict(label), r, secs),
        n,
        "vertices",
    )
    return [
        b,
        Row(
            f"{name}: shapely `is_valid` on a built polygon (reference)",
            per_call(lambda: shapely.is_valid(poly), r, secs),
            n,
            "vertices",
            b,
        ),
        Row(
            f"{name}: kili-rules `validate(label)` (dict)",
            per_call(lambda: rs.validate(label), r, secs),
            n,
            "vertices",
            b,
        ),
        Row(
            f"{name}: kili-rules `validate(body)` (JSON bytes)",
            per_call(lambda: rs.validate(body), r, secs),
            n,
            "vertices",
            b,
        ),
        Row(
            f"{name}: kili-rules `validate(label)`, an `area` rule instead (reading cost)",
            per_call(lambda: area_only.validate(label), r, secs),
            n,
            "vertices",
            b,
        ),
    ]


def run(cfg: Config) -> Result:
    rs = RuleSet.from_dict(RULES)
    sizes = [1_000, 10_000] if cfg.smoke else [1_000, 10_000, 100_000]
    rows: list[Row] = []
    spiky: list[Row] = []
    per_vertex: dict[str, dict[int, float]] = {"dict": {}, "bytes": {}}
    for n in sizes:
        measured = measure(rs, gen.w5_label(n), cfg, "")
        rows += measured
        per_vertex["dict"][n] = measured[2].timing.median / n
        per_vertex["bytes"][n] = measured[3].timing.median / n
    for n in sizes:
        spiky += measure(rs, gen.w5_label(n, spiky=True), cfg, ", spiky")
    setup = (
        "One polygon per size, like a traced mask outline: a circle of radius 0.4 whose "
        "vertices are jittered by up to a third of the vertex spacing (radially and "
        "angularly), so the outline has the same shape at every size and is valid by "
        "construction (`bench/gen.py: w5_label`). Rule: `valid_polygon`. Ratios are against "
        "building the shapely polygon from the same dict and calling `is_valid` (what a user "
        "would do); shapely's `is_valid` alone is listed as a reference, and an `area` rule on the "
        "same label shows what reading the vertices costs without the validity check."
    )
    check = (
        "Asserted both sides call every polygon valid, and both call the same polygon with "
        "two vertices a quarter turn apart swapped invalid."
    )
    res = Result("W5", "Large masks: valid_polygon per vertex", setup, check, rows)
    from render import table

    res.extra.append(
        "Not a target, for the record: a *spiky* ring of the same sizes (radial jitter 3% of "
        "the radius, i.e. hundreds of vertex spacings at 100k vertices: a valid but hairy "
        "zig-zag). Every segment's x range then overlaps hundreds of others, so any sweep or "
        "envelope index does more work per vertex as the size grows, GEOS included:\n\n"
        + table(spiky)
    )
    for path in ("dict", "bytes"):
        pv = per_vertex[path]
        spread = max(pv.values()) / min(pv.values())
        ns = " / ".join(f"{pv[n] * 1e9:.1f}" for n in sizes)
        res.targets.append(
            Target(
                f"time per vertex flat within 2x, {sizes[0]:,} to {sizes[-1]:,} ({path})",
                f"{ns} ns/vertex ({spread:.2f}x)",
                spread <= 2.0,
            )
        )
    return res
