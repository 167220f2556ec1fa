"""Drawings of labels with findings: each label's objects as SVG at the asset's aspect ratio, the
objects a finding points at highlighted, the others faint, the asset's image underneath when the
user allows it.

The geometry is read again, in Python, for the few labels that are drawn (a capped number per
rule): from the export the report was made of (zip member, file in a folder, item of a JSON list,
line of a JSON Lines file: the row's ``source`` says which), or from the list of assets given to
``validate_many``. The batch core keeps no geometry, so a large run costs nothing extra.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from kili_rules import deep_json
from kili_rules.report import clip

if TYPE_CHECKING:
    from kili_rules._native import Row
    from kili_rules.report import Report

Point = tuple[float, float]

NOT_FOUND = "label not found again"

#: A JSON list export larger than this is not parsed again just to draw a few labels.
MAX_REREAD_BYTES = 256 * 1024 * 1024


@dataclass
class Shape:
    """One drawable part of an object: a ring (closed), a line, or a point."""

    mid: str | None
    job: str
    category: str | None
    points: list[Point]
    closed: bool


@dataclass
class Sketch:
    """The objects of one label, and what to highlight."""

    title: str
    link: str | None
    width: float
    height: float
    image: str | None
    shapes: list[Shape]
    rows: list[Row] = field(default_factory=list)
    note: str | None = None


# -- reading the geometry of a jsonResponse ----------------------------------------------------


def _point(value: object) -> Point | None:
    if isinstance(value, Mapping):
        x, y = value.get("x"), value.get("y")
        if isinstance(x, int | float) and isinstance(y, int | float):
            return float(x), float(y)
    return None


def _rings(value: object) -> Iterator[list[Point]]:
    """Rings of a ``normalizedVertices`` value: a list of points, or a list of such lists
    (walked with a stack: a crafted label may nest deeper than Python recurses)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if not isinstance(item, list) or not item:
            continue
        if isinstance(item[0], list):
            stack.extend(reversed(item))
            continue
        ring = [p for p in (_point(v) for v in item) if p is not None]
        if ring:
            yield ring


