"""LabelError carries its structure: ``path`` (keys and indexes down to the bad value) and
``reason``; RulesError carries ``rule``, ``field`` and ``reason``. The same from a dict, a JSON
str and JSON bytes, and the message is ``path: reason`` as it always was."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kili_rules import LabelError, RulesError, RuleSet

RULES = RuleSet.from_dict({"rule": [{"kind": "count", "job": "JOB_0", "max": 1}]})

BAD_MID: dict[str, Any] = {
    "id": "L1",
    "jsonResponse": {
        "JOB_0": {
            "annotations": [
                {"categories": [{"name": "A"}], "mid": "ok"},
                {"categories": [{"name": "A"}], "mid": [1, 2]},
            ]
        }
    },
}


@pytest.mark.parametrize("form", ["dict", "str", "bytes"])
def test_path_is_a_tuple_of_keys_and_indexes(form: str) -> None:
    source: object = {
        "dict": BAD_MID,
        "str": json.dumps(BAD_MID),
        "bytes": json.dumps(BAD_MID).encode(),
    }[form]
    with pytest.raises(LabelError) as info:
        RULES.validate(source)
    e = info.value
    assert e.path == ("jsonResponse", "JOB_0", "annotations", 1, "mid")
    assert all(isinstance(p, (str, int)) for p in e.path)
    assert e.reason and "jsonResponse" not in e.reason
    assert str(e) == "jsonResponse.JOB_0.annotations[1].mid: " + e.reason


def test_bare_response_entry_and_python_only_errors_have_paths() -> None:
    bare = {"JOB_0": {"annotations": [{"categories": [{"name": "A"}], "mid": {"m": 1}}]}}
    for source in (bare, json.dumps(bare)):
        with pytest.raises(LabelError) as info:
            RULES.validate(source)
        assert info.value.path == ("JOB_0", "annotations", 0, "mid"), info.value
    # What JSON cannot say (NaN, a set) is named where it sits, from a dict.
    with pytest.raises(LabelError) as info:
        RULES.validate({"jsonResponse": {"JOB_0": {"annotations": [{"score": float("nan")}]}}})
    assert info.value.path == ("jsonResponse", "JOB_0", "annotations", 0, "score")
    with pytest.raises(LabelError) as info:
        RULES.validate({"id": "x", "jsonResponse": {}, "extra": [{1, 2}]})
    assert info.value.path == ("extra", 0)
    assert "got set" in info.value.reason


def test_whole_document_error_has_an_empty_path() -> None:
    with pytest.raises(LabelError) as info:
        RULES.validate(b"[1, 2]")
    assert info.value.path == ()


def test_rules_error_names_rule_and_field() -> None:
    with pytest.raises(RulesError) as info:
        RuleSet.from_dict({"rule": [{"id": "r1", "kind": "count", "job": "J", "max": "three"}]})
    e = info.value
    assert e.rule == "r1"
    assert e.field == "max"
    assert e.reason and e.reason in str(e)
    with pytest.raises(RulesError) as info:
        RuleSet.from_dict({"rule": [{"kind": "count", "job": "J", "mxa": 1}]})
    assert info.value.rule == 1  # rules are numbered from 1, as the message says
    assert info.value.field == "mxa"
