"""RulesPlugin and register_webhook against a recording fake of the Kili client."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kili")

from _fake_kili import FakeKili
from kili.exceptions import GraphQLError  # type: ignore[import-untyped]
from kili_rules import RuleSet
from kili_rules.kili.effects import KiliCallFailed, MemorySteps
from kili_rules.plugin import INVALID_LABEL_PREFIX, RulesPlugin, handle_label, register_webhook

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
RULES_PATH = ROOT / "examples" / "webhook" / "rules.toml"
PROJECT = "project-1"
ASSET = "asset-1"
COUNT_TEXT = "There are too many BBox (3) - Only 1 BBox of Object A accepted"
BIG_MID = "20221124161451411-13314"


def seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEED / name).read_text())
    return data


def event_label(name: str) -> dict[str, Any]:
    label: dict[str, Any] = seed(name)["payload"]["label"]
    return label


class PluginHandler(RulesPlugin):
    rules = RuleSet.from_file(RULES_PATH)


@pytest.fixture
def logger() -> logging.Logger:
    return logging.getLogger("kili_rules.tests.plugin")


def test_three_boxes_one_create_issues_call_then_one_send_back(logger: logging.Logger) -> None:
    kili = FakeKili()
    label = event_label("webhook_event_three_boxes.json")
    decision = PluginHandler(kili, PROJECT, logger).on_submit(label, ASSET)

    # reconciliation reads the asset's open issues and metadata first; the ledger of the
    # issues kili-rules created goes to the asset's metadata, after the send-back
    assert [name for name, _ in kili.calls] == [
        "issues",
        "projects",
        "assets",
        "create_issues",
        "send_back_to_queue",
        "update_properties_in_assets",
    ]
    assert kili.named("create_issues") == [
        {
            "project_id": PROJECT,
            "label_id_array": [label["id"], label["id"]],
            "text_array": [COUNT_TEXT, "BBox too large"],
            "object_mid_array": [None, BIG_MID],
        }
    ]
    assert kili.named("send_back_to_queue") == [{"asset_ids": [ASSET]}]
    assert decision.sent_back and decision.wrote and decision.error is None
    assert decision.texts == (COUNT_TEXT, "BBox too large")
    assert decision.mids == (None, BIG_MID)
    assert [issue.kind for issue in decision.issues] == ["count", "box"]


def test_one_box_gives_one_issue_and_a_bounce(logger: logging.Logger) -> None:
    kili = FakeKili()
    label = event_label("webhook_event_one_box.json")
    plugin = PluginHandler(kili, PROJECT, logger)
    decision = plugin.on_review(label, ASSET)

    assert kili.named("create_issues") == [
        {
            "project_id": PROJECT,
            "label_id_array": [label["id"]],
            "text_array": ["BBox too large"],
            "object_mid_array": [BIG_MID],
        }
    ]
    assert kili.named("send_back_to_queue") == [{"asset_ids": [ASSET]}]
    assert decision.handler == "on_review" and plugin.last_decision == decision


def test_clean_label_writes_nothing(logger: logging.Logger) -> None:
    kili = FakeKili()
    label = event_label("webhook_event_one_box.json")
    box = label["jsonResponse"]["JOB_0"]["annotations"][0]["boundingPoly"][0]
    box["normalizedVertices"] = [
        {"x": 0.1, "y": 0.2},
        {"x": 0.1, "y": 0.1},
        {"x": 0.2, "y": 0.1},
        {"x": 0.2, "y": 0.2},
    ]
    decision = PluginHandler(kili, PROJECT, logger).on_submit(label, ASSET)
    assert kili.writes == []
    assert [name for name, _ in kili.calls] == ["issues"]  # nothing open: nothing to solve
    assert decision.issues == () and not decision.sent_back and decision.error is None
    kili = FakeKili()
    PluginHandler(kili, PROJECT, logger, reconcile=False).on_submit(label, ASSET)
    assert kili.calls == []


def test_warning_rules_create_issues_without_bounce(logger: logging.Logger) -> None:
    warn = RuleSet.from_dict(
        {
            "rule": [
                {
                    "kind": "count",
                    "job": "JOB_0",
                    "category": "OBJECT_A",
                    "max": 1,
                    "severity": "warning",
                    "message": "{count} boxes",
                }
            ]
        }
    )
    kili = FakeKili()
    label = event_label("webhook_event_three_boxes.json")
    decision = RulesPlugin(kili, PROJECT, logger, rules=warn).on_submit(label, ASSET)
    assert kili.named("create_issues") == [
        {
            "project_id": PROJECT,
            "label_id_array": [label["id"]],
            "text_array": ["3 boxes"],
            "object_mid_array": [None],
        }
    ]
    assert kili.named("send_back_to_queue") == []
    assert decision.wrote and not decision.sent_back


def test_pixel_rules_fetch_the_asset_resolution(logger: logging.Logger) -> None:
    # The tutorial's first box is 0.67 x 0.53 of the image: 3551 px² on a 100 x 100 asset.
    pixels = RuleSet.from_dict(
        {"rule": [{"kind": "area", "job": "JOB_0", "max": 3000, "unit": "pixels"}]}
    )
    assert pixels.needs_resolution and not RuleSet.from_dict({"rule": []}).needs_resolution
    kili = FakeKili()
    kili.resolutions[ASSET] = (100, 100)
    label = event_label("webhook_event_one_box.json")
    decision = RulesPlugin(kili, PROJECT, logger, rules=pixels).on_submit(label, ASSET)
    assert [c.get("asset_id") for c in kili.named("assets")][:1] == [ASSET]
    (issue,) = decision.issues
    assert issue.value == pytest.approx(3551) and issue.limit == 3000
    # No resolution known for the asset: the rule is unchecked on this label (the labeler
    # cannot fix that): no issue, no send-back, a warning; never a pass said silently.
    kili = FakeKili()
    decision = RulesPlugin(kili, PROJECT, logger, rules=pixels).on_submit(label, ASSET)
    assert decision.invalid is None and decision.issues == ()
    assert [(i.kind, i.rule) for i in decision.unchecked] == [("unchecked", "area-1")]
    assert kili.named("create_issues") == [] and kili.named("send_back_to_queue") == []


@pytest.mark.parametrize("missing", ["absent", None, "", "{}", {}])
def test_missing_json_response_is_fetched_by_label_id(
    missing: object, logger: logging.Logger
) -> None:
    label = event_label("webhook_event_three_boxes.json")
    stored = label["jsonResponse"]
    if missing == "absent":
        del label["jsonResponse"]
    else:
        label["jsonResponse"] = missing
    kili = FakeKili({label["id"]: stored})
    decision = PluginHandler(kili, PROJECT, logger).on_submit(label, ASSET)

    fetches = kili.named("labels")
    assert len(fetches) == 1
    assert fetches[0]["label_id"] == label["id"]
    assert fetches[0]["project_id"] == PROJECT
    assert "asset_id" not in fetches[0]
    assert "jsonResponse" in fetches[0]["fields"]
    assert decision.fetched
    assert decision.texts == (COUNT_TEXT, "BBox too large")
    assert kili.named("send_back_to_queue") == [{"asset_ids": [ASSET]}]


def test_fetched_json_response_may_be_a_string(logger: logging.Logger) -> None:
    stored = json.dumps(seed("json_response_one_box.json"))
    kili = FakeKili({"label-x": stored})
    decision = PluginHandler(kili, PROJECT, logger).on_submit({"id": "label-x"}, ASSET)
    assert decision.texts == ("BBox too large",) and decision.mids == (BIG_MID,)


def test_label_not_found_is_reported_without_writes(logger: logging.Logger) -> None:
    kili = FakeKili()
    decision = PluginHandler(kili, PROJECT, logger).on_submit({"id": "ghost"}, ASSET)
    assert kili.writes == []
    assert decision.invalid is not None and "ghost" in decision.invalid
    assert not decision.sent_back


@pytest.mark.parametrize(
    "json_response",
    [
        "{not json",
        {"JOB_0": {"annotations": "not a list"}},
        {"JOB_0": {"annotations": [{"boundingPoly": "oops", "mid": "m1"}]}},
    ],
)
def test_malformed_label_becomes_one_issue_and_a_bounce(
    json_response: object, logger: logging.Logger
) -> None:
    kili = FakeKili()
    label = {"id": "label-bad", "jsonResponse": json_response}
    decision = PluginHandler(kili, PROJECT, logger).on_submit(label, ASSET)

    assert decision.invalid
    calls = kili.named("create_issues")
    assert len(calls) == 1
    assert calls[0]["label_id_array"] == ["label-bad"]
    assert calls[0]["object_mid_array"] == [None]
    (text,) = calls[0]["text_array"]
    assert text.startswith(INVALID_LABEL_PREFIX) and decision.invalid in text
    assert kili.named("send_back_to_queue") == [{"asset_ids": [ASSET]}]


@pytest.mark.parametrize("label", [None, ["a", "list"], {"jsonResponse": None}])
def test_label_without_id_is_logged_only(label: object, logger: logging.Logger) -> None:
    kili = FakeKili()
    decision = PluginHandler(kili, PROJECT, logger).on_submit(label, ASSET)  # type: ignore[arg-type]
    assert kili.calls == []
    assert decision.invalid and decision.label_id is None


def test_dry_run_writes_nothing(logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    class DryHandler(PluginHandler):
        dry_run = True

    label = event_label("webhook_event_three_boxes.json")
    for plugin in (
        DryHandler(FakeKili(), PROJECT, logger),
        PluginHandler(FakeKili(), PROJECT, logger, dry_run=True),
    ):
        with caplog.at_level(logging.INFO, logger=logger.name):
            decision = plugin.on_submit(copy.deepcopy(label), ASSET)
        assert plugin.kili.writes == []
        assert decision.dry_run and decision.sent_back and not decision.wrote
        assert decision.texts == (COUNT_TEXT, "BBox too large")
        assert "would create 2 issue(s)" in caplog.text


def test_api_failure_is_reported_not_raised_when_asked(logger: logging.Logger) -> None:
    kili = FakeKili()
    kili.fail["create_issues"] = GraphQLError("boom")
    plugin = PluginHandler(kili, PROJECT, logger, raise_on_failure=False, retry_backoff=0)
    decision = plugin.on_submit(event_label("webhook_event_three_boxes.json"), ASSET)
    assert len(kili.named("create_issues")) == 3  # two retries
    assert decision.error and "boom" in decision.error
    assert decision.retryable and not decision.sent_back
    assert kili.named("send_back_to_queue") == []


def test_send_back_failure_after_issues_resumes_at_the_send_back(logger: logging.Logger) -> None:
    # Changed with the effects module: a retry now resumes after the recorded steps, so a
    # failure after the issues were written is retryable (it was not, before reconciliation).
    kili = FakeKili()
    kili.fail["send_back_to_queue"] = GraphQLError("down")
    steps = MemorySteps()
    label = event_label("webhook_event_three_boxes.json")
    ruleset = PluginHandler.rules
    with pytest.raises(KiliCallFailed) as failure:
        handle_label(kili, ruleset, PROJECT, ASSET, label, steps=steps, logger=logger)
    assert failure.value.retryable and failure.value.step == "send_back"
    decision = failure.value.decision
    assert decision.error and decision.wrote and decision.retryable
    del kili.fail["send_back_to_queue"]
    kili.calls.clear()
    again = handle_label(kili, ruleset, PROJECT, ASSET, label, steps=steps, logger=logger)
    assert again.error is None and again.sent_back
    # the issues are not redone; the metadata comes after the send-back
    assert kili.writes == ["send_back_to_queue", "update_properties_in_assets"]


def test_issues_are_logged_through_self_logger(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=logger.name):
        PluginHandler(FakeKili(), PROJECT, logger).on_submit(
            event_label("webhook_event_one_box.json"), ASSET
        )
    assert "BBox too large" in caplog.text and "sent back" in caplog.text


def test_rules_path_is_loaded_once(logger: logging.Logger) -> None:
    class ByPath(RulesPlugin):
        rules = str(RULES_PATH)

    first = ByPath(FakeKili(), PROJECT, logger)
    second = ByPath(FakeKili(), PROJECT, logger)
    assert isinstance(first.rules, RuleSet)
    assert first.rules is second.rules
    assert first.rules.fingerprint == RuleSet.from_file(RULES_PATH).fingerprint


def test_missing_or_wrong_rules_fail_at_construction() -> None:
    with pytest.raises(TypeError, match="no rules"):
        RulesPlugin(FakeKili(), PROJECT)
    with pytest.raises(TypeError, match="must be a RuleSet"):
        RulesPlugin(FakeKili(), PROJECT, rules=42)  # type: ignore[arg-type]


def test_register_webhook_creates_then_activates() -> None:
    kili = FakeKili()
    summary = register_webhook(
        kili, project_id=PROJECT, url="https://x.example/", name="rules", header="s"
    )
    assert [name for name, _ in kili.calls] == ["create_webhook", "activate_plugin_on_project"]
    assert kili.named("create_webhook")[0] == {
        "webhook_url": "https://x.example/",
        "plugin_name": "rules",
        "header": "s",
        "verbose": False,
    }
    assert kili.named("activate_plugin_on_project") == [
        {"plugin_name": "rules", "project_id": PROJECT}
    ]
    assert "created" in summary and PROJECT in summary


def test_register_webhook_updates_an_existing_one_and_tolerates_activation() -> None:
    kili = FakeKili()
    kili.fail["create_webhook"] = GraphQLError('an entity Plugin already exists with value "r"')
    kili.fail["activate_plugin_on_project"] = GraphQLError(
        'an entity Project already exists with value "p"'
    )
    summary = register_webhook(kili, project_id=PROJECT, url="https://y.example/", name="r")
    assert kili.named("update_webhook") == [
        {
            "new_webhook_url": "https://y.example/",
            "plugin_name": "r",
            "new_header": None,
            "verbose": False,
        }
    ]
    assert "updated" in summary and "already active" in summary


def test_register_webhook_other_errors_propagate() -> None:
    kili = FakeKili()
    kili.fail["create_webhook"] = GraphQLError("permission denied")
    with pytest.raises(GraphQLError, match="permission denied"):
        register_webhook(kili, project_id=PROJECT, url="https://z.example/", name="r")
    assert kili.named("update_webhook") == []


# ---- the real kili client against the emulator: retries, raising, quiet output -------------


@pytest.fixture
def emu() -> Any:
    from kili_rules.testing import KiliEmulator

    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def labeled(emu: Any) -> tuple[Any, str, str, dict[str, Any]]:
    """A real client (1 s timeout), a project, an asset and the tutorial's three-box label."""
    project = emu.add_project(json_interface=seed("json_interface.json"))
    asset = emu.add_asset(project)
    content = seed("json_response_three_boxes.json")
    label = {"id": emu.add_label(asset, content), "jsonResponse": content}
    return emu.kili_client(timeout=1.0), project, asset, label


