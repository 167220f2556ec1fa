"""The Python classes of the `text` and `entity` kinds, to go back into
python/kili_rules/rules.py (and __init__.py) when the kinds are registered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from kili_rules.rules import Rule

Checksum = Literal["iban", "luhn"]


@dataclass(frozen=True)
class Text(Rule):
    """Transcription text: pattern, prefix / suffix, allowed / forbidden values, length, checksum.

    The issue goes on the enclosing object's mid (a transcription child of a box), else on the
    label. ``pattern`` runs on a linear-time engine (Rust ``regex``): no catastrophic
    backtracking. Restrict to the texts of some objects with ``when={"parent": "IBAN"}``.
    """

    kind: ClassVar[str] = "text"
    pattern: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    allowed: list[str] | None = None
    forbidden: list[str] | None = None
    min_length: int | None = None
    max_length: int | None = None
    checksum: Checksum | None = None
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
