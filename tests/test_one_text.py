"""One text per finding: the webhook's plugin (RulesPlugin) and `kili-rules audit --apply` word
and fingerprint a finding alike, so whichever runs second on the same labels changes nothing
(no new issue, no issue solved, no second send-back). The real kili client against the
emulator; the audit is the CLI."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules.cli import main
from kili_rules.kili.finding_text import (
    INVALID_LABEL_PREFIX,
    UNREADABLE_SUFFIX,
    fingerprint,
    issue_text,
    unreadable_text,
)
from kili_rules.testing import KiliEmulator

pytest.importorskip("kili")
pytestmark = pytest.mark.e2e

RULES = """
[[rule]]
id = "one-a"
kind = "count"
job = "JOB_0"
category = "OBJECT_A"
max = 1
"""
WRITES = {
    "createIssues",
    "updatePropertiesInIssue",
    "updatePropertiesInAssets",
    "sendAssetsBackToQueue",
    "addAssetsToReview",
}


def box(mid: str, x: float) -> dict[str, Any]:
    points = [(x, 0.1), (x, 0.2), (x + 0.1, 0.2), (x + 0.1, 0.1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "OBJECT_A"}],
        "boundingPoly": [{"normalizedVertices": [{"x": a, "y": b} for a, b in points]}],
    }


TWO = {"JOB_0": {"annotations": [box("a", 0.1), box("b", 0.5)]}}
# a label the reader cannot read (the categories are not a list): one error finding
UNREADABLE = {"JOB_0": {"annotations": [{"mid": "c", "categories": "OBJECT_A"}]}}


@pytest.fixture()
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture()
def env(emu: KiliEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    monkeypatch.setenv("AUDIT_KEY", emu.api_key)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    return rules


def project_with_findings(emu: KiliEmulator) -> tuple[str, dict[str, tuple[str, Any]]]:
    """A project with a label breaking the rule, and an unreadable one (each on an asset
    the labeler has submitted, as the webhook would see it)."""
    project = emu.add_project()
    labels: dict[str, tuple[str, Any]] = {}
    for name, response in (("two", TWO), ("unreadable", UNREADABLE)):
        asset = emu.add_asset(project, external_id=name)
        labels[asset] = (emu.add_label(asset, response), response)
    return project, labels


def webhook(
    emu: KiliEmulator, project: str, labels: dict[str, tuple[str, Any]], rules: Path
) -> None:
    """What the webhook server does per label: RulesPlugin.on_submit with the real client."""
    from kili_rules.plugin import RulesPlugin

    plugin = RulesPlugin(
        emu.kili_client(), project, logging.getLogger("test-one-text"), rules=str(rules)
    )
    for asset, (label_id, response) in labels.items():
        plugin.on_submit({"id": label_id, "jsonResponse": response}, asset)


def audit_apply(emu: KiliEmulator, rules: Path, project: str) -> int:
    argv = ["audit", "--project", project, "--rules", str(rules), "--api-key-env", "AUDIT_KEY"]
    return main([*argv, "--api-endpoint", emu.endpoint, "--no-progress", "--apply"])


def state(emu: KiliEmulator, project: str) -> list[tuple[Any, ...]]:
    return sorted(
        (i["assetId"], i["labelId"], i["objectMid"], i["text"], i["status"])
        for i in emu.issues(project)
    )


def writes(emu: KiliEmulator) -> list[str]:
    return [name for name in emu.requests if name in WRITES]


def check_first_run(emu: KiliEmulator, project: str, labels: dict[str, Any]) -> None:
    issues = state(emu, project)
    texts = [text for _a, _l, _m, text, _s in issues]
    assert len(issues) == 2 and all(status == "OPEN" for *_r, status in issues)
    assert "This label has 2 OBJECT_A: at most 1 allowed, remove the extra ones." in texts
    (unreadable,) = [t for t in texts if t.startswith(INVALID_LABEL_PREFIX)]
    # the reason names the path in the label, not where the batch found it
    assert unreadable.startswith(INVALID_LABEL_PREFIX + "jsonResponse.JOB_0.annotations[0]")
    assert sorted(emu.sent_back) == sorted(labels)


def test_webhook_then_audit_apply_changes_nothing(
    emu: KiliEmulator, env: Path, capsys: Any
) -> None:
    project, labels = project_with_findings(emu)
    webhook(emu, project, labels, env)
    check_first_run(emu, project, labels)
    before, sent_back, done = state(emu, project), list(emu.sent_back), len(writes(emu))

    assert audit_apply(emu, env, project) == 1  # the findings are still there: exit 1
    assert state(emu, project) == before  # no issue created, none solved
    assert emu.sent_back == sent_back  # no second send-back
    assert writes(emu)[done:] == []
    assert "no change on project" in capsys.readouterr().err


def test_audit_apply_then_webhook_changes_nothing(emu: KiliEmulator, env: Path) -> None:
    project, labels = project_with_findings(emu)
    assert audit_apply(emu, env, project) == 1
    check_first_run(emu, project, labels)
    before, sent_back, done = state(emu, project), list(emu.sent_back), len(writes(emu))

    webhook(emu, project, labels, env)
    assert state(emu, project) == before
    assert emu.sent_back == sent_back
    assert writes(emu)[done:] == []


class _Row:
    def __init__(self, text: str, kind: str, source: str | None = None) -> None:
        self.text, self.kind, self.source, self.mid = text, kind, source, None


def test_every_framing_of_an_unreadable_label_gives_one_text() -> None:
    reason = 'JOB_0.annotations[0].categories: invalid type: string "x", expected a list'
    framings = [
        _Row("jsonResponse." + reason, "unreadable_label"),  # the plugin's
        _Row("item 3: latestLabel.jsonResponse." + reason, "invalid_label", "item 3"),
        _Row("item 0: labels[2].jsonResponse." + reason, "invalid_label", "item 0"),
        _Row(
            "p/labels/a.json: latestLabel.jsonResponse: in the jsonResponse string: " + reason,
            "invalid_label",
            "p/labels/a.json",
        ),
        _Row(INVALID_LABEL_PREFIX + "jsonResponse." + reason, "unreadable_label"),
    ]
    want = INVALID_LABEL_PREFIX + "jsonResponse." + reason + UNREADABLE_SUFFIX
    not_json = "jsonResponse: in the jsonResponse string: ?: key must be a string"
    framings.append(_Row("item 1: latestLabel." + not_json, "invalid_label", "item 1"))
    framings.append(_Row(not_json, "unreadable_label"))
    texts = [issue_text(row) for row in framings]
    not_json_text = INVALID_LABEL_PREFIX + not_json + UNREADABLE_SUFFIX
    assert texts == [want] * (len(framings) - 2) + [not_json_text] * 2
    assert unreadable_text(want) == want  # idempotent
    # the same finding as an issue worded by an earlier version ("kili-rules could not read")
    legacy = "kili-rules could not read this label: jsonResponse." + reason
    assert unreadable_text(legacy) == want
    assert fingerprint(legacy, None) == fingerprint(want, None)
    # a rule's message is its own text, whatever its source
    assert issue_text(_Row("item 3: too many", "count", "item 3")) == "item 3: too many"
    assert fingerprint(" text ", "") == fingerprint("text", None) != fingerprint("text", "m")


def test_the_cli_text_is_the_reports_text(emu: KiliEmulator, env: Path) -> None:
    """The issue a webhook made is found in the audit's report under the same fingerprint."""
    project, labels = project_with_findings(emu)
    webhook(emu, project, labels, env)
    from kili_rules import RuleSet

    report = RuleSet.from_file(env).validate_project(emu.kili_client(), project, disable_tqdm=True)
    found = {fingerprint(issue_text(row), row.mid) for row in report}
    held = {fingerprint(i["text"], i["objectMid"]) for i in emu.issues(project)}
    assert found == held and len(held) == 2
    assert json.loads(report.to_json())["summary"]["issues"] == 2


def test_webhook_then_apply_of_a_saved_audit_report_changes_nothing(
    emu: KiliEmulator, env: Path, tmp_path: Path, capsys: Any
) -> None:
    project, labels = project_with_findings(emu)
    webhook(emu, project, labels, env)
    before, sent_back, done = state(emu, project), list(emu.sent_back), len(writes(emu))
    saved = tmp_path / "report.json"
    argv = ["audit", "--project", project, "--rules", str(env), "--api-key-env", "AUDIT_KEY"]
    assert main([*argv, "--api-endpoint", emu.endpoint, "--no-progress", "-o", str(saved)]) == 1
    key = ["--api-key-env", "AUDIT_KEY", "--api-endpoint", emu.endpoint]
    assert main(["apply", str(saved), "--rules", str(env), *key]) == 0
    assert "no change on project" in capsys.readouterr().err
    assert state(emu, project) == before and emu.sent_back == sent_back
    assert writes(emu)[done:] == []