def test_create_issues_failing_once_is_retried_and_sent_back_once(emu: Any, labeled: Any) -> None:
    kili, project, asset, label = labeled
    fault = emu.inject_fault("createIssues", "error", calls=1)
    decision = PluginHandler(kili, project, retry_backoff=0.01).on_submit(label, asset)
    assert fault.hits == 1
    assert decision.error is None and decision.sent_back
    assert [i["text"] for i in emu.issues(project)] == [COUNT_TEXT, "BBox too large"]
    assert emu.sent_back == [asset]


# kili 26.2.1's transport resends a POST whose answer was lost (urllib3 Retry on every
# method): createIssues is sent once, and the plugin's retry reads the issues back instead.
def test_create_issues_saved_but_answer_lost_is_retried_without_duplicates(
    emu: Any, labeled: Any
) -> None:
    kili, project, asset, label = labeled
    emu.inject_fault("createIssues", "timeout", calls=1, delay=2.0, applied=True)
    decision = PluginHandler(kili, project, retry_backoff=0.01).on_submit(label, asset)
    assert decision.error is None and len(decision.effects.kept) == 2
    assert len(emu.issues(project)) == 2 and emu.sent_back == [asset]


def test_persistent_failure_raises_after_bounded_retries(emu: Any, labeled: Any) -> None:
    kili, project, asset, label = labeled
    fault = emu.inject_fault("createIssues", "error")
    plugin = PluginHandler(kili, project, retries=3, retry_backoff=0.01)
    with pytest.raises(KiliCallFailed, match="createIssues") as failure:
        plugin.on_submit(label, asset)
    assert fault.hits == 4 and failure.value.step == "issues"
    assert plugin.last_decision is failure.value.decision
    assert plugin.last_decision.error and not plugin.last_decision.sent_back
    assert emu.sent_back == [] and emu.issues(project) == []


