"""`text` rules on transcriptions: top level and children of boxes (the invoice project),
checksums, linear-time patterns, `when.parent`, lint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _kinds_check import asset, three_ways
from conftest import DATA, load
from kili_rules import RulesError, RuleSet, Text

IFACE = load(DATA / "invoice" / "json_interface.json")

RULES = RuleSet.from_toml(
    """
[[rule]]
id = "iban-fr"
kind = "text"
job = "TRANSCRIPTION_JOB"
prefix = "FR"
message = "IBAN number should start by FR"

[[rule]]
id = "iban-valid"
kind = "text"
job = "TRANSCRIPTION_JOB"
checksum = "iban"
message = "IBAN {text} {reason}"

[[rule]]
id = "currency"
kind = "text"
job = "TRANSCRIPTION_JOB_2"
allowed = ["DOLLAR", "EURO"]
case_sensitive = false
strip = true
message = "Authorized currencies are only Euro and Dollar"
"""
)

GOOD_IBAN = "FR76 3000 6000 0112 3456 7890 189"


def box(mid: str, category: str, child: str, text: str) -> dict[str, Any]:
    v = [{"x": 0.1, "y": 0.1}, {"x": 0.3, "y": 0.1}, {"x": 0.3, "y": 0.2}, {"x": 0.1, "y": 0.2}]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": category}],
        "boundingPoly": [{"normalizedVertices": v}],
        "children": {child: {"text": text}},
    }


def invoice(*boxes: dict[str, Any]) -> dict[str, Any]:
    return {"JOB_0": {"annotations": list(boxes)}}


def found(json_response: dict[str, Any], rs: RuleSet = RULES) -> list[tuple[str, str | None, str]]:
    return [(i.rule, i.mid, i.text) for i in rs.validate(json_response)]


def test_the_document_qa_rules() -> None:
    ok = invoice(
        box("i1", "IBAN", "TRANSCRIPTION_JOB", GOOD_IBAN),
        box("c1", "CURRENCY", "TRANSCRIPTION_JOB_2", " euro "),
    )
    assert found(ok) == []
    bad = invoice(
        box("i1", "IBAN", "TRANSCRIPTION_JOB", "DE89 3704 0044 0532 0130 00"),
        box("i2", "IBAN", "TRANSCRIPTION_JOB", "FR76 3000 6000 0112 3456 7890 188"),
        box("c1", "CURRENCY", "TRANSCRIPTION_JOB_2", "YEN"),
    )
    assert found(bad) == [
        ("iban-fr", "i1", "IBAN number should start by FR"),
        (
            "iban-valid",
            "i2",
            "IBAN FR76 3000 6000 0112 3456 7890 188 is not a valid IBAN: check it for typos",
        ),
        ("currency", "c1", "Authorized currencies are only Euro and Dollar"),
    ]
    issue = RULES.validate(bad)[0]
    assert (issue.job, issue.category, issue.kind) == ("TRANSCRIPTION_JOB", "IBAN", "text")


def test_top_level_transcription_goes_on_the_label() -> None:
    rs = RuleSet([Text(job="TRANSCRIPTION_JOB", min_length=3, max_length=5)])
    issues = rs.validate({"TRANSCRIPTION_JOB": {"text": "été à"}})
    assert issues == []
    issues = rs.validate({"TRANSCRIPTION_JOB": {"text": "ab"}})
    assert [(i.mid, i.value, i.limit, i.text) for i in issues] == [
        (
            None,
            2.0,
            3.0,
            'The TRANSCRIPTION_JOB text "ab" is too short: 2 characters, at least 3 needed.',
        )
    ]


def test_fields_one_by_one() -> None:
    def judge(text: str, **fields: Any) -> list[str]:
        rs = RuleSet([Text(job="T", message="{reason}", **fields)])
        return [i.text for i in rs.validate({"T": {"text": text}})]

    assert judge("INV-2024-001", pattern=r"^INV-\d{4}-\d{3}$") == []
    assert judge("INV-24-001", pattern=r"^INV-\d{4}-\d{3}$") == [
        r"does not match the expected format ^INV-\d{4}-\d{3}$: correct it"
    ]
    assert judge("inv-2024-001", pattern=r"^INV-\d{4}", case_sensitive=False) == []
    assert judge("report.pdf", suffix=".pdf") == []
    assert judge("report.PDF", suffix=".pdf") == ['does not end with ".pdf": correct it']
    assert judge("report.PDF", suffix=".pdf", case_sensitive=False) == []
    assert judge("N/A", forbidden=["N/A", "unknown"]) == ["is not allowed: correct it"]
    assert judge(" yes", allowed=["yes", "no"]) == [
        "is not one of the allowed values (yes, no): use one of them"
    ]
    assert judge(" yes", allowed=["yes", "no"], strip=True) == []
    assert judge("4539 1488 0343 6467", checksum="luhn") == []
    assert judge("4539 1488 0343 6468", checksum="luhn") == [
        "is not a valid Luhn number: check it for typos"
    ]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("FR76 3000 6000 0112 3456 7890 189", True),
        ("DE89370400440532013000", True),
        ("GB82 WEST 1234 5698 7654 32", True),
        ("NL91ABNA0417164300", True),
        ("DE89370400440532013001", False),
        ("GB82 WEST 1234 5698 7654 33", False),
        ("FR", False),
        ("FR76 3000 6000 0112 3456 7890 18", False),
    ],
)
def test_iban_checksum(value: str, ok: bool) -> None:
    rs = RuleSet([Text(job="T", checksum="iban")])
    assert (rs.validate({"T": {"text": value}}) == []) is ok


def test_an_empty_transcription_is_unanswered_for_required_not_text() -> None:
    # Kili writes {"text": ""} when a transcription is cleared: the job is not answered, so
    # text rules have nothing to judge and a `required` rule on the box's child flags it.
    rs = RuleSet(
        [
            Text(job="TRANSCRIPTION_JOB", checksum="iban"),
            {"kind": "required", "job": "JOB_0", "category": "IBAN", "child": "TRANSCRIPTION_JOB"},
        ]
    )
    issues = rs.validate(invoice(box("i1", "IBAN", "TRANSCRIPTION_JOB", "")))
    assert [(i.kind, i.mid) for i in issues] == [("required", "i1")]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("79927398713", True),
        ("4111-1111-1111-1111", True),
        ("79927398710", False),
        ("4111 1111 1111 1112", False),
        ("x", False),
    ],
)
def test_luhn_checksum(value: str, ok: bool) -> None:
    rs = RuleSet([Text(job="T", checksum="luhn")])
    assert (rs.validate({"T": {"text": value}}) == []) is ok


def test_a_catastrophic_pattern_completes() -> None:
    # (a+)+$ backtracks exponentially in engines like Python's re; the regex crate is linear.
    rs = RuleSet([Text(job="T", pattern="(a+)+$", message="{reason}")])
    assert rs.validate({"T": {"text": "a" * 10_000}}) == []
    issues = rs.validate({"T": {"text": "a" * 10_000 + "!"}})
    assert [i.text for i in issues] == ["does not match the expected format (a+)+$: correct it"]


def test_when_parent_restricts_a_shared_child_job() -> None:
    # The same transcription job under two categories; only IBAN texts are checked.
    rs = RuleSet([Text(job="T", prefix="FR", when={"parent": "IBAN"})])
    label = invoice(box("i1", "IBAN", "T", "DE00"), box("a1", "AMOUNT", "T", "12.00"))
    assert [i.mid for i in rs.validate(label)] == ["i1"]
    both = RuleSet([Text(job="T", prefix="FR", when={"parent": ["IBAN", "AMOUNT"]})])
    assert [i.mid for i in both.validate(label)] == ["i1", "a1"]


def test_text_from_dict_json_and_export_agree(tmp_path: Path) -> None:
    assets = [
        asset("a1", invoice(box("i1", "IBAN", "TRANSCRIPTION_JOB", "DE89370400440532013000"))),
        asset("a2", invoice(box("c1", "CURRENCY", "TRANSCRIPTION_JOB_2", "Yen"))),
        asset("a3", invoice(box("i1", "IBAN", "TRANSCRIPTION_JOB", GOOD_IBAN))),
        asset("a4", invoice(box("i9", "IBAN", "TRANSCRIPTION_JOB", "FR00 1234"))),
    ]
    rows = three_ways(RULES, assets, tmp_path)
    assert [(r[0], r[1], r[5]) for r in rows] == [
        ("a1", "iban-fr", "i1"),
        ("a2", "currency", "c1"),
        ("a4", "iban-valid", "i9"),
    ]


def test_text_config_errors() -> None:
    with pytest.raises(RulesError, match="rule 1: pattern: not a valid pattern"):
        RuleSet([Text(job="T", pattern="(unclosed")])
    with pytest.raises(RulesError, match="rule 1: checksum: expected one of iban, luhn"):
        RuleSet.from_dict({"rule": [{"kind": "text", "job": "T", "checksum": "crc"}]})
    with pytest.raises(RulesError, match="rule 1: min_length"):
        RuleSet([Text(job="T", min_length=5, max_length=2)])
    with pytest.raises(RulesError, match="set at least one of"):
        RuleSet([Text(job="T", strip=True)])


def test_lint_text_rules_on_the_invoice_project() -> None:
    assert RULES.lint(IFACE) == []
    bad = RuleSet(
        [
            Text(job="JOB_0", prefix="FR"),
            Text(job="TRANSCRIPTION_JOB", prefix="FR", when={"parent": "IBAM"}),
        ]
    )
    assert bad.lint(IFACE) == [
        "rule 'text-1' (text): job 'JOB_0' is not a transcription (mlTask 'OBJECT_DETECTION')",
        "rule 'text-2' (text): when.parent: no job has a category 'IBAM'",
    ]


def test_when_metadata_reads_the_asset_metadata_in_every_input(tmp_path: Path) -> None:
    # Only assets imported from the scanner get the currency check; jsonMetadata as a dict or
    # as the JSON string the API returns.
    rs = RuleSet(
        [
            Text(
                job="TRANSCRIPTION_JOB_2",
                allowed=["EURO"],
                when={"metadata": {"source": "scanner"}},
            )
        ]
    )
    yen = invoice(box("c1", "CURRENCY", "TRANSCRIPTION_JOB_2", "YEN"))
    assets = [
        asset("a1", yen, jsonMetadata={"source": "scanner", "pages": 3}),
        asset("a2", yen, jsonMetadata='{"source": "scanner"}'),
        asset("a3", yen, jsonMetadata={"source": "email"}),
        asset("a4", yen),
    ]
    rows = three_ways(rs, assets, tmp_path)
    assert [(r[0], r[5]) for r in rows] == [("a1", "c1"), ("a2", "c1")]
