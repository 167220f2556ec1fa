"""The Python rule classes and the JSON Schema agree with the native registry of kinds."""

from __future__ import annotations

import dataclasses
import typing

import kili_rules
from kili_rules import RuleSet, rules

COMMON = {"id", "kind", "job", "category", "severity", "message", "when", "max_fraction"}


def python_classes() -> dict[str, type[rules.Rule]]:
    return {
        cls.kind: cls
        for cls in vars(rules).values()
        if isinstance(cls, type) and issubclass(cls, rules.Rule) and cls is not rules.Rule
    }


def test_every_kind_has_a_python_class_with_the_same_fields() -> None:
    schema = RuleSet.json_schema()
    variants = {v["title"]: v for v in schema["properties"]["rule"]["items"]["oneOf"]}
    classes = python_classes()
    assert set(classes) == set(variants)
    # Every registered kind, the text and entity kinds included, in the registry's order.
    assert list(variants) == [
        "count",
        "area",
        "box",
        "inside_image",
        "valid_polygon",
        "overlap",
        "required",
        "answer",
        "text",
        "entity",
    ]
    for kind, variant in variants.items():
        cls = classes[kind]
        py_fields = {f.name for f in dataclasses.fields(cls)}
        assert py_fields == set(variant["properties"]) - {"kind"}, kind
        assert set(variant["properties"]) >= COMMON
        # The class is exported at the package level too.
        assert getattr(kili_rules, cls.__name__) is cls


def test_python_field_types_match_the_schema_types() -> None:
    schema = RuleSet.json_schema()
    for variant in schema["properties"]["rule"]["items"]["oneOf"]:
        cls = python_classes()[variant["title"]]
        hints = typing.get_type_hints(cls)
        for name, prop in variant["properties"].items():
            if name in COMMON:
                continue
            hint = str(hints[name])
            if prop.get("type") == "integer":
                assert "int" in hint, (cls, name, hint)
            elif prop.get("type") == "number":
                assert "float" in hint, (cls, name, hint)
            elif prop.get("type") == "boolean":
                assert "bool" in hint, (cls, name, hint)
            elif "enum" in prop:
                assert "Literal" in hint, (cls, name, hint)
            else:
                assert "str" in hint, (cls, name, hint)


def test_a_rule_object_round_trips_through_the_native_config() -> None:
    # Every class builds a rule the native loader accepts, with its kind.
    samples: dict[str, dict[str, object]] = {
        "count": {"max": 1},
        "area": {"max": 0.5},
        "box": {"max_area": 0.33},
        "inside_image": {},
        "valid_polygon": {},
        "overlap": {},
        "required": {},
        "answer": {"allowed": ["A"]},
        "text": {"prefix": "FR"},
        "entity": {"max_length": 10},
    }
    for kind, cls in python_classes().items():
        rule = cls(job="J", **samples[kind])  # type: ignore[arg-type]
        rs = RuleSet([rule])
        assert rs.rules[0]["kind"] == kind
        assert rs.rules[0]["id"] == f"{kind}-1"


def test_docs_describe_every_kind_and_field() -> None:
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "rules.md").read_text()
    schema = RuleSet.json_schema()
    for variant in schema["properties"]["rule"]["items"]["oneOf"]:
        kind = variant["title"]
        head = f"### `{kind}`"
        assert head in text, kind
        section = text.split(head, 1)[1].split("\n### ", 1)[0]
        for name in set(variant["properties"]) - COMMON:
            assert f"`{name}`" in section, (kind, name)
