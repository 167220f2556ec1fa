"""Waivers (kili_rules.kili.waivers): an issue kili-rules created that a reviewer CANCELLED
waives that rule on that object as it was, in the plugin, in the ``serve`` worker and in
``audit --apply``; once the object changes it is judged again. With the real kili client
against the emulator."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator

pytest.importorskip("kili")

from kili_rules.kili.plugin import RulesPlugin
from kili_rules.kili.waivers import fingerprint

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
RULES_FILE = ROOT / "examples" / "rules.toml"
RULES = RuleSet.from_file(RULES_FILE)
ONE_BOX: dict[str, Any] = json.loads((SEED / "json_response_one_box.json").read_text())
INTERFACE: dict[str, Any] = json.loads((SEED / "json_interface.json").read_text())
BIG_MID = "20221124161451411-13314"
MARKS = "kili_rules_issue_marks"
LOG = logging.getLogger("kili_rules.tests.waivers")


def moved(label: dict[str, Any], dx: float = 0.01) -> dict[str, Any]:
    """The label with its box moved sideways (same size: still too large)."""
    changed = copy.deepcopy(label)
    poly = changed["JOB_0"]["annotations"][0]["boundingPoly"][0]
    poly["normalizedVertices"] = [
        {"x": v["x"] + dx, "y": v["y"]} for v in poly["normalizedVertices"]
    ]
    return changed


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def kili(emu: KiliEmulator) -> Any:
    return emu.kili_client(timeout=1.0)


def open_issues(emu: KiliEmulator, asset_id: str) -> list[tuple[str, str | None]]:
    return [(i["id"], i["objectMid"]) for i in emu.issues(asset_id=asset_id, status="OPEN")]


def test_fingerprint_follows_geometry_and_answers_only_of_that_object() -> None:
    same = fingerprint(copy.deepcopy(ONE_BOX), BIG_MID)
    assert same is not None and same == fingerprint(json.dumps(ONE_BOX), BIG_MID)
    assert fingerprint(moved(ONE_BOX), BIG_MID) != same
    recategorised = copy.deepcopy(ONE_BOX)
    recategorised["JOB_0"]["annotations"][0]["categories"] = [{"name": "OBJECT_B"}]
    assert fingerprint(recategorised, BIG_MID) != same
    other_job = {**copy.deepcopy(ONE_BOX), "JOB_9": {"text": "a note elsewhere"}}
    assert fingerprint(other_job, BIG_MID) == same  # another object's change: still waived
    assert fingerprint(ONE_BOX, "no-such-mid") is None and fingerprint("{not json", None) is None


def test_plugin_cancelled_issue_waives_the_unchanged_object(kili: Any, emu: KiliEmulator) -> None:
    project = emu.add_project(json_interface=INTERFACE)
    asset_id = emu.add_asset(project)
    plugin = RulesPlugin(kili, project, LOG, rules=RULES)

    def submit(label: dict[str, Any]) -> Any:
        return plugin.on_submit(
            {"id": emu.add_label(asset_id, label), "jsonResponse": label}, asset_id
        )

    first = submit(ONE_BOX)
    assert first.sent_back and len(first.effects.created) == 1
    (issue_id,) = first.effects.created
    marks = json.loads(emu.asset(asset_id)["metadata"][MARKS])
    assert marks[issue_id][:2] == ["bbox-too-large", BIG_MID]

    kili.update_issue_status(issue_id=issue_id, status="CANCELLED")  # the reviewer overrules
    again = submit(copy.deepcopy(ONE_BOX))  # resubmitted unchanged
    assert again.effects.created == () and not again.sent_back
    assert again.effects.waived == (("bbox-too-large", BIG_MID),)
    assert again.outcome == "pass" and open_issues(emu, asset_id) == []
    assert emu.sent_back == [asset_id]  # only the first submit bounced
    assert issue_id in json.loads(emu.asset(asset_id)["metadata"][MARKS])  # the waiver stays

    twice = submit(copy.deepcopy(ONE_BOX))  # and stays waived
    assert twice.effects.created == () and not twice.sent_back

    changed = submit(moved(ONE_BOX))  # the box moved: judged again
    assert changed.sent_back and len(changed.effects.created) == 1
    assert changed.effects.waived == ()
    assert [mid for _i, mid in open_issues(emu, asset_id)] == [BIG_MID]
    assert emu.sent_back == [asset_id, asset_id]


def test_an_issue_cancelled_that_kili_rules_did_not_create_waives_nothing(
    kili: Any, emu: KiliEmulator
) -> None:
    project = emu.add_project(json_interface=INTERFACE)
    asset_id = emu.add_asset(project)
    label_id = emu.add_label(asset_id, ONE_BOX)
    # a reviewer's own issue on the same object, cancelled
    (own,) = kili.create_issues(
        project_id=project, label_id_array=[label_id], text_array=["hm"], object_mid_array=[BIG_MID]
    )
    kili.update_issue_status(issue_id=own["id"], status="CANCELLED")
    decision = RulesPlugin(kili, project, LOG, rules=RULES).on_submit(
        {"id": label_id, "jsonResponse": ONE_BOX}, asset_id
    )
    assert decision.sent_back and len(decision.effects.created) == 1
    assert decision.effects.waived == ()


def test_serve_worker_honours_the_waiver(emu: KiliEmulator) -> None:
    from kili_rules.plugin import register_webhook
    from kili_rules.webhook import create_app
    from test_webhook_e2e import UvicornThread

    client = emu.kili_client(timeout=5.0)
    app = create_app(RULES_FILE, secret="s3cret", kili=emu.kili_client(timeout=5.0))
    with UvicornThread(app) as running:
        project = emu.add_project(json_interface=INTERFACE)
        asset_id = emu.add_asset(project)
        register_webhook(client, project_id=project, url=running.url, name="w", header="s3cret")

        def submit(label: dict[str, Any]) -> None:
            before = len(emu.deliveries)
            client.append_labels(
                json_response_array=[label], asset_id_array=[asset_id], label_type="DEFAULT"
            )
            emu.wait_for_deliveries(before + 1, timeout=20)
            assert app.state.worker.join(60), "the webhook worker did not drain within 60 s"

        submit(ONE_BOX)
        ((issue_id, _mid),) = open_issues(emu, asset_id)
        assert emu.sent_back == [asset_id]
        client.update_issue_status(issue_id=issue_id, status="CANCELLED")
        submit(copy.deepcopy(ONE_BOX))
        assert open_issues(emu, asset_id) == [] and emu.sent_back == [asset_id]
        submit(moved(ONE_BOX))
        assert [mid for _i, mid in open_issues(emu, asset_id)] == [BIG_MID]
        assert emu.sent_back == [asset_id, asset_id]


def test_audit_apply_honours_the_waiver(kili: Any, emu: KiliEmulator) -> None:
    project = emu.add_project(json_interface=INTERFACE)
    asset_id = emu.add_asset(project)
    emu.add_label(asset_id, ONE_BOX)

    def apply() -> Any:
        result = RULES.validate_project(kili, project).apply(kili, dry_run=False)
        assert result.ok, result
        return result

    first = apply()
    assert first.count("create_issue") == 1 and first.count("send_back") == 1
    ((issue_id, _mid),) = open_issues(emu, asset_id)
    kili.update_issue_status(issue_id=issue_id, status="CANCELLED")
    emu.add_label(asset_id, copy.deepcopy(ONE_BOX))  # resubmitted unchanged
    second = apply()
    assert second.count("create_issue") == 0 and second.count("send_back") == 0
    assert [e.waived for e in second.effects] == [(("bbox-too-large", BIG_MID),)]
    emu.add_label(asset_id, moved(ONE_BOX))
    third = apply()
    assert third.count("create_issue") == 1 and third.count("send_back") == 1


def fixed(label: dict[str, Any]) -> dict[str, Any]:
    """The label with its box shrunk under the area limit: passes every rule."""
    changed = copy.deepcopy(label)
    changed["JOB_0"]["annotations"][0]["boundingPoly"][0]["normalizedVertices"] = [
        {"x": 0.1, "y": 0.2},
        {"x": 0.1, "y": 0.1},
        {"x": 0.2, "y": 0.1},
        {"x": 0.2, "y": 0.2},
    ]
    return changed


def test_audit_reports_issues_solved_and_cancelled_per_rule_labeler_and_category(
    kili: Any, emu: KiliEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kili_rules.cli import main

    project = emu.add_project(json_interface=INTERFACE)
    plugin = RulesPlugin(kili, project, LOG, rules=RULES)

    def submit(asset_id: str, label: dict[str, Any], author: str) -> Any:
        label_id = emu.add_label(asset_id, label, author_id=author)
        return plugin.on_submit({"id": label_id, "jsonResponse": label}, asset_id)

    overruled, fixed_one, still_open = (emu.add_asset(project) for _ in range(3))
    (cancel_me,) = submit(overruled, ONE_BOX, "alice").effects.created
    kili.update_issue_status(issue_id=cancel_me, status="CANCELLED")
    submit(fixed_one, ONE_BOX, "bob")
    assert len(submit(fixed_one, fixed(ONE_BOX), "bob").effects.solved) == 1
    submit(still_open, ONE_BOX, "bob")
    # an issue a reviewer opened by hand (no mark) is not kili-rules': not counted
    kili.create_issues(
        project_id=project,
        label_id_array=[emu.asset(still_open)["labelIds"][-1]],
        text_array=["looks odd"],
    )

    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    monkeypatch.setenv("AUDIT_KEY", emu.api_key)
    argv = ["audit", "--project", project, "--rules", str(RULES_FILE), "--api-key-env"]
    argv += ["AUDIT_KEY", "--api-endpoint", emu.endpoint, "--no-progress"]
    out = tmp_path / "audit.json"
    assert main([*argv, "--format", "json", "-o", str(out)]) in (0, 1)
    outcomes = json.loads(out.read_text())["summary"]["issue_outcomes"]
    rows = {(e["labeler"], e["solved"], e["cancelled"], e["open"]) for e in outcomes}
    assert rows == {("alice@example.com", 0, 1, 0), ("bob@example.com", 1, 0, 1)}
    assert {e["rule"] for e in outcomes} == {"bbox-too-large"}
    by_labeler = {e["labeler"]: e for e in outcomes}
    assert by_labeler["alice@example.com"]["precision"] == 0.0
    assert by_labeler["bob@example.com"]["precision"] == 1.0
    assert all(e["category"] for e in outcomes)  # the finding's category, kept in its mark

    text = tmp_path / "audit.txt"
    assert main([*argv, "--format", "text", "-o", str(text)]) in (0, 1)
    body = text.read_text()
    assert "Issues kili-rules created, as reviewers closed them" in body
    assert "PRECISION" in body and "alice@example.com" in body and "100%" in body
    page = tmp_path / "audit.html"
    assert main([*argv, "--format", "html", "-o", str(page)]) in (0, 1)
    html = page.read_text()
    assert 'id="kr-outcomes"' in html and "bob@example.com" in html
