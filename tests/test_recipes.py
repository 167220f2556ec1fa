"""Every recipe of docs/recipes.md, run on labels of its project. The recipes are files under
examples/recipes/; the doc shows each one whole, and the first test keeps the two equal."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "examples" / "recipes"
DOC = ROOT / "docs" / "recipes.md"
INVOICE = json.loads(
    (Path(__file__).parent / "data" / "invoice" / "json_interface.json").read_text()
)
TUTORIAL = json.loads((Path(__file__).parent / "data" / "seed" / "json_interface.json").read_text())

INCLUDE = re.compile(r"<!-- include (\S+) -->\n```\w*\n(.*?)```\n", re.S)


def recipe(name: str) -> RuleSet:
    return RuleSet.from_file(RECIPES / name)


def test_the_doc_shows_every_recipe_file_as_it_is() -> None:
    shown = {path: body for path, body in INCLUDE.findall(DOC.read_text())}
    files = {
        f"examples/recipes/{p.name}" for p in RECIPES.iterdir() if p.suffix in (".toml", ".py")
    }
    assert set(shown) == files, "docs/recipes.md must include every file of examples/recipes/"
    for path, body in shown.items():
        assert body == (ROOT / path).read_text(), f"docs/recipes.md shows an old {path}"


# -- the webhook tutorial ------------------------------------------------------------------


def rect(
    mid: str, category: str, x0: float, y0: float, x1: float, y1: float, **extra: Any
) -> dict[str, Any]:
    pts = [(x0, y1), (x0, y0), (x1, y0), (x1, y1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": category}],
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in pts]}],
        **extra,
    }


def poly(mid: str, category: str, pts: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "mid": mid,
        "type": "polygon",
        "categories": [{"name": category}],
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in pts]}],
    }


def tutorial_extent(pts: list[tuple[float, float]]) -> float:
    """The tutorial's own arithmetic."""
    xs = [x for x, _ in pts]
    ys = [y for _, y in pts]
    return (max(xs) - min(xs)) * (max(ys) - min(ys))


def test_tutorial_recipe() -> None:
    rs = recipe("tutorial.toml")
    assert rs.lint(TUTORIAL) == []
    at_threshold = rect("big", "OBJECT_A", 0.10, 0.10, 0.85, 0.54)
    small = rect("small", "OBJECT_A", 0.1, 0.1, 0.2, 0.2)
    diamond = [(0.5, 0.1), (0.9, 0.5), (0.5, 0.9), (0.1, 0.5)]  # a square turned 45 degrees
    rotated = poly("turned", "OBJECT_B", diamond)
    assert tutorial_extent([(0.10, 0.10), (0.85, 0.54)]) > 0.33
    assert tutorial_extent(diamond) > 0.33
    issues = rs.validate({"JOB_0": {"annotations": [at_threshold, small, rotated]}})
    assert [(i.rule, i.text, i.mid) for i in issues] == [
        (
            "too-many-object-a",
            "There are too many BBox (2) - Only 1 BBox of Object A accepted",
            None,
        ),
        ("bbox-too-large", "BBox too large", "big"),
        ("bbox-too-large", "BBox too large", "turned"),
    ]
    assert rs.validate({"JOB_0": {"annotations": [small]}}) == []


# -- Kili's document-QA example -------------------------------------------------------------

VALID_FR = "FR14 2004 1010 0505 0001 3M02 606"
VALID_DE = "DE89 3704 0044 0532 0130 00"
BAD_FR = "FR14 2004 1010 0505 0001 3M02 607"


def iban(mid: str, text: str, y: float = 0.1) -> dict[str, Any]:
    return rect(mid, "IBAN", 0.1, y, 0.5, y + 0.05, children={"TRANSCRIPTION_JOB": {"text": text}})


def currency(mid: str, text: str, y: float = 0.5) -> dict[str, Any]:
    return rect(
        mid, "CURRENCY", 0.6, y, 0.7, y + 0.04, children={"TRANSCRIPTION_JOB_2": {"text": text}}
    )


def amount(mid: str, text: str, y: float = 0.5) -> dict[str, Any]:
    return rect(
        mid, "AMOUNT", 0.3, y, 0.5, y + 0.04, children={"TRANSCRIPTION_JOB_3": {"text": text}}
    )


def invoice_label(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"id": "label-1", "jsonResponse": {"JOB_0": {"annotations": list(objects)}}}


