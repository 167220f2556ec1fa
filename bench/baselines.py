"""What a user would run without kili-rules: the tutorial's rules as plain Python loops, and a
shapely 2 implementation of the geometry rules.

Each function returns issues as tuples ``(label id, rule id, mid, text)`` (``text`` is None where
the workload compares rule and mid only), the same key the benchmark builds from kili-rules rows.
They are written as a skilled user would write them for speed: locals bound once, no ``search``
field (everything is computed from ``jsonResponse``), no per-call allocations beyond the issues.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from typing import Any

IssueKey = tuple[str, str, str | None, str | None]

COUNT_RULE, AREA_RULE = "too-many-object-a", "bbox-too-large"
AREA_MAX = 0.33


def count_text(n: int) -> str:
    return f"There are too many BBox ({n}) - Only 1 BBox of Object A accepted"


# -- tutorial rules (W1, W4) ----------------------------------------------------------------


def tutorial_issues(label_id: str, json_response: dict[str, Any], out: list[IssueKey]) -> None:
    """The tutorial's two rules on one jsonResponse: at most one OBJECT_A in JOB_0; no box over
    33% of the image, box area from its vertices' extent (the tutorial's ``_get_area``)."""
    n = 0
    for ann in json_response["JOB_0"]["annotations"]:
        if ann["categories"][0]["name"] == "OBJECT_A":
            n += 1
        vs = ann["boundingPoly"][0]["normalizedVertices"]
        first = vs[0]
        x0 = x1 = first["x"]
        y0 = y1 = first["y"]
        for p in vs:
            x = p["x"]
            y = p["y"]
            if x < x0:
                x0 = x
            elif x > x1:
                x1 = x
            if y < y0:
                y0 = y
            elif y > y1:
                y1 = y
        if (x1 - x0) * (y1 - y0) > AREA_MAX:
            out.append((label_id, AREA_RULE, ann["mid"], "BBox too large"))
    if n > 1:
        out.append((label_id, COUNT_RULE, None, count_text(n)))


def tutorial_many(labels: Iterable[dict[str, Any]]) -> list[IssueKey]:
    out: list[IssueKey] = []
    for label in labels:
        tutorial_issues(label["id"], label["jsonResponse"], out)
    return out


def tutorial_webhook(label: dict[str, Any]) -> list[dict[str, Any]]:
    """One label as the tutorial's handler does it: a list of ``{"text", "mid"}`` issues."""
    out: list[IssueKey] = []
    tutorial_issues(label["id"], label["jsonResponse"], out)
    return [{"text": t, "mid": m} for _, _, m, t in out]


# -- the tutorial's rules over an export (W3) -----------------------------------------------


def export_zip(path: str) -> tuple[list[IssueKey], int]:
    """A Kili export zip, member by member: ``json.load`` each asset record, run the rules on
    its latest label. Returns the issues (keyed by asset id) and the JSON bytes read."""
    out: list[IssueKey] = []
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            if not (name.startswith("labels/") and name.endswith(".json")):
                continue
            with zf.open(info) as f:
                asset = json.load(f)
            total += info.file_size
            tutorial_issues(asset["id"], asset["latestLabel"]["jsonResponse"], out)
    return out, total


# -- geometry rules with shapely 2 (W2) -----------------------------------------------------


