"""Profiles: per job and category statistics of a set of labels (issue 20, point 2).

A profile is the baseline a batch-level rule (``outlier``) judges one label against at submit
time. This module computes it from records and reads it back; the format is versioned
(``docs/profiles.md``). Sizes are in normalized units (fractions of the image).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

FORMAT = "kili-rules-profile"
VERSION = 1
QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
# Size measures are also summarized on a log scale: a box 20x too small is then as far out
# as one 20x too big.
SIZE_MEASURES = ("area", "width", "height", "aspect")
MEASURES = (*SIZE_MEASURES, "vertices", "objects_per_label", "text_length")


class ProfileError(ValueError):
    """A profile file or record that cannot be read; the message names what and where."""


def _json_response(record: Any, where: str) -> Mapping[str, Any] | None:
    """The jsonResponse of a record: a bare jsonResponse, a label or an asset's latest label."""
    if isinstance(record, (str, bytes)):
        try:
            record = json.loads(record)
        except ValueError as e:
            raise ProfileError(f"{where}: not JSON ({e})") from None
    if not isinstance(record, Mapping):
        raise ProfileError(f"{where}: expected an object, got {type(record).__name__}")
    if "latestLabel" in record:
        record = record["latestLabel"]
        if record is None:
            return None  # an asset without label: nothing to profile
        if not isinstance(record, Mapping):
            raise ProfileError(f"{where}: latestLabel is not an object")
    if "jsonResponse" in record:
        resp = record["jsonResponse"]
        if isinstance(resp, str):
            try:
                resp = json.loads(resp)
            except ValueError as e:
                raise ProfileError(f"{where}: jsonResponse is not JSON ({e})") from None
        if not isinstance(resp, Mapping):
            raise ProfileError(f"{where}: jsonResponse is not an object")
        return resp
    return record


def _ring(ring: Any, where: str) -> list[tuple[float, float]]:
    if not isinstance(ring, Mapping) or not isinstance(ring.get("normalizedVertices"), list):
        raise ProfileError(f"{where}: boundingPoly ring without normalizedVertices")
    pts = []
    for v in ring["normalizedVertices"]:
        if not isinstance(v, Mapping):
            raise ProfileError(f"{where}: a vertex is not an object")
        x, y = v.get("x"), v.get("y")
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            raise ProfileError(f"{where}: a vertex without numeric x and y")
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ProfileError(f"{where}: a vertex is not finite")
        pts.append((float(x), float(y)))
    return pts


def _shoelace(pts: list[tuple[float, float]]) -> float:
    s = 0.0
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
        s += x1 * y2 - x2 * y1
    return abs(s) / 2.0


def _object_measures(ann: Mapping[str, Any], where: str) -> dict[str, float] | None:
    """Geometry measures of one annotation (outer ring minus holes), or None without geometry."""
    poly = ann.get("boundingPoly")
    if poly is None:
        return None
    if not isinstance(poly, list) or not poly:
        raise ProfileError(f"{where}: boundingPoly is not a non-empty list")
    rings = [_ring(r, where) for r in poly]
    outer = rings[0]
    if not outer:
        raise ProfileError(f"{where}: boundingPoly has an empty outer ring")
    xs, ys = [p[0] for p in outer], [p[1] for p in outer]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    area = _shoelace(outer) - sum(_shoelace(h) for h in rings[1:])
    out = {"area": area, "width": width, "height": height, "vertices": float(len(outer))}
    if height > 0:
        out["aspect"] = width / height
    return out


class _Job:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.answers: Counter[str] = Counter()
        self.labels = 0


def _summary(values: list[float], log: bool) -> dict[str, Any]:
    xs = sorted(values)
    n = len(xs)
    out: dict[str, Any] = {
        "count": n,
        "quantiles": {f"{q:g}": _quantile(xs, q) for q in QUANTILES},
    }
    med = _quantile(xs, 0.5)
    out["median"] = med
    out["mad"] = _quantile(sorted(abs(x - med) for x in xs), 0.5)
    if log:
        logs = sorted(math.log(x) for x in xs if x > 0)
        if logs:
            lmed = _quantile(logs, 0.5)
            out["log_median"] = lmed
            out["log_mad"] = _quantile(sorted(abs(x - lmed) for x in logs), 0.5)
    return out


