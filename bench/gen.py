"""Deterministic generators for the benchmark workloads (W1-W5).

Every generator takes a seed, so a run can be repeated bit for bit. Labels follow Kili's
``jsonResponse`` layout (Kili's format): open rings, ``normalizedVertices``,
rectangles drawn bottom-left, top-left, top-right, bottom-right.
"""

from __future__ import annotations

import json
import math
import os
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

Label = dict[str, Any]
Annotation = dict[str, Any]

# The tutorial's three-box label (Kili's webhook tutorial, "Step 5"): it breaks both rules.
TUTORIAL_BOXES = [
    ("20221124161451411-13314", (0.15, 0.31, 0.82, 0.84)),
    ("20221124161456406-47055", (0.79, 0.13, 0.91, 0.20)),
    ("20221124161459298-45160", (0.87, 0.27, 0.99, 0.36)),
]


def rectangle(category: str, mid: str, x0: float, y0: float, x1: float, y1: float) -> Annotation:
    corners = [(x0, y1), (x0, y0), (x1, y0), (x1, y1)]
    return {
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in corners]}],
        "categories": [{"name": category}],
        "children": {},
        "mid": mid,
        "type": "rectangle",
    }


def polygon(category: str, mid: str, xy: list[tuple[float, float]]) -> Annotation:
    return {
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in xy]}],
        "categories": [{"name": category}],
        "children": {},
        "mid": mid,
        "type": "polygon",
    }


def tutorial_label() -> Label:
    """The label of the tutorial's Step 5, as a webhook receives it (id + jsonResponse)."""
    anns = [rectangle("OBJECT_A", mid, *box) for mid, box in TUTORIAL_BOXES]
    return {"id": "clfcblncs0h550js5golxg96s", "jsonResponse": {"JOB_0": {"annotations": anns}}}


# -- W1: tutorial rectangles ----------------------------------------------------------------


def w1_labels(n: int, seed: int = 1, boxes: int = 3) -> list[Label]:
    """``n`` labels of ``boxes`` rectangles: corner uniform in [0, 0.8), w/h in [0.01, 0.2)."""
    rng = random.Random(seed)
    out: list[Label] = []
    for i in range(n):
        anns = []
        for k in range(boxes):
            x0, y0 = rng.uniform(0, 0.8), rng.uniform(0, 0.8)
            w, h = rng.uniform(0.01, 0.2), rng.uniform(0.01, 0.2)
            cat = "OBJECT_A" if rng.random() < 0.5 else "OBJECT_B"
            anns.append(rectangle(cat, f"m{i}-{k}", x0, y0, x0 + w, y0 + h))
        out.append({"id": f"label-{i}", "jsonResponse": {"JOB_0": {"annotations": anns}}})
    return out


# -- W2: polygons, some invalid, some duplicated --------------------------------------------

W2_CATEGORIES = ("OBJECT_A", "OBJECT_B", "OBJECT_C")
Box = tuple[float, float, float, float]


def star(rng: np.random.Generator, n: int, cx: float, cy: float, r: float) -> np.ndarray:
    """A simple star-shaped polygon: angles strictly increasing (jitter < half a step), so
    every edge stays inside its own angular sector and no two edges can meet."""
    step = 2 * math.pi / n
    ang = (np.arange(n) + rng.uniform(-0.35, 0.35, n)) * step + rng.uniform(0, step)
    rad = r * rng.uniform(0.55, 1.0, n)
    return np.column_stack((cx + rad * np.cos(ang), cy + rad * np.sin(ang)))