def test_raise_on_failure_off_logs_the_failure_once(
    emu: Any, labeled: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Lenient(PluginHandler):
        raise_on_failure = False
        retry_backoff = 0.0

    kili, project, asset, label = labeled
    emu.inject_fault("createIssues", "error")
    for plugin in (Lenient(kili, project), PluginHandler(kili, project, raise_on_failure=False)):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="kili_rules"):
            decision = plugin.on_submit(label, asset)
        assert decision.error and decision.failed_step == "issues" and decision.retryable
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "not fully enforced after 3 attempt(s)" in errors[0].message
        retries = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert [r.message.split(" on asset")[0] for r in retries] == [
            "kili-rules: attempt 1 of 3",
            "kili-rules: attempt 2 of 3",
        ]
        findings = [r for r in caplog.records if "issue on label" in r.message]
        assert {r.levelno for r in findings} == {logging.INFO}
    assert emu.sent_back == []


def test_failing_metadata_write_still_sends_back(emu: Any, labeled: Any) -> None:
    kili, project, asset, label = labeled
    emu.inject_fault("updatePropertiesInAssets", "error")
    plugin = PluginHandler(kili, project, retry_backoff=0.0, raise_on_failure=False)
    decision = plugin.on_submit(label, asset)
    assert decision.failed_step == "metadata" and decision.error
    assert decision.sent_back and decision.actions == ("send_back",)
    assert emu.sent_back == [asset] and len(emu.issues(project)) == 2
    with pytest.raises(KiliCallFailed, match="updatePropertiesInAssets"):
        PluginHandler(kili, project, retry_backoff=0.0).on_submit(label, asset)
    assert emu.sent_back == [asset]  # already in the queue: not sent twice
    assert len(emu.issues(project)) == 2


