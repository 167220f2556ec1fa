"""RuleSet construction, errors on bad rules, pickling, schema, lint."""

from __future__ import annotations

import json
import pickle

import pytest
from conftest import SEED, load
from kili_rules import Count, RulesError, RuleSet, ValidPolygon


def test_pickle_round_trip(tutorial_rules: RuleSet) -> None:
    clone = pickle.loads(pickle.dumps(tutorial_rules))
    assert clone == tutorial_rules and clone.fingerprint == tutorial_rules.fingerprint
    label = load(SEED / "json_response_three_boxes.json")
    assert clone.validate(label) == tutorial_rules.validate(label)


def test_fingerprint_changes_with_rules(tutorial_rules: RuleSet) -> None:
    other = RuleSet([Count(job="JOB_0", max=2)])
    assert other.fingerprint != tutorial_rules.fingerprint
    assert len(tutorial_rules) == 2
    assert "too-many-object-a" in repr(tutorial_rules)


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[[rule]]\nkind = "count"\njob = "J"\nmaxx = 1\n', "rule 1: maxx"),
        (
            '[[rule]]\nkind = "count"\njob = "J"\nmax = 1\n'
            '[[rule]]\nid = "b"\nkind = "area"\njob = "J"\nmax = "big"\n',
            "rule 2 ('b'): max",
        ),
        ('[[rule]]\nkind = "circle"\njob = "J"\n', "rule 1: kind: unknown kind 'circle'"),
        ('[[rule]]\nkind = "count"\njob = "J"\nmax = 1\nunit = "pixels"\n', "rule 1: unit"),
        ('[[rule]]\nkind = "area"\njob = "J"\nmin = 2\nmax = 1\n', "rule 1: min"),
        ('[[rule]]\nkind = "count"\njob = "J"\nmax = 1\nmessage = "{nope}"\n', "rule 1: message"),
        ('[[rule]]\nkind = "count"\nmax = 1\n', "rule 1: job"),
        ("[[rule]\n", "TOML"),
        ("rules_typo = 1\n", "unknown top-level key"),
    ],
)
def test_bad_rules_name_rule_and_field(toml: str, needle: str) -> None:
    with pytest.raises(RulesError) as e:
        RuleSet.from_toml(toml)
    assert needle in str(e.value)
    assert isinstance(e.value, ValueError)


def test_bad_rules_file_names_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "bad.toml"
    p.write_text('[[rule]]\nkind = "count"\njob = "J"\nmaxx = 1\n')
    with pytest.raises(RulesError, match=r"bad\.toml: rule 1: maxx"):
        RuleSet.from_file(p)
    with pytest.raises(RulesError, match="unknown rules file type"):
        RuleSet.from_file(tmp_path / "rules.txt")
    with pytest.raises(RulesError, match="cannot read"):
        RuleSet.from_file(tmp_path / "missing.toml")
    with pytest.raises(RulesError):
        RuleSet([42])  # type: ignore[list-item]


def test_json_schema_describes_every_kind() -> None:
    schema = RuleSet.json_schema()
    kinds = {v["title"] for v in schema["properties"]["rule"]["items"]["oneOf"]}
    assert kinds >= {"count", "area", "box", "inside_image", "valid_polygon", "overlap", "required"}
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate({"rule": [{"kind": "count", "job": "J", "max": 1}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"rule": [{"kind": "count", "job": "J", "maxx": 1}]}, schema)


def test_lint_against_the_tutorial_interface(tutorial_rules: RuleSet) -> None:
    iface = load(SEED / "json_interface.json")
    assert tutorial_rules.lint(iface) == []
    assert tutorial_rules.lint(json.dumps(iface)) == []
    assert tutorial_rules.lint({"jsonInterface": iface}) == []
    bad = RuleSet(
        [
            Count(job="JOB_9", max=1),
            Count(job="JOB_0", category="OBJECT_Z", max=1),
            ValidPolygon(job="CLASSIF"),
        ]
    )
    iface["jobs"]["CLASSIF"] = {
        "mlTask": "CLASSIFICATION",
        "content": {"categories": {}, "input": "radio"},
    }
    problems = bad.lint(iface)
    assert len(problems) == 3, problems
    assert "unknown job 'JOB_9'" in problems[0]
    assert "no category 'OBJECT_Z'" in problems[1]
    assert "geometry rule" in problems[2]


def test_rules_property_is_normalized(tutorial_rules: RuleSet) -> None:
    r = RuleSet([Count(job="JOB_0", max=1)])
    assert r.rules == [{"id": "count-1", "kind": "count", "job": "JOB_0", "max": 1.0}]
