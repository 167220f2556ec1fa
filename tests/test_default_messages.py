"""Every kind's default issue text, as an annotator reads it in Kili's issue panel.

Each case breaks one rule on a small label and checks the text the rule writes when the rules
file sets no ``message``: it names the category (or, with none, the job), never the object's
mid (the issue already sits on the object), has no placeholder left, shows numbers rounded for
people (at most 3 significant digits, percentages for normalized sizes, pixels with units)
and reads as a sentence. The registry's kinds are all covered: a new kind needs a case here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules._native import Engine
from kili_rules.kili.finding_text import issue_text, unreadable_text
from kili_rules.python_rules import python_rule

# mids no sentence could contain by chance: a text naming one fails
MID, OTHER = "mid7f3a", "mid9c1e"


def shape(
    mid: str,
    verts: list[tuple[float, float]],
    cat: str = "CAR",
    kind: str = "rectangle",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "mid": mid,
        "type": kind,
        "categories": [{"name": cat}],
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in verts]}],
        **extra,
    }


def rect(mid: str, x0: float, y0: float, x1: float, y1: float, **kw: Any) -> dict[str, Any]:
    return shape(mid, [(x0, y1), (x0, y0), (x1, y0), (x1, y1)], **kw)


def boxes(*anns: dict[str, Any]) -> dict[str, Any]:
    return {"JOB_0": {"annotations": list(anns)}}


def classif(*names: str) -> dict[str, Any]:
    return {"categories": [{"name": n} for n in names]}


def entity(mid: str, cat: str, begin: int, content: str) -> dict[str, Any]:
    return {
        "mid": mid,
        "categories": [{"name": cat}],
        "beginOffset": begin,
        "endOffset": begin + len(content),
        "content": content,
    }


@dataclass
class Case:
    name: str
    rule: dict[str, Any]
    label: dict[str, Any]
    names: str  # the category (or job) the text must name
    resolution: tuple[float, float] | None = None
    exact: str | None = None  # the whole text, where its wording is pinned
    contains: list[str] = field(default_factory=list)


SMALL = rect(MID, 0.1, 0.1, 0.15, 0.14)  # 0.05 x 0.04: 0.2% of the image
CASES = [
    Case(
        "count max",
        {"kind": "count", "job": "JOB_0", "category": "CAR", "max": 1},
        boxes(rect(MID, 0, 0, 0.1, 0.1), rect(OTHER, 0.5, 0.5, 0.6, 0.6)),
        "CAR",
        exact="This label has 2 CAR: at most 1 allowed, remove the extra ones.",
    ),
    Case(
        "count min, no category",
        {"kind": "count", "job": "JOB_0", "min": 3},
        boxes(rect(MID, 0, 0, 0.1, 0.1)),
        "JOB_0",
        exact=(
            "Objects or answers in JOB_0: 1 in this label, at least 3 needed, add the missing ones."
        ),
    ),
    Case(
        "count between",
        {"kind": "count", "job": "JOB_0", "category": "CAR", "min": 2, "max": 3},
        boxes(rect(MID, 0, 0, 0.1, 0.1)),
        "CAR",
        contains=["between 2 and 3"],
    ),
    Case(
        "area min",
        {"kind": "area", "job": "JOB_0", "min": 0.01},
        boxes(SMALL),
        "CAR",
        exact="This CAR is too small: it covers 0.2% of the image, it should cover at least 1%.",
    ),
    Case(
        "area max, pixels",
        {"kind": "area", "job": "JOB_0", "max": 5000, "unit": "pixels"},
        boxes(rect(MID, 0, 0, 0.1234567, 0.1)),
        "CAR",
        resolution=(1000, 800),
        exact=(
            "This CAR is too large: it covers 9877 square pixels, it should cover at most "
            "5000 square pixels."
        ),
    ),
    Case(
        "area between",
        {"kind": "area", "job": "JOB_0", "min": 0.0123456, "max": 0.5},
        boxes(SMALL),
        "CAR",
        contains=["0.2% of the image", "between 1.23% and 50%"],
    ),
    Case(
        "box width",
        {"kind": "box", "job": "JOB_0", "min_width": 0.1},
        boxes(rect(MID, 0.1, 0.1, 0.1123456, 0.5)),
        "CAR",
        exact="This CAR is too narrow: 1.23% of the image width, it should be at least 10%.",
    ),
    Case(
        "box height, pixels",
        {"kind": "box", "job": "JOB_0", "max_height": 100, "unit": "pixels"},
        boxes(rect(MID, 0, 0, 0.1, 0.3333333)),
        "CAR",
        resolution=(640, 480),
        exact="This CAR is too tall: 160 pixels tall, it should be at most 100 pixels.",
    ),
    Case(
        "box aspect",
        {"kind": "box", "job": "JOB_0", "min_aspect": 0.5},
        boxes(rect(MID, 0, 0, 0.1, 0.7)),
        "CAR",
        contains=["too tall for its width", "0.143 times its height", "at least 0.5 times"],
    ),
    Case(
        "box extent area",
        {"kind": "box", "job": "JOB_0", "max_area": 0.33},
        boxes(rect(MID, 0, 0, 0.7777777, 0.7)),
        "CAR",
        exact=(
            "This CAR is too large: its box covers 54.4% of the image, it should cover at most 33%."
        ),
    ),
    Case(
        "inside_image",
        {"kind": "inside_image", "job": "JOB_0"},
        boxes(rect(MID, -0.2123, 0, 0.5, 0.5)),
        "CAR",
        exact="This CAR goes outside the image: keep it inside the picture.",
    ),
    Case(
        "inside_image, explicit bounds",
        {
            "kind": "inside_image",
            "job": "JOB_0",
            "min_x": 0,
            "min_y": 0,
            "max_x": 0.5,
            "max_y": 0.5,
        },
        boxes(rect(MID, 0.1, 0.1, 0.6, 0.4)),
        "CAR",
        contains=["goes outside the allowed area"],
    ),
    Case(
        "valid_polygon",
        {"kind": "valid_polygon", "job": "JOB_0"},
        boxes(shape(MID, [(0, 0), (0.4, 0.4), (0.4, 0), (0, 0.4)], kind="polygon")),
        "CAR",
        exact="This CAR shape crosses itself: redraw it without crossing edges.",
    ),
    Case(
        "valid_polygon, too few points",
        {"kind": "valid_polygon", "job": "JOB_0"},
        boxes(shape(MID, [(0, 0), (0.4, 0.4)], kind="polygon")),
        "CAR",
        contains=["fewer than 3 distinct points"],
    ),
    Case(
        "overlap",
        {"kind": "overlap", "job": "JOB_0", "max_iou": 0.9},
        boxes(
            rect(OTHER, 0.1, 0.1, 0.5, 0.5, cat="PERSON"),
            rect(MID, 0.1, 0.1, 0.49, 0.49, cat="PERSON"),
        ),
        "PERSON",
        exact=(
            "This PERSON and another PERSON overlap almost completely (IoU 0.951, at most 0.9 "
            "allowed): remove the duplicate."
        ),
    ),
    Case(
        "overlap, any category, low bound",
        {"kind": "overlap", "job": "JOB_0", "max_iou": 0.1, "same_category": False},
        boxes(rect(OTHER, 0.1, 0.1, 0.5, 0.5, cat="TRUCK"), rect(MID, 0.3, 0.3, 0.7, 0.7)),
        "CAR",
        contains=["another object overlap too much", "at most 0.1 allowed"],
    ),
    Case(
        "required child",
        {"kind": "required", "job": "JOB_0", "category": "CAR", "child": "PLATE_TEXT"},
        boxes(rect(MID, 0, 0, 0.1, 0.1)),
        "CAR",
        exact="This CAR has no answer to PLATE_TEXT: fill it in.",
    ),
    Case(
        "required category",
        {"kind": "required", "job": "JOB_0", "category": "TRUCK"},
        boxes(rect(MID, 0, 0, 0.1, 0.1)),
        "TRUCK",
        exact="This label has no TRUCK in JOB_0: add one.",
    ),
    Case(
        "required job",
        {"kind": "required", "job": "WEATHER"},
        boxes(rect(MID, 0, 0, 0.1, 0.1)),
        "WEATHER",
        exact="Nothing is answered in WEATHER: answer it before submitting.",
    ),
    Case(
        "answer not allowed",
        {"kind": "answer", "job": "TAGS", "allowed": ["INDOOR", "OUTDOOR"]},
        {"TAGS": classif("BLURRY")},
        "BLURRY",
        exact="In TAGS, BLURRY is not allowed: choose another answer.",
    ),
    Case(
        "answer count",
        {"kind": "answer", "job": "TAGS", "max": 1},
        {"TAGS": classif("INDOOR", "NIGHT")},
        "INDOOR",
        exact="In TAGS, 2 answers are chosen (INDOOR, NIGHT): choose at most 1.",
    ),
    Case(
        "answer exclusive",
        {"kind": "answer", "job": "TAGS", "exclusive": [["INDOOR", "OUTDOOR"]]},
        {"TAGS": classif("INDOOR", "OUTDOOR")},
        "INDOOR",
        contains=["INDOOR and OUTDOOR cannot be chosen together: keep only one"],
    ),
    Case(
        "text under an object",
        {"kind": "text", "job": "PLATE_TEXT", "prefix": "FR"},
        boxes(rect(MID, 0, 0, 0.1, 0.1, cat="PLATE", children={"PLATE_TEXT": {"text": "DE 1234"}})),
        "PLATE",
        exact='The PLATE text "DE 1234" does not start with "FR": correct it.',
    ),
    Case(
        "text length, top level",
        {"kind": "text", "job": "COMMENT", "max_length": 5},
        {"COMMENT": {"text": "far too long"}},
        "COMMENT",
        exact='The COMMENT text "far too long" is too long: 12 characters, at most 5 allowed.',
    ),
    Case(
        "entity length",
        {"kind": "entity", "job": "NER", "category": "PERSON", "min_length": 3},
        {"NER": {"annotations": [entity(MID, "PERSON", 4, "Al")]}},
        "PERSON",
        exact="This PERSON entity is too short: 2 characters, at least 3 needed.",
    ),
    Case(
        "entity overlap",
        {"kind": "entity", "job": "NER", "no_overlap": True},
        {
            "NER": {
                "annotations": [
                    entity(OTHER, "ORG", 0, "Acme Inc"),
                    entity(MID, "PERSON", 5, "Inc"),
                ]
            }
        },
        "PERSON",
        contains=["overlaps another entity (ORG)"],
    ),
]

# a number with a decimal point, or in exponent form
NUMBER = re.compile(r"\d+\.\d+(?:e-?\d+)?|\d+e-?\d+", re.IGNORECASE)


def significant(number: str) -> int:
    digits = re.sub(r"e.*$", "", number, flags=re.IGNORECASE).replace(".", "").lstrip("0")
    return len(digits.rstrip("0")) if "." in number else len(digits)


def readable(text: str) -> None:
    """The checks every annotator-facing text passes."""
    assert "{" not in text and "}" not in text, text
    assert MID not in text and OTHER not in text, text
    for number in NUMBER.findall(text):
        assert significant(number) <= 3, (number, text)
    assert "inf" not in text.lower().split(), text
    assert text[:1].isupper(), text
    assert text.endswith("."), text
    assert "  " not in text and " :" not in text and " ." not in text, text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_default_message_is_for_annotators(case: Case) -> None:
    rs = RuleSet.from_dict({"rule": [case.rule]})
    issues = rs.validate(case.label, resolution=case.resolution)
    assert [i.kind for i in issues] == [case.rule["kind"]], [i.text for i in issues]
    (issue,) = issues
    text = issue.text
    readable(text)
    assert re.search(rf"\b{re.escape(case.names)}\b", text), (case.names, text)
    if case.exact is not None:
        assert text == case.exact
    for part in case.contains:
        assert part in text, (part, text)


def test_every_kind_has_a_case() -> None:
    registry = json.loads(Engine.registry_json())
    kinds = {k["name"] for k in registry} if isinstance(registry, list) else set(registry)
    covered = {c.rule["kind"] for c in CASES}
    assert kinds - covered == set(), "kinds without a default-message case"


def test_a_users_message_still_wins_and_formats_numbers() -> None:
    rs = RuleSet.from_dict(
        {
            "rule": [
                {
                    "kind": "area",
                    "job": "JOB_0",
                    "min": 0.01,
                    "message": "{category} ({mid}): {value:%} < {min:%}, raw {value}, {what}",
                }
            ]
        }
    )
    (issue,) = rs.validate(boxes(SMALL))
    assert issue.text == f"CAR ({MID}): 0.2% < 1%, raw 0.002, CAR"


def test_unknown_format_is_an_error_at_load() -> None:
    with pytest.raises(ValueError, match=r"unknown format \{value:x\}"):
        RuleSet.from_dict(
            {"rule": [{"kind": "area", "job": "J", "min": 1, "message": "{value:x}"}]}
        )
    with pytest.raises(ValueError, match=r"\{job\} is not a number"):
        RuleSet.from_dict({"rule": [{"kind": "area", "job": "J", "min": 1, "message": "{job:%}"}]})


def test_texts_made_outside_the_rules_read_as_sentences() -> None:
    # a pixel rule on an asset of unknown size: unchecked, for whoever reads the report
    rs = RuleSet.from_dict({"rule": [{"kind": "area", "job": "JOB_0", "max": 1, "unit": "pixels"}]})
    (skipped,) = rs.validate(boxes(SMALL))
    assert skipped.kind == "unchecked"
    readable(skipped.text)
    assert "resolution" in skipped.text
    # an unreadable label: one issue on the label, saying who can act
    text = unreadable_text("jsonResponse.JOB_0: invalid type: string, expected a job object")
    assert text.startswith("This label could not be checked") and text.endswith(
        "Please tell your project manager."
    )
    assert unreadable_text(text) == text

    # a Python rule that raises
    @python_rule(id="flaky")
    def flaky(label: Any) -> None:
        raise ValueError("two objects")

    (error,) = RuleSet([flaky]).validate(boxes(SMALL))
    assert error.kind == "rule_error"
    readable(issue_text(error))
    assert "flaky" in error.text and "ValueError: two objects" in error.text