def test_example_main_answers_5xx_on_failure_and_prints_each_line_once(
    emu: Any, tmp_path: Path
) -> None:
    """examples/webhook/main.py under uvicorn in a real process, its client on the emulator."""
    import os
    import subprocess
    import sys
    import time

    import httpx
    from _server import free_port, legacy_event

    pytest.importorskip("uvicorn")
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "KILI_API_KEY": emu.api_key,
        "KILI_API_ENDPOINT": emu.endpoint,
        "WEBHOOK_SECRET": "s3cret",
    }
    err = (tmp_path / "stderr").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT / "examples" / "webhook",
        env=env,
        stdout=err,
        stderr=err,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.1)
        project = emu.add_project(json_interface=seed("json_interface.json"))
        content = seed("json_response_three_boxes.json")
        auth = {"Authorization": "s3cret", "Content-Type": "application/json"}
        clean = emu.add_asset(project)
        body = legacy_event(project, clean, emu.add_label(clean, content), content)
        assert httpx.post(url, content=body, headers=auth, timeout=30).status_code == 200
        assert emu.sent_back == [clean] and len(emu.issues(project)) == 2
        err.flush()
        clean_output = (tmp_path / "stderr").read_text()

        emu.inject_fault("createIssues", "error")
        broken = emu.add_asset(project)
        body = legacy_event(project, broken, emu.add_label(broken, content), content)
        answer = httpx.post(url, content=body, headers=auth, timeout=30)
        assert answer.status_code >= 500
        assert emu.sent_back == [clean]
    finally:
        server.terminate()
        server.wait(15)
        err.close()
    lines = [line for line in clean_output.splitlines() if "kili-rules" in line]
    assert any("issue on label" in line for line in lines)
    assert any("sent back to the queue" in line for line in lines)
    assert len(lines) == len(set(lines)), clean_output  # each line once
    assert "Creating issues" not in clean_output and "it/s" not in clean_output, clean_output
