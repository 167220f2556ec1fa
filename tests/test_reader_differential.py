"""A Python dict and its JSON text mean the same: the same model and issues, or the same error.

Documents are generated from a hypothesis-drawn seed: realistic Kili documents (asset records
with latestLabel/labels, label dicts, bare jsonResponses, video frames, children, categories,
boundingPoly, points, polylines, pose points, entities, relations, transcriptions, PDF layers)
and hostile mutations of them (wrong types anywhere, missing keys, deep nesting, huge numbers,
empty strings, unicode, key order, a jsonResponse given as a JSON string). Each hypothesis
example checks a batch of documents, so that a run checks at least 20,000 of them quickly.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kili_rules import LabelError, RuleSet
from kili_rules._native import _read_model

RULES = RuleSet.from_dict(
    {
        "rule": [
            {"kind": "count", "job": "BOX", "max": 2},
            {"kind": "count", "job": "CLS", "category": "A", "min": 1},
            {"kind": "area", "job": "BOX", "max": 0.2},
            {"kind": "box", "job": "BOX", "max_aspect": 4},
            {"kind": "inside_image", "job": "POLY"},
            {"kind": "valid_polygon", "job": "POLY"},
            {"kind": "overlap", "job": "BOX", "max_iou": 0.3},
            {"kind": "required", "job": "BOX", "child": "OCR"},
            {"kind": "required", "job": "CLS"},
            {"kind": "count", "job": "LINE", "max": 1, "severity": "warning"},
        ]
    }
)
PIXELS = RuleSet.from_dict({"rule": [{"kind": "area", "job": "BOX", "max": 900, "unit": "pixels"}]})

DOCS_PER_EXAMPLE = 50
EXAMPLES = 410
checked = {"docs": 0, "errors": 0, "python_only": 0}

JOBS = ["BOX", "POLY", "CLS", "OCR", "NER", "REL", "LINE", "PT", "POSE", "PDF", "CMP"]
ODD_STRINGS = ["", " ", "é", "名前", "\u0000", '"', "\\", "a\nb", "😀", "\ud800", "0", "-1"]


class Gen:
    """Kili documents from one random stream; `hostile` is the chance of each mutation."""

    def __init__(self, rng: random.Random, hostile: float) -> None:
        self.r = rng
        self.hostile = hostile

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def text(self) -> str:
        r = self.r
        if self.chance(0.2):
            return r.choice(ODD_STRINGS)
        return "".join(r.choice("abcXYZ_-09 ") for _ in range(r.randrange(0, 8)))

    def number(self) -> float | int:
        r = self.r
        if self.chance(0.05):
            return r.choice(
                [10**20, -(10**30), 10**400, 1e308, 5e-324, -0.0, 2**63, 2**64, -(2**63) - 1]
            )
        if self.chance(0.2):
            return r.randrange(-2, 3)
        return r.choice([r.random(), round(r.random(), 3), r.uniform(-0.2, 1.2)])

    def pt(self) -> dict[str, Any]:
        p: dict[str, Any] = {"x": self.number(), "y": self.number()}
        if self.chance(0.05):
            p["z"] = self.text()
        if self.chance(0.5):
            p = dict(reversed(list(p.items())))
        return p

    def ring(self) -> list[Any]:
        n = self.r.choice([0, 1, 2, 3, 4, 4, 4, 5, 8])
        return [self.pt() for _ in range(n)]

    def bounding_poly(self) -> list[Any]:
        r = self.r
        k = r.random()
        if k < 0.6:
            return [{"normalizedVertices": self.ring()}]
        if k < 0.75:  # a mask part with a hole, hierarchical form
            return [[{"normalizedVertices": self.ring()}, {"normalizedVertices": self.ring()}]]
        if k < 0.85:  # nested vertices (PDF style)
            return [{"normalizedVertices": [self.ring(), self.ring()]}]
        return [{"normalizedVertices": self.ring()} for _ in range(r.randrange(0, 3))]

    def categories(self, depth: int, names: str = "AB") -> list[Any]:
        out = []
        for _ in range(self.r.choice([0, 1, 1, 2])):
            c: dict[str, Any] = {"name": self.r.choice(names), "confidence": 100}
            if depth < 3 and self.chance(0.2):
                c["children"] = self.children(depth + 1)
            out.append(c)
        return out

    def children(self, depth: int) -> Any:
        if self.chance(0.05):
            return self.r.choice([[], None, {}])
        return {
            self.r.choice(["OCR", "CLS", "BOX", "NER"]): self.job(depth + 1)
            for _ in range(self.r.randrange(0, 3))
        }

    def annotation(self, job: str, depth: int) -> dict[str, Any]:
        r = self.r
        a: dict[str, Any] = {"mid": r.choice([f"m{r.randrange(5)}", r.randrange(100), None])}
        if self.chance(0.8):
            a["categories"] = self.categories(depth)
        a["type"] = r.choice(["rectangle", "polygon", "semantic", "marker", "polyline"])
        k = r.random()
        if job in ("BOX", "POLY") or k < 0.3:
            a["boundingPoly"] = self.bounding_poly()
        elif job == "PT" or k < 0.4:
            a["point"] = self.pt()
        elif job == "LINE" or k < 0.5:
            a["polyline"] = self.ring()
        elif job == "POSE" or k < 0.6:
            a["points"] = [
                {
                    "point": self.pt(),
                    "code": "p",
                    **({"children": self.children(depth)} if self.chance(0.2) else {}),
                }
                for _ in range(r.randrange(0, 4))
            ]
        elif job == "NER" or k < 0.75:
            a["beginOffset"] = r.randrange(0, 50)
            if self.chance(0.7):
                a["endOffset"] = a["beginOffset"] + r.randrange(0, 10)
            a["content"] = self.text()
        elif job == "REL" or k < 0.85:
            a["startEntities"] = [{"mid": f"m{r.randrange(5)}"} for _ in range(r.randrange(3))]
            a["endObjects"] = [{"mid": f"m{r.randrange(5)}"}]
        else:
            a["annotations"] = [
                {"pageNumberArray": [r.randrange(1, 4)], "boundingPoly": self.bounding_poly()}
                for _ in range(r.randrange(0, 3))
            ]
        if depth < 3 and self.chance(0.25):
            a["children"] = self.children(depth)
        if self.chance(0.3):
            items = list(a.items())
            r.shuffle(items)
            a = dict(items)
        return a

    def job(self, depth: int = 0, name: str | None = None) -> dict[str, Any]:
        r = self.r
        name = name or r.choice(JOBS)
        if name in ("CLS",):
            return {"categories": self.categories(depth)}
        if name == "OCR":
            return {"text": self.text()}
        if name == "CMP":
            return {r.choice(["choice", "orders", "fileId"]): r.choice([{"code": "A"}, None, "f"])}
        job: dict[str, Any] = {
            "annotations": [self.annotation(name, depth) for _ in range(r.choice([0, 1, 2, 3]))]
        }
        if depth < 2 and self.chance(0.1):
            job["children"] = self.children(depth)
        return job

    def response(self) -> dict[str, Any]:
        r = self.r
        if self.chance(0.12):  # video: frame-keyed, maybe assetLevel
            resp: dict[str, Any] = {
                str(f): {j: self.job(name=j) for j in r.sample(JOBS, r.randrange(0, 3))}
                for f in r.sample(range(20), r.randrange(0, 4))
            }
            if self.chance(0.5):
                resp["assetLevel"] = {"CLS": self.job(name="CLS")}
            return resp
        resp = {j: self.job(name=j) for j in r.sample(JOBS, r.randrange(0, 5))}
        if self.chance(0.1):
            resp[r.choice(["ROTATION_JOB", "ANNOTATION_JOB_COUNTER", "ANNOTATION_NAMES_JOB"])] = {
                "rotation": 90
            }
        return resp

    def label(self) -> dict[str, Any]:
        r = self.r
        lab: dict[str, Any] = {"id": f"l{r.randrange(1000)}"}
        resp: Any = self.response()
        if self.chance(0.15):
            resp = json.dumps(resp)  # as the API returns it
        elif self.chance(0.05):
            resp = r.choice([None, "", "  "])
        if not self.chance(0.05):
            lab["jsonResponse"] = resp
        if self.chance(0.5):
            lab["author"] = {"email": f"{self.text()}@x.io", "id": "u"}
            lab["createdAt"] = "2024-05-01T10:00:00.000Z"
            lab["labelType"] = r.choice(["DEFAULT", "REVIEW", "PREDICTION", 3, None])
        if self.chance(0.15):
            lab["labelOf"] = {"id": f"a{r.randrange(9)}", "externalId": self.text()}
        if self.chance(0.05):
            lab["latestLabel"] = self.label_or_none()
        return lab

    def label_or_none(self) -> Any:
        return None if self.chance(0.15) else self.label()

    def asset(self) -> dict[str, Any]:
        r = self.r
        a: dict[str, Any] = {"id": f"a{r.randrange(1000)}", "externalId": self.text()}
        parts: list[tuple[str, Any]] = []
        if self.chance(0.8):
            parts.append(("latestLabel", self.label_or_none()))
        if self.chance(0.4):
            key = r.choice(["labels", "latestLabels"])
            parts.append((key, [self.label_or_none() for _ in range(r.randrange(0, 3))]))
        if self.chance(0.5):
            parts.append(("resolution", {"width": r.choice([640, 1920.0]), "height": 480}))
        if self.chance(0.1):
            parts.append(("pageResolutions", [{"pageNumber": 1, "width": 600, "height": 800}]))
        if self.chance(0.3):
            md: Any = {"split": self.text(), "n": self.number(), "ok": True, "x": [1]}
            parts.append(("jsonMetadata", json.dumps(md) if self.chance(0.3) else md))
        if self.chance(0.1):
            parts.append(
                (
                    "jsonContent",
                    [
                        {
                            "useClassicCoordinates": False,
                            "epsg": r.choice(["EPSG4326", "TiledImage"]),
                        }
                    ],
                )
            )
        if self.chance(0.3):
            parts.append(("status", r.choice(["LABELED", "TODO", 1])))
        r.shuffle(parts)  # e.g. `labels` before `latestLabel`
        a.update(parts)
        return a

    def document(self) -> dict[str, Any]:
        k = self.r.random()
        if k < 0.4:
            doc = self.asset()
        elif k < 0.7:
            doc = self.label()
        else:
            doc = self.response()
            if self.chance(0.15):
                doc["resolution"] = {"width": 100, "height": 50}
        for _ in range(3):
            if self.chance(self.hostile):
                doc = self.mutate(doc)
        return doc

    # -- hostile mutations -------------------------------------------------------------

    def junk(self) -> Any:
        r = self.r
        k = r.random()
        if k < 0.6:
            return r.choice(
                [None, True, False, 0, -1, 1.5, "", "x", [], {}, [1, 2], {"a": 1}, 10**400]
            )
        if k < 0.7:
            return self.deep(r.choice([5, 60, 127, 128, 129, 130, 200, 300]))
        if k < 0.8:
            return self.text()
        if k < 0.9:
            return self.job(2)
        return [self.pt(), "x"]

    def deep(self, n: int) -> Any:
        v: Any = self.r.choice([[], {}, 1, None])
        for _ in range(n):
            v = [v] if self.chance(0.5) else {"children": v}
        return v

    def mutate(self, doc: Any) -> Any:
        """Replace, delete or add one value somewhere in `doc` (a path chosen at random)."""
        r = self.r
        containers: list[Any] = []

        def walk(v: Any, depth: int) -> None:
            if depth > 40:
                return
            if isinstance(v, (dict, list)):
                containers.append(v)
                for c in v.values() if isinstance(v, dict) else v:
                    walk(c, depth + 1)

        walk(doc, 0)
        target = r.choice(containers)
        if isinstance(target, dict):
            if target and self.chance(0.6):
                key = r.choice(list(target))
                if self.chance(0.3):
                    del target[key]
                else:
                    target[key] = self.junk()
            else:
                key = r.choice(["mid", "x", "children", "annotations", "name", "JOB", "0", "é"])
                target[key] = self.junk()
        elif target and self.chance(0.7):
            target[r.randrange(len(target))] = self.junk()
        else:
            target.append(self.junk())
        return doc


def outcome(f: Callable[..., object], *args: object) -> tuple[str, object]:
    try:
        return ("ok", f(*args))
    except LabelError as e:
        return ("error", str(e))


def issues(rules: RuleSet, item: object) -> object:
    return [
        (i.rule, i.kind, i.severity, i.text, i.mid, i.job, i.category, i.frame, i.value, i.limit)
        for i in rules.validate(item)
    ]


def rows(report: Any) -> list[tuple[object, ...]]:
    return [
        (r.kind, r.rule, r.text, r.asset_id, r.external_id, r.label_id, r.mid, r.frame, r.value)
        for r in report
    ]


def has_surrogate(doc: Any) -> bool:
    return "\\ud8" in json.dumps(doc)


def check_batch(seed: int, hostile: float) -> None:
    gen = Gen(random.Random(seed), hostile)
    docs = [gen.document() for _ in range(DOCS_PER_EXAMPLE)]
    texts: list[str] = []
    for n, doc in enumerate(docs):
        # Vary the JSON's spacing: errors must not depend on where a value sits in the text.
        ascii_only = n % 3 != 0 or has_surrogate(doc)
        text = json.dumps(doc, ensure_ascii=ascii_only, indent=1 if n % 4 == 0 else None)
        texts.append(text)
        from_dict = outcome(_read_model, doc, False)
        from_text = outcome(_read_model, text, True)
        assert from_dict == from_text, (doc, from_dict, from_text)
        assert outcome(issues, RULES, doc) == outcome(issues, RULES, text), doc
        assert outcome(issues, PIXELS, doc) == outcome(issues, PIXELS, text), doc
        checked["docs"] += 1
        checked["errors"] += from_dict[0] == "error"
    # In a batch (dicts read under the GIL, parsed on worker threads), row for row.
    assert rows(RULES.validate_many(docs, threads=2)) == rows(RULES.validate_many(texts))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(seed=st.integers(0, 2**32 - 1), hostile=st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0]))
def check_many_documents(seed: int, hostile: float) -> None:
    check_batch(seed, hostile)


def test_dict_and_json_text_agree_on_20000_documents() -> None:
    checked.update(docs=0, errors=0)
    check_many_documents()
    assert checked["docs"] >= 20_000, checked
    # The hostile documents did reach the error paths, and the sound ones the checks.
    assert 0.05 * checked["docs"] < checked["errors"] < 0.6 * checked["docs"], checked


# -- what only a Python object can be ---------------------------------------------------


NOT_JSON = "expected a JSON value (dict, list, str, int, float, bool or None), got "


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        (math.nan, "BOX.annotations[0].point.x", "expected a finite number, got NaN"),
        (-math.inf, "BOX.annotations[0].point.x", "expected a finite number, got -inf"),
        ({1, 2}, "BOX.annotations[0].point.x", NOT_JSON + "set"),
        (b"0.5", "BOX.annotations[0].point.x", NOT_JSON + "bytes"),
        (object(), "BOX.annotations[0].point.x", NOT_JSON + "object"),
        ({1: 0.5}, "BOX.annotations[0].point.x", "expected string keys, got a int key"),
    ],
)
def test_values_json_cannot_say_are_named(value: object, path: str, words: str) -> None:
    doc = {"BOX": {"annotations": [{"point": {"x": value, "y": 0}}]}}
    for read in (lambda: _read_model(doc, False), lambda: RULES.validate(doc)):
        with pytest.raises(LabelError) as e:
            read()
        assert str(e.value) == f"{path}: {words}"


def test_circular_object_is_an_error_not_a_hang() -> None:
    doc: dict[str, Any] = {"id": "a1", "latestLabel": None}
    doc["extra"] = doc
    with pytest.raises(LabelError, match="circular"):
        RULES.validate(doc)
    (row,) = RULES.validate_many([doc])
    assert (row.kind, row.asset_id) == ("invalid_label", "a1")


def test_tuples_and_subclasses_read_as_lists_and_dicts() -> None:
    class D(dict):  # type: ignore[type-arg]
        pass

    class F(float):
        pass

    class I(int):  # noqa: E742
        def __str__(self) -> str:
            return "not a number"

    ring = ({"x": F(0.1), "y": 0.1}, {"x": 0.3, "y": I(0)}, D(x=0.3, y=0.3))
    doc = {"POLY": {"annotations": [{"mid": I(7), "boundingPoly": [{"normalizedVertices": ring}]}]}}
    plain = {
        "POLY": {
            "annotations": [
                {
                    "mid": 7,
                    "boundingPoly": [
                        {
                            "normalizedVertices": [
                                {"x": 0.1, "y": 0.1},
                                {"x": 0.3, "y": 0},
                                {"x": 0.3, "y": 0.3},
                            ]
                        }
                    ],
                }
            ]
        }
    }
    assert _read_model(doc, False) == _read_model(json.dumps(plain), True)


def test_deep_nesting_beyond_the_limit_is_the_same_error() -> None:
    deep: Any = {}
    for _ in range(400):
        deep = {"children": [deep]}
    for doc in (
        {"id": "a", "latestLabel": {"jsonResponse": {"BOX": {"annotations": [deep]}}}},
        {"BOX": {"annotations": [{"children": {"CLS": deep}}]}},
        {"id": "a", "latestLabel": None, "ignored": deep},  # skipped: accepted by both
        {"BOX": {"annotations": [{"mid": "m", "ignored": deep}]}},
    ):
        text = json.dumps(doc)
        assert outcome(_read_model, doc, False) == outcome(_read_model, text, True)


def test_latest_label_first_whatever_the_key_order() -> None:
    first = {"id": "a", "latestLabel": {"id": "L"}, "labels": [{"id": "x"}, {"id": "y"}]}
    last = {"id": "a", "labels": [{"id": "x"}, {"id": "y"}], "latestLabel": {"id": "L"}}
    assert _read_model(first, False) == _read_model(last, False)
    assert _read_model(json.dumps(last), True) == _read_model(first, False)


def test_lone_surrogates_read_as_json_dumps_writes_them() -> None:
    for text in ("a\ud800b", "\udc00", "x\ud83d\ude00y", "é\ud800"):
        doc = {"id": "L", "jsonResponse": {"OCR": {"text": text}}}
        dumped = json.dumps(doc)
        assert outcome(_read_model, doc, False) == outcome(_read_model, dumped, True), text
    # A pair given as two code units is the character it encodes.
    pair = {"OCR": {"text": "\ud83d\ude00"}}
    assert _read_model(pair, False) == _read_model(json.dumps({"OCR": {"text": "😀"}}), True)