def _poly_rings(value: object) -> Iterator[list[Point]]:
    """Rings of a ``boundingPoly`` (image), possibly nested per part (semantic with holes)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, Mapping) and item is not value:
            yield from _rings(item.get("normalizedVertices"))


def _category(annotation: Mapping[str, Any]) -> str | None:
    categories = annotation.get("categories")
    if isinstance(categories, list) and categories and isinstance(categories[0], Mapping):
        name = categories[0].get("name")
        return name if isinstance(name, str) else None
    return None


def _shapes(job: str, annotation: Mapping[str, Any]) -> Iterator[Shape]:
    mid = annotation.get("mid")
    mid = str(mid) if mid is not None else None
    category = _category(annotation)
    for ring in _poly_rings(annotation.get("boundingPoly")):
        yield Shape(mid, job, category, ring, closed=True)
    line = annotation.get("polyline")
    if isinstance(line, list) and line:
        points = [p for p in (_point(v) for v in line) if p is not None]
        if points:
            yield Shape(mid, job, category, points, closed=False)
    point = _point(annotation.get("point"))
    if point is not None:
        yield Shape(mid, job, category, [point], closed=False)
    for key in ("points", "annotations"):  # pose points; PDF layer of an object
        inner = annotation.get(key)
        if isinstance(inner, list):
            for item in inner:
                if isinstance(item, Mapping):
                    for shape in _shapes(job, item):
                        shape.mid = shape.mid if key == "points" else mid
                        shape.mid = mid if shape.mid is None else shape.mid
                        shape.category = shape.category or category
                        yield shape


def shapes_of(response: object, frame: int | None = None) -> list[Shape]:
    """Every drawable shape of a jsonResponse (object jobs, children included)."""
    if isinstance(response, str):
        try:
            response = deep_json.loads(response)
        except json.JSONDecodeError:
            return []
    if not isinstance(response, Mapping):
        return []
    if response and all(isinstance(k, str) and k.isdigit() for k in response):
        # A video label: frames keyed by index; draw the frame of the finding (else the first).
        key = str(frame) if frame is not None and str(frame) in response else min(response, key=int)
        return shapes_of(response[key])
    found: list[Shape] = []
    for job, value in response.items():
        if not isinstance(value, Mapping):
            continue
        annotations = value.get("annotations")
        if isinstance(annotations, list):
            for annotation in annotations:
                if isinstance(annotation, Mapping):
                    found.extend(_shapes(str(job), annotation))
                    children = annotation.get("children")
                    if isinstance(children, Mapping):
                        found.extend(shapes_of(children))
    return found


# -- finding the label of a row again ----------------------------------------------------------


def _label_of(record: Mapping[str, Any], label_id: str | None) -> Mapping[str, Any] | None:
    """The label inside an asset record (or the record itself when it is a label)."""
    if "jsonResponse" in record:
        return record
    candidates: list[Any] = []
    for key in ("latestLabels", "labels"):
        if isinstance(record.get(key), list):
            candidates += record[key]
    if isinstance(record.get("latestLabel"), Mapping):
        candidates.insert(0, record["latestLabel"])
    labels = [c for c in candidates if isinstance(c, Mapping)]
    for label in labels:
        if label_id is not None and label.get("id") == label_id:
            return label
    return labels[0] if labels else None


class Finder:
    """Looks records up again by a row's ``source`` (export) or asset id (``validate_many``)."""

    def __init__(self, inputs: Sequence[str], items: Sequence[object] | None) -> None:
        self.inputs = [Path(p) for p in inputs]
        self.items = items
        self._by_id: dict[str, Mapping[str, Any]] | None = None
        self._lists: dict[Path, list[Any]] = {}
        self._zips: dict[Path, zipfile.ZipFile] = {}

    def close(self) -> None:
        for archive in self._zips.values():
            archive.close()

    def record(self, row: Row) -> Mapping[str, Any] | None:
        found = self._from_source(row.source) if row.source else None
        if found is None and self.items is not None and row.asset_id:
            found = self._from_items(row.asset_id)
        return found

    def _from_items(self, asset_id: str) -> Mapping[str, Any] | None:
        if self._by_id is None:
            self._by_id = {}
            for item in self.items or ():
                if not isinstance(item, Mapping):
                    continue
                key = item.get("id")
                label_of = item.get("labelOf")
                if "jsonResponse" in item and isinstance(label_of, Mapping):
                    key = label_of.get("id")
                if isinstance(key, str):
                    self._by_id.setdefault(key, item)
        return self._by_id.get(asset_id)

    def _from_source(self, source: str) -> Mapping[str, Any] | None:
        for path in self.inputs:
            try:
                found = self._read(path, source)
            except (OSError, ValueError, zipfile.BadZipFile, KeyError, IndexError):
                found = None
            if isinstance(found, Mapping):
                return found
        return None

    def _read(self, path: Path, source: str) -> Any:
        if path.is_dir():
            member = (path / source).resolve()
            if path.resolve() not in member.parents:  # a source naming a file outside the export
                return None
            return deep_json.loads(member.read_bytes())
        if zipfile.is_zipfile(path):
            archive = self._zips.get(path)
            if archive is None:
                archive = self._zips[path] = zipfile.ZipFile(path)
            return deep_json.loads(archive.read(source))
        name = path.name
        if source.startswith(name + "[") and source.endswith("]"):
            index = int(source[len(name) + 1 : -1])
            if path not in self._lists:
                if path.stat().st_size > MAX_REREAD_BYTES:
                    return None
                data = deep_json.loads(path.read_bytes())
                self._lists[path] = data if isinstance(data, list) else []
            return self._lists[path][index]
        if source.startswith(name + ":"):
            number = int(source[len(name) + 1 :])
            with path.open("rb") as lines:
                for i, line in enumerate(lines, start=1):
                    if i == number:
                        return deep_json.loads(line)
        return None