def bow_tie(rng: np.random.Generator, n: int, cx: float, cy: float, r: float) -> np.ndarray:
    """A star with two opposite vertices swapped: its edges cross near the center."""
    pts = star(rng, n, cx, cy, r)
    k = int(rng.integers(n))
    j = (k + n // 2) % n
    pts[[k, j]] = pts[[j, k]]
    return pts


def collinear(rng: np.random.Generator, n: int, cx: float, cy: float, r: float) -> np.ndarray:
    """Zero-area ring: vertices on one horizontal line (exactly collinear in floating point)."""
    xs = np.sort(cx + rng.uniform(-r, r, n))
    return np.column_stack((xs, np.full(n, cy)))


def spike(rng: np.random.Generator, n: int, cx: float, cy: float, r: float) -> np.ndarray:
    """A star with an out-and-back spike: vertex, outward point, the same vertex again."""
    pts = star(rng, n - 2, cx, cy, r)
    k = int(rng.integers(n - 2))
    p = pts[k]
    tip = p + (p - (cx, cy)) * 0.5
    return np.vstack((pts[: k + 1], tip, p, pts[k + 1 :]))


INVALID_SHAPES = (bow_tie, collinear, spike)


def _bounds(pts: np.ndarray) -> Box:
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def _apart(a: Box, b: Box, margin: float = 1e-3) -> bool:
    return (
        a[2] + margin < b[0] or b[2] + margin < a[0] or a[3] + margin < b[1] or b[3] + margin < a[1]
    )


def w2_label(rng: np.random.Generator, i: int, per_label: int = 10) -> Label:
    """``per_label`` polygons of 8-64 vertices: mostly valid stars, ~1 in 12 invalid (bow-tie,
    collinear or spike), ~1 in 10 a shifted duplicate of an earlier valid one (same category).

    Invalid polygons are placed so that their bounding box keeps clear of every other polygon of
    their category: the IoU of an invalid polygon is undefined (GEOS raises on it, geo's boolean
    ops assume valid input), so the generator avoids that ambiguous case instead of picking a side.
    """
    valid: list[tuple[str, np.ndarray]] = []
    n_invalid = 0
    for _ in range(per_label):
        u = rng.random()
        if u < 0.085:
            n_invalid += 1
        elif u < 0.185 and valid:
            cat, src = valid[int(rng.integers(len(valid)))]
            r = float(np.abs(src - src.mean(axis=0)).max())
            shift = rng.uniform(0.02, 0.35) * r
            theta = rng.uniform(0, 2 * math.pi)
            offset = np.array((shift * math.cos(theta), shift * math.sin(theta)))
            valid.append((cat, src + offset))
        else:
            n = int(rng.integers(8, 65))
            r = float(rng.uniform(0.02, 0.12))
            cx, cy = rng.uniform(r, 1 - r, 2)
            cat = W2_CATEGORIES[int(rng.integers(len(W2_CATEGORIES)))]
            valid.append((cat, star(rng, n, float(cx), float(cy), r)))
    shapes: list[tuple[str, np.ndarray]] = list(valid)
    boxes = [(cat, _bounds(p)) for cat, p in valid]
    for _ in range(n_invalid):
        make = INVALID_SHAPES[int(rng.integers(len(INVALID_SHAPES)))]
        cat = W2_CATEGORIES[int(rng.integers(len(W2_CATEGORIES)))]
        for _try in range(200):
            n = int(rng.integers(8, 65))
            r = float(rng.uniform(0.01, 0.05))
            cx, cy = rng.uniform(r, 1 - r, 2)
            pts = make(rng, n, float(cx), float(cy), r)
            b = _bounds(pts)
            if all(_apart(b, ob) for oc, ob in boxes if oc == cat):
                shapes.append((cat, pts))
                boxes.append((cat, b))
                break
    order = rng.permutation(len(shapes))
    anns = [
        polygon(shapes[k][0], f"p{i}-{j}", [tuple(v) for v in shapes[k][1].tolist()])
        for j, k in enumerate(order)
    ]
    return {"id": f"label-{i}", "jsonResponse": {"JOB_0": {"annotations": anns}}}


def w2_labels(n: int, seed: int = 2, per_label: int = 10) -> list[Label]:
    rng = np.random.default_rng(seed)
    return [w2_label(rng, i, per_label) for i in range(n)]


# -- W5: one large valid polygon ------------------------------------------------------------


def w5_label(vertices: int, seed: int = 5, spiky: bool = False) -> Label:
    """One valid polygon of ``vertices`` vertices, like a traced mask outline: a circle of
    radius 0.4 whose vertices are jittered by up to a third of the vertex spacing, so the
    outline looks the same at every size. ``spiky``: radial jitter of 3% of the radius
    instead, which at large sizes is hundreds of times the spacing (a hairy, zig-zag ring;
    still simple, as every vertex keeps its own angular sector)."""
    rng = np.random.default_rng(seed)
    step = 2 * math.pi / vertices
    ang = (np.arange(vertices) + rng.uniform(-0.3, 0.3, vertices)) * step
    jitter = 0.012 if spiky else 0.4 * step / 3
    rad = 0.4 - rng.uniform(0, jitter, vertices)
    xs, ys = (0.5 + rad * np.cos(ang)).tolist(), (0.5 + rad * np.sin(ang)).tolist()
    xy = list(zip(xs, ys, strict=True))
    name = f"mask-{vertices}" + ("-spiky" if spiky else "")
    return {
        "id": name,
        "jsonResponse": {"JOB_0": {"annotations": [polygon("OBJECT_A", "mask", xy)]}},
    }


# -- W3: a Kili export zip ------------------------------------------------------------------

EXPORT_VERSION = 2  # bump when the generated content changes, so cached zips are rebuilt


def _export_asset(rng: random.Random, i: int) -> dict[str, Any]:
    width, height = rng.choice(((1920, 1080), (1280, 720), (4000, 3000)))
    anns = []
    for k in range(rng.randint(1, 4)):
        cat = "OBJECT_A" if rng.random() < 0.3 else "OBJECT_B"
        mid = f"2024031210{i:07d}-{k:05d}"
        if rng.random() < 0.6:
            w, h = rng.uniform(0.02, 0.65), rng.uniform(0.02, 0.65)
            x0, y0 = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
            ann = rectangle(cat, mid, x0, y0, x0 + w, y0 + h)
        else:
            n = rng.randint(6, 24)
            r = rng.uniform(0.03, 0.3)
            cx, cy = rng.uniform(r, 1 - r), rng.uniform(r, 1 - r)
            step = 2 * math.pi / n
            xy = []
            for j in range(n):
                a = (j + rng.uniform(-0.35, 0.35)) * step
                rr = r * rng.uniform(0.6, 1.0)
                xy.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
            ann = polygon(cat, mid, xy)
        # The exporter adds pixel vertices beside the normalized ones when it knows the size.
        poly = ann["boundingPoly"][0]
        poly["vertices"] = [
            {"x": round(v["x"] * width, 2), "y": round(v["y"] * height, 2)}
            for v in poly["normalizedVertices"]
        ]
        ann["categories"][0]["confidence"] = 100
        anns.append(ann)
    ext = f"image_{i:07d}.jpg"
    return {
        "content": f"https://storage.example.com/bench/{ext}",
        "externalId": ext,
        "id": f"asset-{i:07d}",
        "jsonContent": "",
        "jsonMetadata": {},
        "latestLabel": {
            "author": {"email": "labeler@example.com", "id": "user-1", "name": "Ada Labeler"},
            "createdAt": "2024-03-12T09:00:17.046Z",
            "isLatestLabelForUser": True,
            "jsonResponse": {"JOB_0": {"annotations": anns}},
            "labelType": "DEFAULT",
            "modelName": None,
        },
        "pageResolutions": None,
        "resolution": {"height": height, "width": width},
        "status": "LABELED",
    }


def _small_asset(rng: random.Random, i: int) -> dict[str, Any]:
    """A minimal asset record: one rectangle, no pixel vertices, no metadata (~1.7 KB)."""
    x0, y0 = rng.uniform(0, 0.5), rng.uniform(0, 0.5)
    box = rectangle("OBJECT_A", f"m{i}", x0, y0, x0 + 0.2, y0 + 0.2)
    return {
        "externalId": f"image_{i:07d}.jpg",
        "id": f"asset-{i:07d}",
        "latestLabel": {"jsonResponse": {"JOB_0": {"annotations": [box]}}},
        "resolution": {"height": 1080, "width": 1920},
    }


def write_export(
    path: Path, target_bytes: int, seed: int = 3, small: bool = False
) -> dict[str, int]:
    """Write a Kili export zip (``labels/<externalId>.json``, one asset record each, dumped
    as Kili does with ``sort_keys=True, indent=4``) holding >= ``target_bytes`` of JSON.
    ``small``: minimal one-box assets, for many members per byte."""
    rng = random.Random(seed)
    make = _small_asset if small else _export_asset
    tmp = path.with_suffix(".tmp")
    total = assets = 0
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.kili.txt", "Exported Labels from KILI\n(kili-rules benchmark)\n")
        while total < target_bytes:
            asset = make(rng, assets)
            data = json.dumps(asset, sort_keys=True, indent=4).encode()
            zf.writestr(f"labels/{asset['externalId']}.json", data)
            total += len(data)
            assets += 1
    os.replace(tmp, path)
    meta = {"version": EXPORT_VERSION, "seed": seed, "target": target_bytes, "small": int(small)}
    meta |= {"json_bytes": total, "assets": assets, "zip_bytes": path.stat().st_size}
    path.with_suffix(".meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def ensure_export(
    path: Path, target_bytes: int, seed: int = 3, small: bool = False
) -> dict[str, int]:
    """Reuse ``path`` when its sidecar says it was generated with these parameters."""
    meta_path = path.with_suffix(".meta.json")
    if path.is_file() and meta_path.is_file():
        meta: dict[str, int] = json.loads(meta_path.read_text())
        want = {"version": EXPORT_VERSION, "seed": seed, "target": target_bytes}
        want["small"] = int(small)
        if all(meta.get(k, 0) == v for k, v in want.items()):
            return meta
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_export(path, target_bytes, seed, small)
