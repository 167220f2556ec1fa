"""Garbage in: LabelError (a ValueError) naming where, never a crash or a PanicException."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kili_rules import LabelError, RuleSet

RULES = RuleSet.from_dict(
    {
        "rule": [
            {"kind": "count", "job": "JOB_0", "max": 1},
            {"kind": "area", "job": "JOB_0", "max": 0.5},
            {"kind": "valid_polygon", "job": "JOB_0"},
            {"kind": "overlap", "job": "JOB_0", "max_iou": 0.5},
            {"kind": "inside_image", "job": "JOB_0"},
            {"kind": "box", "job": "JOB_0", "max_aspect": 10},
            {"kind": "required", "job": "JOB_0", "child": "T"},
        ]
    }
)


def box(vertices: object) -> dict[str, object]:
    return {
        "JOB_0": {"annotations": [{"mid": "a", "boundingPoly": [{"normalizedVertices": vertices}]}]}
    }


def check_both(label: object, path_part: str) -> None:
    """The dict and its JSON text are both refused, with the same message naming the place."""
    messages = []
    for form in (label, json.dumps(label, allow_nan=True)):
        with pytest.raises(LabelError) as e:
            RULES.validate(form)
        assert path_part in str(e.value), str(e.value)
        messages.append(str(e.value))
    assert messages[0] == messages[1]


def test_string_where_a_number_goes() -> None:
    label = {
        "JOB_0": {
            "annotations": [
                {},
                {},
                {"boundingPoly": [{"normalizedVertices": [{"x": 0, "y": 0}, {"x": "1", "y": 0}]}]},
            ]
        }
    }
    check_both(label, "JOB_0.annotations[2].boundingPoly[0].normalizedVertices[1].x")


def test_non_finite_numbers() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(LabelError, match=r"normalizedVertices\[0\].x"):
            RULES.validate(box([{"x": bad, "y": 0}]))
    # JSON has no NaN: serde refuses the literal, naming where.
    with pytest.raises(LabelError):
        RULES.validate(json.dumps(box([{"x": math.nan, "y": 0}]), allow_nan=True))
    with pytest.raises(LabelError):
        RULES.validate('{"JOB_0": {"annotations": [{"point": {"x": 1e999, "y": 0}}]}}')


def test_missing_keys_and_wrong_containers() -> None:
    check_both(box([{"x": 0.1}]), "normalizedVertices[0]")
    check_both({"JOB_0": []}, "JOB_0")
    check_both({"JOB_0": {"annotations": {"a": 1}}}, "JOB_0.annotations")
    check_both({"JOB_0": {"annotations": ["x"]}}, "JOB_0.annotations[0]")
    check_both({"JOB_0": {"categories": [{"name": ["A"]}]}}, "JOB_0.categories[0].name")
    check_both({"JOB_0": {"annotations": [{"children": [1]}]}}, "JOB_0.annotations[0].children")
    with pytest.raises(LabelError, match="expected a label dict"):
        RULES.validate(42)
    with pytest.raises(LabelError, match="expected a label dict"):
        RULES.validate([1, 2])


def test_empty_and_degenerate_rings_are_issues_not_errors() -> None:
    for ring in (
        [],
        [{"x": 0, "y": 0}],
        [{"x": 0, "y": 0}] * 5,
        [{"x": 0, "y": 0}, {"x": 1, "y": 0}, {"x": 2, "y": 0}],
    ):
        issues = RULES.validate(box(ring))
        assert any(i.kind == "valid_polygon" for i in issues), ring


def test_deep_nesting() -> None:
    depth = 100_000
    text = '{"JOB_0": {"annotations": [{"children": ' * 1 + "[" * depth + "]" * depth + "}]}}"
    with pytest.raises(LabelError):
        RULES.validate(text)
    nested: dict[str, object] = {}
    cur = nested
    for _ in range(2000):
        child: dict[str, object] = {}
        cur["JOB_0"] = {"annotations": [{"children": child}]}
        cur = child
    # One depth limit: the dict and its JSON text fail alike, at the same place.
    with pytest.raises(LabelError, match="recursion limit") as from_dict:
        RULES.validate(nested)
    deep_text = '{"JOB_0": {"annotations": [{"children": ' * 2000 + "{}" + "}]}}" * 2000
    with pytest.raises(LabelError, match="recursion limit") as from_text:
        RULES.validate(deep_text)
    assert str(from_dict.value) == str(from_text.value)


def test_huge_integers_and_ids() -> None:
    with pytest.raises(LabelError):
        RULES.validate(box([{"x": 10**400, "y": 0}]))
    with pytest.raises(LabelError):
        RULES.validate(json.dumps(box([{"x": 10**400, "y": 0}])))
    # An integer mid (seen in real data) is fine, however large.
    label = {"JOB_0": {"annotations": [{"mid": 10**30, "categories": [{"name": "A"}]}]}}
    assert RULES.validate(label) == RULES.validate(json.dumps(label))


def test_non_utf8_and_truncated_bytes() -> None:
    with pytest.raises(LabelError):
        RULES.validate(b'{"JOB_0": {"text": "\xff\xfe"}}')
    with pytest.raises(LabelError):
        RULES.validate(b'{"JOB_0": {"annotations": [')
    with pytest.raises(LabelError):
        RULES.validate(b"")
    with pytest.raises(LabelError):
        RULES.validate({"id": "l", "jsonResponse": "{not json"})


def test_error_messages_stay_short() -> None:
    with pytest.raises(LabelError) as e:
        RULES.validate(json.dumps({"JOB_0": "x" * 1_000_000}))
    assert len(str(e.value)) < 400


def test_garbage_in_a_batch_becomes_rows() -> None:
    report = RULES.validate_many([{"JOB_0": []}, b"\xff", box([{"x": 0, "y": 0}]), 42])
    kinds = [r.kind for r in report]
    assert kinds.count("invalid_label") == 3
    assert "valid_polygon" in kinds


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "JOB_0",
                    "annotations",
                    "boundingPoly",
                    "normalizedVertices",
                    "x",
                    "y",
                    "mid",
                    "categories",
                    "name",
                    "children",
                    "point",
                    "polyline",
                    "text",
                    "0",
                    "assetLevel",
                    "jsonResponse",
                    "latestLabel",
                    "labels",
                    "annotationsX",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_fuzz_never_panics(value: object) -> None:
    for form in (value, json.dumps(value, allow_nan=True)):
        try:
            RULES.validate(form)
        except LabelError:
            pass
        except ValueError:
            pass


def test_unreadable_labels_keep_their_ids() -> None:
    asset = {"id": "asset-1", "externalId": "img.jpg", "latestLabel": {"jsonResponse": "{broken"}}
    label = {"id": "label-1", "jsonResponse": {"JOB_0": []}}
    for items in ([asset, label], [json.dumps(asset), json.dumps(label).encode()]):
        rows = list(RULES.validate_many(items))
        assert [(r.kind, r.asset_id, r.external_id, r.label_id) for r in rows] == [
            ("invalid_label", "asset-1", "img.jpg", None),
            ("invalid_label", None, None, "label-1"),
        ]