# -- choosing and drawing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """An allowed image source: a URL origin (scheme, host, port) and a path prefix matched by
    whole segments, so ``https://storage.example.org/bucket`` admits ``/bucket`` and
    ``/bucket/x.jpg`` of that host, never ``storage.example.org.evil.invalid``,
    ``storage.example.org@evil`` or ``/bucket-other/``."""

    scheme: str
    host: str
    port: int
    path: str  # "" (any path) or a prefix without its trailing "/"

    def admits(self, url: str) -> bool:
        parts = _split(url)
        if parts is None:
            return False
        scheme, host, port, path = parts
        if (scheme, host, port) != (self.scheme, self.host, self.port):
            return False
        return not self.path or path == self.path or path.startswith(self.path + "/")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path) of an http(s) URL, or None for one a browser could read
    differently: user info (``host@evil``), backslashes, whitespace or control characters
    (browsers drop tabs and line breaks from URLs), dot segments (``/bucket/../other``, also
    percent-encoded), a bad port."""
    if any(c <= " " or c in "\\\x7f" for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    segments = parts.path.split("/")
    if any(unquote(segment) in (".", "..") for segment in segments):
        return None
    return scheme, parts.hostname, port or _DEFAULT_PORTS[scheme], parts.path.rstrip("/")


def image_origins(images: bool | Sequence[str]) -> tuple[bool, list[Origin]]:
    """``images`` read once: (local files allowed, the URL origins allowed). A prefix that is
    neither ``"local"`` nor an http(s) URL (scheme://host[:port][/path], no user info, query
    or fragment) is a ValueError naming it."""
    if isinstance(images, bool):
        return images, []
    if isinstance(images, str):
        images = [images]  # one prefix given as a string, not its characters
    local = False
    origins = []
    for prefix in images:
        if prefix == "local":
            local = True
            continue
        parts = _split(prefix) if isinstance(prefix, str) else None
        plain = isinstance(prefix, str) and not urlsplit(prefix).query and "#" not in prefix
        if parts is None or not plain:
            raise ValueError(
                f"images: {prefix!r} is not 'local' nor an http(s) URL prefix "
                "(scheme://host[:port][/path], without user info, query or fragment)"
            )
        origins.append(Origin(*parts))
    return local, origins


def _image(record: Mapping[str, Any], local: bool, origins: Sequence[Origin]) -> str | None:
    content = record.get("content")
    if not isinstance(content, str) or not content or not (local or origins):
        return None
    lowered = content.lower()
    if lowered.startswith(("http://", "https://")):
        return content if any(origin.admits(content) for origin in origins) else None
    if not local or ("://" in lowered and not lowered.startswith("file://")):
        return None
    if lowered.startswith("file://"):
        return content
    path = Path(content)
    return path.resolve().as_uri() if path.is_file() else None


def _size(record: Mapping[str, Any]) -> tuple[float, float]:
    resolution = record.get("resolution")
    if isinstance(resolution, Mapping):
        w, h = resolution.get("width"), resolution.get("height")
        if isinstance(w, int | float) and isinstance(h, int | float) and w > 0 and h > 0:
            return float(w), float(h)
    return 4.0, 3.0  # unknown resolution: a common camera ratio, said in the note


def _label_key(row: Row) -> tuple[str | None, ...]:
    return (row.asset_id or row.external_id or row.source, row.label_id)


def choose(report: Report, per_rule: int) -> tuple[list[list[Row]], int]:
    """The rows of the labels to draw (the first ``per_rule`` labels of each rule, in report
    order) grouped by label, and how many labels with findings there are in all."""
    from kili_rules.report import INVALID_KIND

    groups: dict[tuple[str | None, ...], list[Row]] = {}
    chosen: dict[tuple[str | None, ...], None] = {}
    per: dict[str, int] = {}
    for row in report:
        if row.kind == INVALID_KIND:
            continue
        key = _label_key(row)
        groups.setdefault(key, []).append(row)
        if key not in chosen and per.get(row.rule, 0) < per_rule:
            chosen[key] = None
            per[row.rule] = per.get(row.rule, 0) + 1
    return [groups[key] for key in chosen], len(groups)


def sketches(
    report: Report, *, per_rule: int, images: bool | Sequence[str]
) -> tuple[list[Sketch], int]:
    """Sketches of the chosen labels, and the number of labels with findings."""
    local, origins = image_origins(images)
    chosen, total = choose(report, per_rule)
    finder = Finder(report.context.inputs, report.items)
    out: list[Sketch] = []
    try:
        for rows in chosen:
            first = rows[0]
            record = finder.record(first)
            title = first.external_id or first.asset_id or first.source or "?"
            link = report.context.link(first.asset_id)
            if record is None:
                out.append(Sketch(title, link, 4, 3, None, [], rows, NOT_FOUND))
                continue
            label = _label_of(record, first.label_id)
            frame = next((r.frame for r in rows if r.frame is not None), None)
            shapes = shapes_of(label.get("jsonResponse") if label else None, frame)
            width, height = _size(record)
            note = None if "resolution" in record else "resolution unknown: drawn at 4:3"
            if not shapes:
                note = "no geometry in this label"
            out.append(
                Sketch(
                    title, link, width, height, _image(record, local, origins), shapes, rows, note
                )
            )
    finally:
        finder.close()
    return out, total


def _hit(shape: Shape, rows: Iterable[Row]) -> bool:
    """Whether a finding points at this shape: by mid, or (label-level finding) by its scope."""
    for row in rows:
        if row.mid is not None:
            if shape.mid == row.mid:
                return True
        elif row.job == shape.job and (row.category is None or row.category == shape.category):
            return True
    return False


def svg(sketch: Sketch, *, box: int = 260) -> str:
    """The sketch as an SVG element, ``box`` pixels on its longer side."""
    scale = box / max(sketch.width, sketch.height)
    w, h = sketch.width * scale, sketch.height * scale
    parts = [
        f'<svg class="kr-drawing" xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" '
        f'height="{h:.0f}" viewBox="0 0 {w:.1f} {h:.1f}">',
        f'<rect width="{w:.1f}" height="{h:.1f}" fill="#f4f4f4" stroke="#bbb"/>',
    ]
    if sketch.image:
        parts.append(
            f'<image href="{escape(sketch.image, quote=True)}" width="{w:.1f}" '
            f'height="{h:.1f}" preserveAspectRatio="none" opacity="0.85"/>'
        )
    hits = [s for s in sketch.shapes if _hit(s, sketch.rows)]
    faint = [s for s in sketch.shapes if not _hit(s, sketch.rows)]
    for shape, css in [*((s, "kr-faint") for s in faint), *((s, "kr-hit") for s in hits)]:
        pts = " ".join(f"{x * w:.1f},{y * h:.1f}" for x, y in shape.points)
        named = f"{shape.category or shape.job} ({shape.mid or 'no mid'})"
        tip = escape(clip.cut(named, clip.KEEP))
        if len(shape.points) == 1:
            x, y = shape.points[0]
            element = f'<circle cx="{x * w:.1f}" cy="{y * h:.1f}" r="4"'
        elif shape.closed:
            element = f'<polygon points="{pts}"'
        else:
            element = f'<polyline points="{pts}"'
        parts.append(f'{element} class="{css}"><title>{tip}</title></{element.split()[0][1:]}>')
    parts.append("</svg>")
    return "".join(parts)


DRAWING_STYLE = """
.kr-drawings { display: flex; flex-wrap: wrap; gap: 1em; }
.kr-figure { margin: 0; font-size: 0.8em; }
.kr-figure figcaption { overflow-wrap: anywhere; }
.kr-hit { fill: rgba(214, 40, 40, 0.25); stroke: #d62828; stroke-width: 2.5; }
.kr-faint { fill: rgba(80, 80, 80, 0.06); stroke: #888; stroke-width: 1; stroke-opacity: 0.6; }
polyline.kr-hit, polyline.kr-faint { fill: none; }
"""


def figures(items: Sequence[Sketch], *, box: int = 260) -> str:
    """The sketches as captioned figures."""
    out = ['<div class="kr-drawings">']
    for sketch in items:
        title = escape(clip.cut(sketch.title, clip.SHOW))
        if sketch.link:
            title = f'<a href="{escape(sketch.link, quote=True)}">{title}</a>'
        findings = "; ".join(sorted({f"{r.rule}: {r.text}" for r in sketch.rows}))
        note = f"<br><i>{escape(sketch.note)}</i>" if sketch.note else ""
        out.append(
            f'<figure class="kr-figure" style="width: {box}px">{svg(sketch, box=box)}'
            f"<figcaption><b>{title}</b>"
            f"<br>{clip.cell(findings, clip.SHOW_MESSAGE)}{note}</figcaption></figure>"
        )
    out.append("</div>")
    return "".join(out)


def _author_of(record: object) -> str | None:
    label = record.get("latestLabel") if isinstance(record, Mapping) else None
    author = label.get("author") if isinstance(label, Mapping) else None
    email = author.get("email") if isinstance(author, Mapping) else None
    return email if isinstance(email, str) and email else None


def export_authors(inputs: Sequence[str], labels: int) -> dict[str | None, int] | None:
    """Labels per author email in export zips or folders, read again in Python (the batch
    core counts labels, not labelers), for the per-labeler pass rates of a page. None when an
    input is not a zip or folder, is larger than :data:`MAX_REREAD_BYTES`, or when the count
    read does not add up to ``labels``, the core's count: a rate is shown only when its
    denominators are the labels the verdict judged."""
    out: dict[str | None, int] = {}
    try:
        for name in inputs:
            path = Path(name)
            if path.is_dir():
                files = [p for p in path.rglob("*.json") if p.is_file()]
                if sum(p.stat().st_size for p in files) > MAX_REREAD_BYTES:
                    return None
                records: Iterable[bytes] = (p.read_bytes() for p in files)
            elif zipfile.is_zipfile(path):
                archive = zipfile.ZipFile(path)
                members = [i for i in archive.infolist() if i.filename.endswith(".json")]
                if sum(i.file_size for i in members) > MAX_REREAD_BYTES:
                    return None
                records = (archive.read(i) for i in members)
            else:
                return None
            for data in records:
                record = deep_json.loads(data)
                if isinstance(record, Mapping) and isinstance(record.get("latestLabel"), Mapping):
                    key = _author_of(record)
                    out[key] = out.get(key, 0) + 1
    except (OSError, ValueError, zipfile.BadZipFile):
        return None
    return out if sum(out.values()) == labels else None
