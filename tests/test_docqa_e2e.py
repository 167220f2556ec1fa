"""Kili's document-QA example end to end, on labels of the invoice project.

The rules file (examples/recipes/document_qa.toml) must give exactly what a hand-written
plugin gives (the oracle below, written the way Kili's example plugin is: walk the
jsonResponse, check each IBAN box's transcription for the "FR" prefix and the IBAN checksum and
each CURRENCY box's for DOLLAR / EURO, collect (text, mid)): the same issue texts on the same
object mids, created in ONE create_issues call per label, then the asset added to review and
its accuracy (1 - issues / objects) merged into its metadata, the other keys kept. Through
``RulesPlugin`` and through the ``kili-rules serve`` process, with the real kili client against
the emulator.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kili")
pytest.importorskip("uvicorn")

from _server import SECRET, Server
from kili_rules import Finding, LabelView, RuleSet, python_rule
from kili_rules.plugin import RulesPlugin, register_webhook
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "invoice"
RULES_FILE = ROOT / "examples" / "recipes" / "document_qa.toml"
INTERFACE = json.loads((DATA / "json_interface.json").read_text())
LABELS: list[dict[str, Any]] = json.loads((DATA / "labels.json").read_text())
METADATA = {"vendor": "ACME", "pages": 2, "batch": "2024-03"}
NO_CACHE = {"graphql_client_params": {"enable_schema_caching": False}}


# -- the oracle: a hand-written plugin ------------------------------------------------------


def iban_is_valid(text: str) -> bool:
    """ISO 13616: country letters, two check digits, then letters / digits; the number made
    by moving the first four characters to the end (letters as 10..35) is 1 modulo 97."""
    iban = "".join(text.split()).upper()
    if not (15 <= len(iban) <= 34 and iban.isascii() and iban.isalnum()):
        return False
    if not (iban[:2].isalpha() and iban[2:4].isdigit()):
        return False
    return int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 == 1


def hand_written_plugin(json_response: dict[str, Any]) -> tuple[list[tuple[str, str]], float]:
    """The issues (text, mid) and the accuracy the example plugin's logic gives."""
    issues: list[tuple[str, str]] = []
    annotations = json_response["JOB_0"]["annotations"]
    for annotation in annotations:
        category = annotation["categories"][0]["name"]
        if category == "IBAN":
            iban = annotation["children"]["TRANSCRIPTION_JOB"]["text"]
            if not iban.startswith("FR"):
                issues.append(("IBAN number should start by FR", annotation["mid"]))
            if not iban_is_valid(iban):
                issues.append((f"IBAN {iban} is not valid", annotation["mid"]))
        elif category == "CURRENCY":
            currency = annotation["children"]["TRANSCRIPTION_JOB_2"]["text"]
            if currency not in ("DOLLAR", "EURO"):
                issues.append(("Authorized currencies are only Euro and Dollar", annotation["mid"]))
    accuracy = max(0.0, 1 - len(issues) / len(annotations))
    return issues, accuracy


def test_the_oracle_and_the_labels_are_not_trivial() -> None:
    found = {label["name"]: hand_written_plugin(label["jsonResponse"])[0] for label in LABELS}
    assert [name for name, issues in found.items() if not issues] == [
        "clean",
        "two-ibans-clean",
        "amount-only",
    ]
    # a box can carry two issues (not FR, and a wrong check digit)
    assert [text for text, _mid in found["british-typo-and-yen"]] == [
        "IBAN number should start by FR",
        "IBAN GB82 WEST 1234 5698 7654 33 is not valid",
        "Authorized currencies are only Euro and Dollar",
    ]
    assert {name: len(issues) for name, issues in found.items()} == {
        "clean": 0,
        "german-iban": 1,
        "bad-checksum-and-lowercase-currency": 2,
        "british-typo-and-yen": 3,
        "two-ibans-clean": 0,
        "leading-space": 2,  # " FR76..." does not start with FR (its checksum is fine); "EURO "
        "truncated-iban": 1,
        "amount-only": 0,
    }


def test_the_rules_file_finds_what_the_oracle_finds() -> None:
    rules = RuleSet.from_file(RULES_FILE)
    assert rules.lint(INTERFACE) == []
    for label in LABELS:
        issues, accuracy = hand_written_plugin(label["jsonResponse"])
        got = rules.validate(label["jsonResponse"])
        assert sorted((i.text, i.mid) for i in got) == sorted(issues), label["name"]
        verdict = rules.decide(label["jsonResponse"])
        assert verdict.actions == (
            ("issues", "metadata", "review") if issues else ("metadata", "review")
        )
        assert float(verdict.metadata["kili_rules_accuracy"]) == accuracy, label["name"]