def shapely_geometry(
    labels: list[dict[str, Any]],
    *,
    job: str,
    area_min: float,
    area_max: float,
    max_iou: float,
    stats: dict[str, int] | None = None,
) -> list[IssueKey]:
    """``valid_polygon``, ``area`` in [min, max] and same-category ``overlap`` (IoU > max_iou,
    issue on the later object) with shapely 2, vectorized over all polygons of all labels.

    Walks the dicts once into flat numpy arrays, builds every polygon with one
    ``shapely.linearrings`` call, then uses ``is_valid`` / ``area`` / ``bounds`` on the whole
    array. Overlap candidates are the pairs of one label, same category, both valid, whose
    bounding boxes meet; their intersections are computed in one vectorized call. Invalid
    polygons are left out of overlap (GEOS raises on them).
    """
    import numpy as np
    import shapely

    label_of: list[int] = []
    mids: list[str] = []
    cats: list[str] = []
    sizes: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    for li, label in enumerate(labels):
        for ann in label["jsonResponse"][job]["annotations"]:
            vs = ann["boundingPoly"][0]["normalizedVertices"]
            xs.extend([p["x"] for p in vs])
            ys.extend([p["y"] for p in vs])
            sizes.append(len(vs))
            label_of.append(li)
            mids.append(ann["mid"])
            cats.append(ann["categories"][0]["name"])
    coords = np.column_stack((np.array(xs), np.array(ys)))
    ring_of = np.repeat(np.arange(len(sizes)), sizes)
    polys = shapely.polygons(shapely.linearrings(coords, indices=ring_of))
    valid = shapely.is_valid(polys)
    area = shapely.area(polys)
    # A ring that crosses itself: its area as Kili's COCO exporter computes it (the faces of
    # its made-valid outline, summed), which is kili-rules' convention too. Few rings, a loop.
    for k in np.flatnonzero(~valid).tolist():
        faces = shapely.get_parts(shapely.polygonize([shapely.make_valid(polys[k])]))
        area[k] = float(sum(shapely.area(shapely.polygons(shapely.get_exterior_ring(faces)))))
    bounds = shapely.bounds(polys)
    lab = np.array(label_of)
    _, cat = np.unique(np.array(cats), return_inverse=True)

    # Pairs (earlier, later) inside each label, built per label size without a Python loop.
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    counts = np.diff(np.r_[starts, len(lab)])
    firsts, lasts = [], []
    for k in np.unique(counts):
        if k < 2:
            continue
        s = starts[counts == k]
        a, b = np.triu_indices(int(k), 1)
        firsts.append((s[:, None] + a).ravel())
        lasts.append((s[:, None] + b).ravel())
    i = np.concatenate(firsts) if firsts else np.zeros(0, dtype=np.intp)
    j = np.concatenate(lasts) if lasts else np.zeros(0, dtype=np.intp)
    bi, bj = bounds[i], bounds[j]
    keep = (
        (cat[i] == cat[j])
        & valid[i]
        & valid[j]
        & (bi[:, 0] <= bj[:, 2])
        & (bj[:, 0] <= bi[:, 2])
        & (bi[:, 1] <= bj[:, 3])
        & (bj[:, 1] <= bi[:, 3])
    )
    i, j = i[keep], j[keep]
    inter = shapely.area(shapely.intersection(polys[i], polys[j]))
    union = area[i] + area[j] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    if stats is not None:
        # The cheapest upper bound of IoU: intersection <= min(area a, area b, bbox overlap).
        bi, bj = bounds[i], bounds[j]
        w = np.minimum(bi[:, 2], bj[:, 2]) - np.maximum(bi[:, 0], bj[:, 0])
        h = np.minimum(bi[:, 3], bj[:, 3]) - np.maximum(bi[:, 1], bj[:, 1])
        cap = np.minimum(np.minimum(area[i], area[j]), w * h)
        bound = cap / np.maximum(area[i] + area[j] - cap, 1e-300)
        stats["pairs"] = len(i)
        stats["pairs_over_bound"] = int((bound > max_iou).sum())
        stats["pairs_over_max"] = int((iou > max_iou).sum())

    ids = [label["id"] for label in labels]
    out: list[IssueKey] = []
    for k in np.flatnonzero(~valid).tolist():
        out.append((ids[label_of[k]], "valid", mids[k], None))
    for k in np.flatnonzero((area < area_min) | (area > area_max)).tolist():
        out.append((ids[label_of[k]], "area", mids[k], None))
    for k in j[iou > max_iou].tolist():
        out.append((ids[label_of[k]], "overlap", mids[k], None))
    return out


def shapely_polygon_from_dict(label: dict[str, Any], job: str = "JOB_0") -> bool:
    """W5 reference: build one polygon from the label dict and ask GEOS whether it is valid."""
    import shapely

    vs = label["jsonResponse"][job]["annotations"][0]["boundingPoly"][0]["normalizedVertices"]
    return bool(shapely.is_valid(shapely.Polygon([(p["x"], p["y"]) for p in vs])))


def to_json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
