"""W2: geometry-heavy labels: polygon validity, same-category overlap and area, vs shapely 2."""

from __future__ import annotations

from collections import Counter
from typing import Any

import baselines
import gen
from kili_rules import RuleSet
from results import Config, Result, Row, Target
from timing import interleaved

from workloads.common import assert_same, fmt_count, frozen, kili_keys

SEED = 2
AREA_MIN, AREA_MAX, MAX_IOU = 0.001, 0.02, 0.5
RULES: dict[str, Any] = {
    "rule": [
        {"id": "valid", "kind": "valid_polygon", "job": "JOB_0"},
        {"id": "area", "kind": "area", "job": "JOB_0", "min": AREA_MIN, "max": AREA_MAX},
        {"id": "overlap", "kind": "overlap", "job": "JOB_0", "max_iou": MAX_IOU},
    ]
}


def shapely_run(
    labels: list[dict[str, Any]], stats: dict[str, int] | None = None
) -> list[baselines.IssueKey]:
    return baselines.shapely_geometry(
        labels, job="JOB_0", area_min=AREA_MIN, area_max=AREA_MAX, max_iou=MAX_IOU, stats=stats
    )


def run(cfg: Config) -> Result:
    n = 300 if cfg.smoke else 20_000
    rs = RuleSet.from_dict(RULES)
    with frozen(lambda: gen.w2_labels(n, SEED)) as labels:
        polys = sum(len(lab["jsonResponse"]["JOB_0"]["annotations"]) for lab in labels)
        verts = sum(
            len(a["boundingPoly"][0]["normalizedVertices"])
            for lab in labels
            for a in lab["jsonResponse"]["JOB_0"]["annotations"]
        )
        stats: dict[str, int] = {}
        base = set(shapely_run(labels, stats))
        kili = kili_keys(rs.validate_many(labels, threads=1, progress=False), text=False)
        assert_same("W2", base, kili)
        by_rule = Counter(k[1] for k in base)

        t_base, t_one, t_all = interleaved(
            [
                lambda: shapely_run(labels),
                lambda: rs.validate_many(labels, threads=1, progress=False),
                lambda: rs.validate_many(labels, progress=False),
            ],
            cfg.repeat,
        )

    b = Row("shapely 2, vectorized (baseline)", t_base, n, "labels")
    rows = [
        b,
        Row("kili-rules `validate_many(labels, threads=1)`", t_one, n, "labels", b),
        Row("kili-rules `validate_many(labels)` (all cores)", t_all, n, "labels", b),
    ]
    setup = (
        f"{fmt_count(n)} label dicts, {fmt_count(polys)} polygons, {fmt_count(verts)} vertices "
        "(seed 2; `bench/gen.py: w2_label`). Per label 10 draws: simple star-shaped polygons of "
        "8-64 vertices around random centers (radius 0.02-0.12, categories A/B/C); ~10% are "
        "shifted copies of an earlier polygon of the same category (duplicates); ~8.5% are "
        "invalid: bow-ties (two opposite vertices swapped), zero-area rings (collinear "
        "vertices) and out-and-back spikes. Rules: `valid_polygon`; `area` in "
        f"[{AREA_MIN}, {AREA_MAX}]; `overlap` with `max_iou = {MAX_IOU}` within a category. "
        "Baseline: `bench/baselines.py: shapely_geometry`: one pass over the dicts into flat "
        "arrays, one `shapely.linearrings(coords, indices=...)` call, vectorized "
        "`is_valid` / `area` / `bounds`, candidate pairs (same label, same category, both valid, "
        "bounding boxes meet) built with numpy, one vectorized `shapely.intersection` for IoU."
    )
    check = (
        "Asserted equal sets of (label id, rule, mid): "
        f"{fmt_count(len(base))} issues "
        f"({', '.join(f'{k}: {fmt_count(v)}' for k, v in sorted(by_rule.items()))}). "
        "Semantics that had to line up: GEOS and kili-rules both reject bow-ties, zero-area "
        "rings and spikes (a zero-length turn back along the previous edge). The IoU of an "
        "*invalid* polygon is undefined (GEOS raises a TopologyException, geo's boolean ops "
        "assume valid input), so the generator keeps every invalid polygon's bounding box clear "
        "of all polygons of its category, and the baseline leaves invalid polygons out of "
        "overlap pairs; with that, both sides agree on every generated label."
    )
    res = Result("W2", "Geometry-heavy labels vs shapely", setup, check, rows)
    res.extra.append(
        f"Overlap work: {fmt_count(stats['pairs'])} candidate pairs (same label, same category, "
        f"both valid, bounding boxes meet); {fmt_count(stats['pairs_over_bound'])} of them pass "
        "the cheap upper bound IoU <= m / (A + B - m), m = min(A, B, bounding-box overlap); "
        f"{fmt_count(stats['pairs_over_max'])} have IoU > {MAX_IOU}."
    )
    for row, label in ((rows[1], "1 thread"), (rows[2], "all cores")):
        x = row.ratio or 0.0
        res.targets.append(Target(f">= 20x the shapely baseline ({label})", f"{x:.1f}x", x >= 20))
    return res
