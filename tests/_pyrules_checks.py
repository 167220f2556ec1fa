"""Python rules used by tests/test_python_rules.py (a module, so that they pickle by
reference into worker processes)."""

from __future__ import annotations

from collections.abc import Iterator

import kili_rules
from kili_rules import Finding, LabelView, PythonRule


@kili_rules.python_rule(id="iban-has-text", severity="error")
def iban_has_text(label: LabelView) -> Iterator[Finding]:
    """Every IBAN box carries its transcription child."""
    for obj in label.objects:
        if obj.category == "IBAN" and "TRANSCRIPTION_JOB" not in obj.children:
            yield Finding("IBAN box without its transcription", mid=obj.mid)


@kili_rules.python_rule(id="wide-box", severity="warning")
def wide_box(label: LabelView) -> list[Finding]:
    """Boxes wider than half the page (extent of the outer ring)."""
    out = []
    for obj in label.objects:
        for ring in obj.rings[:1]:
            xs = [x for x, _ in ring]
            width = max(xs) - min(xs)
            if width > 0.5:
                out.append(Finding(f"box {width:.2f} wide", mid=obj.mid, value=width, limit=0.5))
    return out


@kili_rules.python_rule(id="flaky")
def flaky(label: LabelView) -> str | None:
    """Raises on labels with exactly two objects (a rule bug on some labels only)."""
    if len(label.objects) == 2:
        raise ValueError("two objects confuse me")
    return None


class EmptyLabel(PythonRule):
    """A class rule: a label with no object at all."""

    id = "empty-label"
    severity = "warning"

    def check(self, label: LabelView) -> str | None:
        return "empty label" if not label.objects else None


def plain_too_many(label: LabelView) -> str | None:
    """A plain function, named by a rules file entry."""
    return f"{len(label.objects)} objects" if len(label.objects) > 2 else None


def rows_of(rs: kili_rules.RuleSet, items: list[object]) -> list[tuple[object, ...]]:
    """The rows of a batch run, without their source (run in a spawned process too)."""
    out = []
    for row in rs.validate_many(items, threads=1):
        d = row.to_dict()
        d.pop("source")
        out.append(tuple(sorted(d.items())))
    return out
