"""Rules as Python objects. Each one is the same as a `[[rule]]` table of a rules file.

The kinds and their fields are declared once, in the native registry (one Rust file per kind);
the JSON Schema comes from it, and the kinds' classes below are written from it by
scripts/gen_kind_docs.py (tests/test_generated_docs.py fails when they are stale).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

Severity = Literal["error", "warning"]
Unit = Literal["normalized", "pixels"]
Checksum = Literal["iban", "luhn"]


@dataclass(frozen=True)
class Rule:
    """Fields common to every kind. Use a subclass: Count, Area, Box, ..."""

    kind: ClassVar[str] = ""
    job: str
    category: str | None = None
    severity: Severity = "error"
    message: str | None = None
    id: str | None = None
    when: dict[str, Any] | None = None
    """Condition, e.g. ``{"job": "QUALITY", "answer": "DAMAGED"}`` or ``{"parent": "IBAN"}``."""
    max_fraction: float | None = None
    """Tolerance in a batch: the rule fails the run only past this share of the labels."""

    def to_dict(self) -> dict[str, Any]:
        """The rule as a rules-file table (unset fields left out)."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not (f.name == "severity" and value == "error"):
                out[f.name] = value
        return out


# generated:classes
# Written by .venv/bin/python scripts/gen_kind_docs.py: edit the kinds' Rust files.
@dataclass(frozen=True)
class Count(Rule):
    """Number of objects (one per mid) or answers of job(.category), per label or video
    frame.
    """

    kind: ClassVar[str] = "count"
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Area(Rule):
    """Object area (outer ring minus holes, parts sharing a mid added up)."""

    kind: ClassVar[str] = "area"
    min: float | None = None
    max: float | None = None
    unit: Literal["normalized", "pixels"] | None = None


@dataclass(frozen=True)
class Box(Rule):
    """Bounding-rectangle width, height, aspect ratio (width / height) and extent area (width
    x height).
    """

    kind: ClassVar[str] = "box"
    min_width: float | None = None
    max_width: float | None = None
    min_height: float | None = None
    max_height: float | None = None
    min_aspect: float | None = None
    max_aspect: float | None = None
    min_area: float | None = None
    max_area: float | None = None
    unit: Literal["normalized", "pixels"] | None = None


@dataclass(frozen=True)
class InsideImage(Rule):
    """Every vertex within [0, 1] (or the explicit bounds), give or take `tolerance`; lon/lat
    (geospatial) objects only against explicit bounds.
    """

    kind: ClassVar[str] = "inside_image"
    tolerance: float | None = None
    min_x: float | None = None
    min_y: float | None = None
    max_x: float | None = None
    max_y: float | None = None


@dataclass(frozen=True)
class ValidPolygon(Rule):
    """>= 3 distinct vertices, non-zero area, no self-intersection, holes inside."""

    kind: ClassVar[str] = "valid_polygon"


@dataclass(frozen=True)
class Overlap(Rule):
    """IoU of two objects of the scope at most `max_iou` (duplicates)."""

    kind: ClassVar[str] = "overlap"
    max_iou: float | None = None
    same_category: bool | None = None


@dataclass(frozen=True)
class Required(Rule):
    """The job has an answer; with `child`, every object of the scope answers that child job."""

    kind: ClassVar[str] = "required"
    child: str | None = None


@dataclass(frozen=True)
class Answer(Rule):
    """Classification answers: allowed / forbidden categories, number chosen (min / max),
    exclusive groups.
    """

    kind: ClassVar[str] = "answer"
    allowed: list[str] | None = None
    forbidden: list[str] | None = None
    min: int | None = None
    max: int | None = None
    exclusive: list[list[str]] | None = None


@dataclass(frozen=True)
class Text(Rule):
    """Transcription text: pattern, prefix / suffix, allowed / forbidden values, length,
    checksum.
    """

    kind: ClassVar[str] = "text"
    pattern: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    allowed: list[str] | None = None
    forbidden: list[str] | None = None
    min_length: int | None = None
    max_length: int | None = None
    checksum: Literal["iban", "luhn"] | None = None
    case_sensitive: bool | None = None
    strip: bool | None = None


@dataclass(frozen=True)
class Entity(Rule):
    """Named entities: span length, text pattern, overlaps, relations that must exist."""

    kind: ClassVar[str] = "entity"
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    case_sensitive: bool | None = None
    no_overlap: bool | None = None
    relation: str | None = None
    relation_role: Literal["any", "start", "end"] | None = None


# /generated:classes