def test_the_same_checks_as_a_python_rule_over_the_label_view() -> None:
    # The oracle's logic again, over the read-only view: each box's child transcriptions.
    @python_rule(id="docqa")
    def docqa(label: LabelView) -> Iterator[Finding]:
        for obj in label.objects:
            if obj.category == "IBAN":
                iban = obj.texts["TRANSCRIPTION_JOB"]
                if not iban.startswith("FR"):
                    yield Finding("IBAN number should start by FR", mid=obj.mid)
                if not iban_is_valid(iban):
                    yield Finding(f"IBAN {iban} is not valid", mid=obj.mid)
            elif obj.category == "CURRENCY":
                if obj.texts["TRANSCRIPTION_JOB_2"] not in ("DOLLAR", "EURO"):
                    yield Finding("Authorized currencies are only Euro and Dollar", mid=obj.mid)

    assets = [
        {"id": f"a{n}", "latestLabel": {"id": f"l{n}", "jsonResponse": label["jsonResponse"]}}
        for n, label in enumerate(LABELS)
    ]
    report = RuleSet([docqa]).validate_many(assets, threads=2)
    for n, label in enumerate(LABELS):
        issues, _accuracy = hand_written_plugin(label["jsonResponse"])
        rows = [(r.text, r.mid) for r in report if r.asset_id == f"a{n}"]
        assert sorted(rows) == sorted(issues), label["name"]
    assert all(r.kind == "python" for r in report)


# -- against Kili (the emulator, through the real client) -----------------------------------


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.delenv("KILI_SDK_SKIP_CHECKS", raising=False)  # the client's init checks run
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return emu.kili_client(timeout=10.0, **NO_CACHE)


def invoice_project(emu: KiliEmulator) -> tuple[str, list[str]]:
    """The invoice project and one asset per label, each with metadata of its own."""
    project = emu.add_project(json_interface=INTERFACE, input_type="PDF", title="Invoices")
    assets = [
        emu.add_asset(project, external_id=f"{label['name']}.pdf", json_metadata=METADATA)
        for label in LABELS
    ]
    return project, assets


def assert_done_as_the_oracle_says(
    emu: KiliEmulator, asset: str, json_response: dict[str, Any]
) -> None:
    issues, accuracy = hand_written_plugin(json_response)
    (label,) = emu.labels(asset_id=asset)
    created = emu.issues(asset_id=asset)
    assert sorted((i["text"], i["objectMid"]) for i in created) == sorted(issues)
    assert {i["labelId"] for i in created} <= {label["id"]}
    assert all(i["status"] == "OPEN" for i in created)
    state = emu.asset(asset)
    assert state["status"] == "TO_REVIEW"
    assert emu.added_to_review.count(asset) == 1 and asset not in emu.sent_back
    metadata = state["metadata"]
    assert {k: metadata.get(k) for k in METADATA} == METADATA  # merged: the user's keys kept
    assert float(metadata["kili_rules_accuracy"]) == accuracy
    assert metadata["kili_rules_issues"] == str(len(issues))
    assert metadata["kili_rules_objects"] == str(len(json_response["JOB_0"]["annotations"]))


class PluginHandler(RulesPlugin):
    rules = RuleSet.from_file(RULES_FILE)


def test_rules_plugin_acts_as_the_hand_written_plugin(emu: KiliEmulator, kili: Any) -> None:
    project, assets = invoice_project(emu)
    logger = logging.getLogger("kili_rules.tests.docqa")
    for label, asset in zip(LABELS, assets, strict=True):
        json_response = label["jsonResponse"]
        label_id = emu.add_label(asset, json_response)
        calls = emu.requests.count("createIssues")
        decision = PluginHandler(kili, project, logger).on_submit(
            {"id": label_id, "jsonResponse": json_response}, asset
        )
        assert decision.error is None, decision.error
        issues, _accuracy = hand_written_plugin(json_response)
        # all of a label's issues in one create_issues call; none when it is clean
        assert emu.requests.count("createIssues") - calls == (1 if issues else 0)
        assert sorted(zip(decision.texts, decision.mids, strict=True)) == sorted(issues)
        assert_done_as_the_oracle_says(emu, asset, json_response)


def test_the_server_acts_as_the_hand_written_plugin(
    emu: KiliEmulator, kili: Any, tmp_path: Path
) -> None:
    project, assets = invoice_project(emu)
    server = Server(
        tmp_path / "journal.sqlite",
        emu.endpoint,
        emu.api_key,
        tmp_path / "server.log",
        rules=RULES_FILE,
    )
    try:
        server.wait_ready()
        register_webhook(kili, project_id=project, url=server.url, name="docqa", header=SECRET)
        for n, (label, asset) in enumerate(zip(LABELS, assets, strict=True), start=1):
            kili.append_labels(
                json_response_array=[label["jsonResponse"]],
                asset_id_array=[asset],
                label_type="DEFAULT",
            )
            (delivery, *_) = emu.wait_for_deliveries(n, timeout=20)[n - 1 :]
            assert delivery.status_code == 202, delivery.response_text
        server.wait_drained(60)
    finally:
        server.stop()
    # the server batches the pending events' Kili work: at most one create_issues call per
    # label with issues (fewer when events were drained together), whatever the order
    with_issues = [lb for lb in LABELS if hand_written_plugin(lb["jsonResponse"])[0]]
    assert 1 <= emu.requests.count("createIssues") <= len(with_issues)
    for label, asset in zip(LABELS, assets, strict=True):
        assert_done_as_the_oracle_says(emu, asset, label["jsonResponse"])