def _quantile(xs: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not xs:
        raise ProfileError("no values")  # callers never summarize an empty list
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def build(records: Iterable[Any]) -> dict[str, Any]:
    """The profile of records (bare jsonResponses, label records, asset records or JSON)."""
    jobs: dict[str, _Job] = defaultdict(_Job)
    n_labels = 0
    for i, record in enumerate(records):
        where = f"record {i}"
        resp = _json_response(record, where)
        if resp is None:
            continue
        n_labels += 1
        for job_name, job in resp.items():
            if not isinstance(job, Mapping):
                continue  # not a job (Kili puts a few scalar keys next to the jobs)
            stats = jobs[job_name]
            stats.labels += 1
            per_label: Counter[str] = Counter()
            anns = job.get("annotations")
            if anns is not None:
                if not isinstance(anns, list):
                    raise ProfileError(f"{where}: job '{job_name}' annotations is not a list")
                for k, ann in enumerate(anns):
                    w = f"{where}, job '{job_name}', annotation {k}"
                    if not isinstance(ann, Mapping):
                        raise ProfileError(f"{w}: not an object")
                    cats = ann.get("categories") or []
                    name = _first_category(cats, w) or ""
                    per_label[name] += 1
                    measures = _object_measures(ann, w)
                    for m, v in (measures or {}).items():
                        stats.values[name][m].append(v)
            for name in _category_names(job.get("categories"), f"{where}, job '{job_name}'"):
                stats.answers[name] += 1
            text = job.get("text")
            if isinstance(text, str):
                stats.values[""]["text_length"].append(float(len(text)))
            for name, c in per_label.items():
                stats.values[name]["objects_per_label"].append(float(c))
    return {
        "format": FORMAT,
        "version": VERSION,
        "labels": n_labels,
        "jobs": {
            name: {
                "labels": job.labels,
                "answers": dict(sorted(job.answers.items())),
                "categories": {
                    cat: {
                        m: _summary(vals, m in SIZE_MEASURES)
                        for m, vals in sorted(measures.items())
                    }
                    for cat, measures in sorted(job.values.items())
                },
            }
            for name, job in sorted(jobs.items())
        },
    }


def _category_names(cats: Any, where: str) -> list[str]:
    if cats is None:
        return []
    if not isinstance(cats, list):
        raise ProfileError(f"{where}: categories is not a list")
    out = []
    for c in cats:
        if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
            raise ProfileError(f"{where}: a category without a string name")
        out.append(c["name"])
    return out


def _first_category(cats: Any, where: str) -> str | None:
    names = _category_names(cats, where)
    return names[0] if names else None


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a profile file, checking its format and version."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise ProfileError(f"profile {os.fspath(path)}: {e.strerror}") from None
    except ValueError as e:
        raise ProfileError(f"profile {os.fspath(path)}: not JSON ({e})") from None
    return parse(data, os.fspath(path))


def parse(data: Any, where: str = "profile") -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProfileError(f'{where}: not a kili-rules profile (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise ProfileError(
            f"{where}: profile version {data.get('version')!r}; this kili-rules reads {VERSION}"
        )
    if not isinstance(data.get("jobs"), dict):
        raise ProfileError(f'{where}: "jobs" is not an object')
    return data


def dump(profile: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(profile, f, indent=1, sort_keys=True)
        f.write("\n")


def read_source(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Records of a source: a JSON list file, JSON Lines, or a Kili export (zip or unzipped
    folder holding ``data.json`` or ``labels/*.json``)."""
    p = os.fspath(path)
    if os.path.isdir(p):
        yield from _read_folder(p)
    elif zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as z:
            names = sorted(n for n in z.namelist() if _is_export_member(n))
            if not names:
                raise ProfileError(f"{p}: a zip without data.json or labels/*.json")
            for n in names:
                yield from _records_of(z.read(n), f"{p}:{n}")
    else:
        with open(p, "rb") as f:
            data = f.read()
        if p.endswith(".jsonl") or p.endswith(".ndjson"):
            for i, line in enumerate(data.splitlines()):
                if line.strip():
                    yield from _records_of(line, f"{p}:{i + 1}")
        else:
            yield from _records_of(data, p)


def _is_export_member(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base == "data.json" or (name.endswith(".json") and "labels/" in name)


def _read_folder(p: str) -> Iterator[Any]:
    names = sorted(
        os.path.relpath(os.path.join(root, f), p).replace(os.sep, "/")
        for root, _, files in os.walk(p)
        for f in files
    )
    members = [n for n in names if _is_export_member(n)]
    if not members:
        raise ProfileError(f"{p}: a folder without data.json or labels/*.json")
    for n in members:
        with open(os.path.join(p, n), "rb") as f:
            yield from _records_of(f.read(), os.path.join(p, n))


def _records_of(data: bytes, where: str) -> Iterator[Any]:
    try:
        value = json.loads(data)
    except ValueError as e:
        raise ProfileError(f"{where}: not JSON ({e})") from None
    if isinstance(value, list):
        yield from value
    else:
        yield value


# -- robust outliers (the statistic of the planned `outlier` kind) ----------------------------

OBJECT_MEASURES = ("area", "width", "height", "aspect", "vertices")
MAD_SCALE = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class Outlier:
    record: int  # index of the record in the input
    mid: str | None
    category: str
    value: float
    median: float
    z: float


def robust_z(value: float, summary: Mapping[str, Any], log: bool) -> float:
    """|x - median| / (1.4826 * MAD), on the log scale when ``log`` (a profile measure's
    summary, see :func:`build`). A zero MAD makes every other value infinitely far."""
    if log:
        if value <= 0 or "log_median" not in summary:
            return math.inf
        x, med, mad = math.log(value), summary["log_median"], summary["log_mad"]
    else:
        x, med, mad = value, summary["median"], summary["mad"]
    if mad == 0:
        return 0.0 if x == med else math.inf
    return float(abs(x - med) / (MAD_SCALE * mad))


def find_outliers(
    records: Iterable[Any],
    *,
    job: str,
    measure: str,
    max_z: float = 3.5,
    min_support: int = 30,
    log: bool | None = None,
    baseline: Mapping[str, Any] | None = None,
) -> list[Outlier]:
    """Objects of ``job`` whose ``measure`` is past ``max_z`` robust z-scores from their
    category's median: over the records themselves (two passes), or against ``baseline``
    (a profile) when given. A category with fewer than ``min_support`` objects is not judged."""
    if measure not in OBJECT_MEASURES:
        raise ProfileError(f"measure '{measure}': expected one of {', '.join(OBJECT_MEASURES)}")
    if max_z <= 0 or min_support < 1:
        raise ProfileError("max_z must be positive and min_support at least 1")
    use_log = measure in SIZE_MEASURES if log is None else log
    rows: list[tuple[int, str | None, str, float]] = []
    values: dict[str, list[float]] = defaultdict(list)
    for i, record in enumerate(records):  # pass 1: the values, per category
        resp = _json_response(record, f"record {i}")
        if resp is None or not isinstance(resp.get(job), Mapping):
            continue
        anns = resp[job].get("annotations") or []
        if not isinstance(anns, list):
            raise ProfileError(f"record {i}: job '{job}' annotations is not a list")
        for k, ann in enumerate(anns):
            w = f"record {i}, job '{job}', annotation {k}"
            if not isinstance(ann, Mapping):
                raise ProfileError(f"{w}: not an object")
            m = _object_measures(ann, w)
            if m is None or measure not in m:
                continue
            cat = _first_category(ann.get("categories") or [], w) or ""
            mid = ann.get("mid")
            rows.append((i, mid if isinstance(mid, str) else None, cat, m[measure]))
            values[cat].append(m[measure])
    if baseline is not None:
        cats = parse(baseline).get("jobs", {}).get(job, {}).get("categories", {})
        summaries = {c: s[measure] for c, s in cats.items() if measure in s}
    else:
        summaries = {c: _summary(v, use_log) for c, v in values.items()}
    out = []
    for i, mid, cat, value in rows:  # pass 2: judge each object
        s = summaries.get(cat)
        if s is None or s["count"] < min_support:
            continue
        z = robust_z(value, s, use_log)
        if z > max_z:
            out.append(Outlier(i, mid, cat, value, s["median"], z))
    return out


# -- category shares (the statistic of the planned `distribution` kind) -----------------------


@dataclass(frozen=True)
class ShareFinding:
    category: str
    count: int
    total: int
    share: float


def share_findings(
    records: Iterable[Any],
    *,
    job: str,
    of: str = "objects",
    min_share: float | None = None,
    max_share: float | None = None,
) -> list[ShareFinding]:
    """Categories whose share of the job's objects (``of="objects"``) or answers
    (``of="answers"``) over the records is below ``min_share`` or above ``max_share``.
    ``min_share`` judges only the categories that occur (the records do not say which
    categories exist: a category never seen is not reported); an empty batch has no finding."""
    if of not in ("objects", "answers"):
        raise ProfileError(f"of '{of}': expected objects or answers")
    for name, v in (("min_share", min_share), ("max_share", max_share)):
        if v is not None and not 0 <= v <= 1:
            raise ProfileError(f"{name} {v}: expected a fraction between 0 and 1")
    if min_share is None and max_share is None:
        raise ProfileError("give min_share, max_share or both")
    counts: Counter[str] = Counter()
    for i, record in enumerate(records):
        resp = _json_response(record, f"record {i}")
        if resp is None or not isinstance(resp.get(job), Mapping):
            continue
        where = f"record {i}, job '{job}'"
        if of == "answers":
            counts.update(_category_names(resp[job].get("categories"), where))
            continue
        anns = resp[job].get("annotations") or []
        if not isinstance(anns, list):
            raise ProfileError(f"{where}: annotations is not a list")
        for k, ann in enumerate(anns):
            if not isinstance(ann, Mapping):
                raise ProfileError(f"{where}, annotation {k}: not an object")
            counts[_first_category(ann.get("categories"), f"{where}, annotation {k}") or ""] += 1
    total = sum(counts.values())
    out = []
    for cat, n in sorted(counts.items()):
        share = n / total
        if (min_share is not None and share < min_share) or (
            max_share is not None and share > max_share
        ):
            out.append(ShareFinding(cat, n, total, share))
    return out