def hand_written_plugin(label: dict[str, Any]) -> list[tuple[str, str]]:
    """What Kili's example plugin finds, written out by hand: (text, mid) per issue."""
    found = []
    for ann in label["jsonResponse"]["JOB_0"]["annotations"]:
        name = ann["categories"][0]["name"]
        if name == "IBAN":
            if not ann["children"]["TRANSCRIPTION_JOB"]["text"].startswith("FR"):
                found.append(("IBAN number should start by FR", ann["mid"]))
        elif name == "CURRENCY":
            if ann["children"]["TRANSCRIPTION_JOB_2"]["text"] not in ("DOLLAR", "EURO"):
                found.append(("Authorized currencies are only Euro and Dollar", ann["mid"]))
    return found


def test_document_qa_recipe() -> None:
    rs = recipe("document_qa.toml")
    assert rs.lint(INVOICE) == []
    good = invoice_label(iban("i1", VALID_FR), currency("c1", "EURO"), amount("a1", "12.50"))
    assert rs.validate(good) == []
    verdict = rs.decide(good)
    assert verdict.outcome == "pass" and verdict.actions == ("metadata", "review")
    assert verdict.metadata["kili_rules_accuracy"] == "1.0"

    bad = invoice_label(
        iban("i1", VALID_DE), iban("i2", BAD_FR), currency("c1", "YEN"), amount("a1", "3")
    )
    issues = rs.validate(bad)
    # The hand-written plugin's findings, in the same words on the same boxes...
    assert [(i.text, i.mid) for i in issues if i.rule != "iban-checksum"] == hand_written_plugin(
        bad
    )
    # ...plus the checksum, which the plugin did not check.
    assert [i.mid for i in issues if i.rule == "iban-checksum"] == ["i2"]
    verdict = rs.decide(bad)
    assert verdict.outcome == "error" and verdict.actions == ("issues", "metadata", "review")
    assert verdict.metadata["kili_rules_accuracy"] == repr(1 - 3 / 4)


# -- conditional rules ----------------------------------------------------------------------


def quality(answer: str, *boxes: dict[str, Any]) -> dict[str, Any]:
    return {"QUALITY": {"categories": [{"name": answer}]}, "DAMAGE": {"annotations": list(boxes)}}


def test_conditional_recipe() -> None:
    rs = recipe("conditional.toml")
    dent = rect("d1", "DENT", 0.1, 0.1, 0.3, 0.3)
    speck = rect("d2", "DENT", 0.1, 0.1, 0.11, 0.11)
    assert [i.rule for i in rs.validate(quality("DAMAGED"))] == ["damage-located"]
    assert rs.validate(quality("DAMAGED", dent)) == []
    assert [i.rule for i in rs.validate(quality("INTACT", dent))] == ["no-damage-when-intact"]
    assert rs.validate(quality("INTACT")) == []
    # scanner-noise needs the asset's metadata (source = scanner); a bare label has none.
    assert rs.validate(quality("DAMAGED", speck)) == []


# -- a Python rule --------------------------------------------------------------------------


def test_python_rule_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(RECIPES))
    rs = recipe("document_qa_python.toml")
    assert [r["id"] for r in rs.rules] == ["currency-read", "currency-beside-amount"]
    aligned = invoice_label(currency("c1", "EURO", y=0.5), amount("a1", "3", y=0.505))
    astray = invoice_label(currency("c1", "EURO", y=0.8), amount("a1", "3", y=0.5))
    lonely = invoice_label(currency("c1", "DOLLAR"))
    unread = invoice_label({**currency("c1", "EURO"), "children": {}}, amount("a1", "3"))
    assert rs.validate(aligned) == []
    (issue,) = rs.validate(astray)
    assert (issue.rule, issue.kind, issue.severity, issue.mid) == (
        "currency-beside-amount",
        "python",
        "warning",
        "c1",
    )
    assert issue.value == pytest.approx(0.3) and issue.limit == 0.02
    (issue,) = rs.validate(lonely)
    assert issue.mid == "c1" and issue.value is None
    assert [(i.rule, i.mid) for i in rs.validate(unread)] == [("currency-read", "c1")]
    report = rs.validate_many([aligned, astray, lonely, unread], threads=2)
    assert [(r.rule, r.mid) for r in report] == [
        ("currency-beside-amount", "c1"),
        ("currency-beside-amount", "c1"),
        ("currency-read", "c1"),
    ]

    from invoice_checks import currency_beside_amount

    in_python = RuleSet([{"kind": "count", "job": "JOB_0", "min": 1}, currency_beside_amount])
    assert [i.rule for i in in_python.validate(astray)] == ["currency-beside-amount"]
