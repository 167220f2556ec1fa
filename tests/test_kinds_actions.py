"""The rules file's `[actions]` table: RuleSet.actions, RuleSet.decide, fingerprint, pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from kili_rules import Count, RuleSet, RulesError
from kili_rules.verdict import ActionPolicy

TOML = """
[actions]
on_error = ["issues", "metadata", "send_back"]
on_pass = ["review", "metadata"]
max_bounces = 2
metadata_prefix = "qa_"

[[rule]]
id = "one-a"
kind = "count"
job = "JOB_0"
category = "OBJECT_A"
max = 1
"""


def box(mid: str) -> dict[str, object]:
    v = [{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.1}, {"x": 0.2, "y": 0.2}, {"x": 0.1, "y": 0.2}]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "OBJECT_A"}],
        "boundingPoly": [{"normalizedVertices": v}],
    }


def test_actions_table_and_decide() -> None:
    rs = RuleSet.from_toml(TOML)
    assert rs.actions == ActionPolicy(
        on_error=("issues", "metadata", "send_back"),
        on_pass=("metadata", "review"),
        max_bounces=2,
        metadata_prefix="qa_",
    )
    # Two parts of one object share a mid: 3 objects, 1 issue.
    label = {"JOB_0": {"annotations": [box("a"), box("b"), box("c"), box("c")]}}
    v = rs.decide(label)
    assert (v.outcome, v.actions, v.objects, v.max_bounces) == (
        "error",
        ("issues", "metadata", "send_back"),
        3,
        2,
    )
    assert v.metadata["qa_accuracy"] == repr(1 - 1 / 3)
    assert v.metadata["qa_rules"] == "one-a"
    ok = rs.decide({"JOB_0": {"annotations": [box("a")]}})
    assert (ok.outcome, ok.actions, ok.metadata["qa_accuracy"]) == ("pass", ("metadata", "review"), "1.0")


def test_default_actions_and_objects_without_a_table() -> None:
    rs = RuleSet([Count(job="JOB_0", max=0)])
    assert rs.actions == ActionPolicy()
    v = rs.decide({"JOB_0": {"annotations": [box("a")]}})
    assert (v.outcome, v.actions, v.objects) == ("error", ("issues", "send_back"), 1)
    # Python rule objects take the table too.
    rs2 = RuleSet([Count(job="JOB_0", max=0)], actions={"on_error": ["issues", "review"]})
    assert rs2.actions.on_error == ("issues", "review")
    assert rs2.fingerprint != rs.fingerprint


def test_actions_are_in_the_fingerprint_and_survive_pickling() -> None:
    rs = RuleSet.from_toml(TOML)
    plain = RuleSet.from_toml(TOML.split("[[rule]]", 1)[1].join(["[[rule]]", ""]))
    assert plain.actions == ActionPolicy()
    assert rs.fingerprint != plain.fingerprint
    back = pickle.loads(pickle.dumps(rs))
    assert back.actions == rs.actions
    assert back.fingerprint == rs.fingerprint
    assert back == rs


def test_a_bad_actions_table_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(TOML.replace('"review", "metadata"', '"review", "teleport"'))
    with pytest.raises(RulesError, match=r"rules\.toml: actions\.on_pass: unknown action 'teleport'"):
        RuleSet.from_file(path)
    path.write_text('actions = "all"\n' + TOML.split("\n", 7)[-1])
    with pytest.raises(RulesError, match=r"rules\.toml: .*actions: expected a table"):
        RuleSet.from_file(path)
    with pytest.raises(RulesError, match="actions.max_bounces"):
        RuleSet.from_dict({"actions": {"max_bounces": -1}, "rule": []})
