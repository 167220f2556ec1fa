"""`entity` rules on named entities: span length, text pattern, overlaps, relations; lint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _kinds_check import asset, three_ways
from kili_rules import Entity, RulesError, RuleSet

IFACE: dict[str, Any] = {
    "jobs": {
        "NER": {
            "mlTask": "NAMED_ENTITIES_RECOGNITION",
            "content": {
                "input": "radio",
                "categories": {"PERSON": {"name": "Person"}, "ORG": {"name": "Org"}},
            },
        },
        "REL": {
            "mlTask": "NAMED_ENTITIES_RELATION",
            "content": {"input": "radio", "categories": {"WORKS_FOR": {"name": "Works for"}}},
        },
    }
}


def ent(mid: str, cat: str, begin: int, content: str) -> dict[str, Any]:
    return {
        "mid": mid,
        "categories": [{"name": cat}],
        "beginOffset": begin,
        "endOffset": begin + len(content),
        "content": content,
    }


def rel(mid: str, start: str, end: str) -> dict[str, Any]:
    return {
        "mid": mid,
        "categories": [{"name": "WORKS_FOR"}],
        "startEntities": [{"mid": start}],
        "endEntities": [{"mid": end}],
    }


def doc(ents: list[dict[str, Any]], rels: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    out: dict[str, Any] = {"NER": {"annotations": ents}}
    if rels:
        out["REL"] = {"annotations": list(rels)}
    return out


RULES = RuleSet.from_toml(
    """
[[rule]]
id = "person-name"
kind = "entity"
job = "NER"
category = "PERSON"
pattern = "^[A-Z][a-z]+( [A-Z][a-z]+)*$"
max_length = 30

[[rule]]
id = "no-overlap"
kind = "entity"
job = "NER"
no_overlap = true

[[rule]]
id = "person-works"
kind = "entity"
job = "NER"
category = "PERSON"
relation = "REL"
relation_role = "start"
message = "{text} works nowhere"
"""
)

TEXT = "Alice Martin works for Acme Corporation in Paris"


def test_entity_rules() -> None:
    good = doc(
        [ent("e1", "PERSON", 0, "Alice Martin"), ent("e2", "ORG", 23, "Acme Corporation")],
        [rel("r1", "e1", "e2")],
    )
    assert RULES.validate(good) == []
    bad = doc(
        [
            ent("e1", "PERSON", 0, "alice"),
            ent("e2", "ORG", 3, "ce Martin"),
            ent("e3", "PERSON", 60, "Bob " * 10),
        ],
        [rel("r1", "e2", "e1")],
    )
    got = [(i.rule, i.mid, i.text) for i in RULES.validate(bad)]
    assert got == [
        (
            "person-name",
            "e1",
            'This PERSON entity "alice" does not match the expected format '
            "^[A-Z][a-z]+( [A-Z][a-z]+)*$: correct its span.",
        ),
        (
            "person-name",
            "e3",
            "This PERSON entity is too long: 40 characters, at most 30 allowed.",
        ),
        (
            "no-overlap",
            "e2",
            "This ORG entity overlaps another entity (PERSON): change the spans so they do not "
            "overlap.",
        ),
        ("person-works", "e1", "alice works nowhere"),
        ("person-works", "e3", f"{'Bob ' * 10} works nowhere"),
    ]
    length = next(i for i in RULES.validate(bad) if i.mid == "e3")
    assert (length.value, length.limit) == (40.0, 30.0)


def test_entity_from_dict_json_and_export_agree(tmp_path: Path) -> None:
    assets = [
        asset("a1", doc([ent("e1", "PERSON", 0, "Alice Martin")])),
        asset("a2", doc([ent("e1", "ORG", 0, "Acme"), ent("e2", "ORG", 2, "me Inc")])),
        asset(
            "a3",
            doc(
                [ent("e1", "PERSON", 0, "Alice"), ent("e2", "ORG", 10, "Acme")],
                [rel("r1", "e1", "e2")],
            ),
        ),
    ]
    rows = three_ways(RULES, assets, tmp_path)
    assert [(r[0], r[1], r[5]) for r in rows] == [
        ("a1", "person-works", "e1"),
        ("a2", "no-overlap", "e2"),
    ]


def test_entity_config_errors_and_lint() -> None:
    with pytest.raises(RulesError, match="rule 1: relation_role: needs `relation`"):
        RuleSet([Entity(job="NER", relation_role="start", max_length=3)])
    with pytest.raises(RulesError, match="rule 1: relation_role: expected one of any, start, end"):
        RuleSet.from_dict(
            {"rule": [{"kind": "entity", "job": "NER", "relation": "R", "relation_role": "x"}]}
        )
    assert RULES.lint(IFACE) == []
    bad = RuleSet(
        [
            Entity(job="REL", max_length=3),
            Entity(job="NER", category="PLACE", relation="NER"),
            Entity(job="NER", relation="RELS"),
        ]
    )
    assert bad.lint(IFACE) == [
        "rule 'entity-1' (entity): job 'REL' is not a named-entity job "
        "(mlTask 'NAMED_ENTITIES_RELATION')",
        "rule 'entity-2' (entity): job 'NER' has no category 'PLACE' (categories: ORG, PERSON)",
        "rule 'entity-2' (entity): relation: job 'NER' is not a relation job "
        "(mlTask 'NAMED_ENTITIES_RECOGNITION')",
        "rule 'entity-3' (entity): relation: unknown job 'RELS'",
    ]
