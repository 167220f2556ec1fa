"""RulesEventPlugin and the emulator's kili-events envelopes, with the real kili client."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator

pytest.importorskip("kili")
kili_events: Any = pytest.importorskip("kili_events")  # the models the envelopes must match

from kili_rules.kili.events import TYPED_EVENTS, EventError, RulesEventPlugin  # noqa: E402
from test_bundle import ISSUE_TEXT, RULES, TWO_BOXES  # noqa: E402
from test_emulator import Receiver  # noqa: E402

ONE_BOX = {"JOB_0": {"annotations": [TWO_BOXES["JOB_0"]["annotations"][0]]}}


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.delenv("KILI_SDK_SKIP_CHECKS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return emu.kili_client()


class Handler(RulesEventPlugin):
    rules = RuleSet.from_toml(RULES)


def _envelope(event: str, project: str, asset: str, label: str) -> dict[str, Any]:
    return {
        "event": event,
        "organizationId": "org-1",
        "projectId": project,
        "userId": "user-1",
        "payload": {"assetId": asset, "labelId": label, "externalId": "ext-1"},
    }


@pytest.mark.e2e
def test_emulator_delivers_kili_events_envelopes_to_an_events_plugin(
    kili: Any, emu: KiliEmulator
) -> None:
    project = emu.add_project()
    asset = emu.add_asset(project, external_id="ext-1")
    receiver = Receiver()
    try:
        kili.create_webhook(
            webhook_url=receiver.url,
            plugin_name="events",
            event_matcher=["label.workflow.created.*"],
            verbose=False,
        )
        kili.activate_plugin_on_project(plugin_name="events", project_id=project)
        kili.create_webhook(webhook_url=receiver.url, plugin_name="legacy", verbose=False)
        kili.activate_plugin_on_project(plugin_name="legacy", project_id=project)
        [default] = kili.append_labels(
            json_response_array=[ONE_BOX], asset_id_array=[asset], label_type="DEFAULT"
        )
        [review] = kili.append_labels(
            json_response_array=[ONE_BOX], asset_id_array=[asset], label_type="REVIEW"
        )
        kili.append_labels(
            json_response_array=[ONE_BOX],
            asset_id_array=[asset],
            label_type="PREDICTION",
            model_name="m",
        )
        deliveries = emu.wait_for_deliveries(4)
    finally:
        receiver.close()
    assert all(d.ok for d in deliveries), deliveries
    by_hook: dict[str, list[dict[str, Any]]] = {}
    for delivery in deliveries:
        by_hook.setdefault(delivery.webhook, []).append(delivery.body)
    # the legacy webhook still gets onSubmit / onReview with the label inline
    assert [b["eventType"] for b in by_hook["legacy"]] == ["onSubmit", "onReview"]
    # the events webhook gets the envelope, and each body is its kili_events model
    parsed = [kili_events.parse_event(body) for body in by_hook["events"]]
    assert [type(e).__name__ for e in parsed] == [
        "LabelWorkflowCreatedDefaultEvent",
        "LabelWorkflowCreatedReviewEvent",
    ]
    assert [(e.payload.label_id, e.payload.asset_id) for e in parsed] == [
        (default["id"], asset),
        (review["id"], asset),
    ]
    assert {e.project_id for e in parsed} == {project}
    assert {e.payload.external_id for e in parsed} == {"ext-1"}
    assert all("jsonResponse" not in body["payload"] for body in by_hook["events"])
    assert [d.event_type for d in deliveries if d.webhook == "events"] == [
        "label.workflow.created.default",
        "label.workflow.created.review",
    ]


@pytest.mark.e2e
def test_event_plugin_as_a_webhook_fetches_the_label_and_enforces(
    kili: Any, emu: KiliEmulator
) -> None:
    """The emulator POSTs the envelope; the plugin's SDK on_event (typed dispatch on this
    kili) checks the label it fetches by id: one issue, the asset sent back, once."""
    project = emu.add_project()
    asset = emu.add_asset(project, external_id="ext-1")
    plugin = Handler(kili, project)
    receiver = Receiver(on_post=plugin.on_event)
    try:
        kili.create_webhook(
            webhook_url=receiver.url,
            plugin_name="rules",
            event_matcher=["label.workflow.created.default", "label.workflow.created.review"],
            verbose=False,
        )
        kili.activate_plugin_on_project(plugin_name="rules", project_id=project)
        [label] = kili.append_labels(
            json_response_array=[TWO_BOXES], asset_id_array=[asset], label_type="DEFAULT"
        )
        [delivery] = emu.wait_for_deliveries(1)
    finally:
        receiver.close()
    assert delivery.ok, delivery
    decision = plugin.last_decision
    assert decision is not None and decision.error is None, decision
    assert (decision.handler, decision.label_id, decision.fetched) == (
        "on_submit",
        label["id"],
        True,
    )
    assert [(i["labelId"], i["text"]) for i in emu.issues(project, asset_id=asset)] == [
        (label["id"], ISSUE_TEXT)
    ]
    assert emu.sent_back == [asset]


@pytest.mark.e2e
def test_check_event_reads_the_envelope_dict_and_the_model(
    kili: Any, emu: KiliEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """check_event takes the dict envelope (the path an older kili without typed events uses)
    and the kili_events model alike; other projects and unchecked events are ignored."""
    project = emu.add_project()
    asset = emu.add_asset(project, external_id="ext-1")
    clean = emu.add_label(asset, ONE_BOX, label_type="REVIEW")
    plugin = Handler(kili, project)
    decision = plugin.check_event(_envelope("label.workflow.created.review", project, asset, clean))
    assert decision is not None and decision.handler == "on_review" and decision.fetched
    assert decision.issues == () and emu.issues(project) == []

    bad = emu.add_label(asset, TWO_BOXES)
    model = kili_events.parse_event(
        _envelope("label.workflow.created.default", project, asset, bad)
    )
    decision = plugin.check_event(model)
    assert decision is not None and [i.text for i in decision.issues] == [ISSUE_TEXT]
    assert len(emu.issues(project)) == 1

    with caplog.at_level(logging.INFO, logger="kili_rules.kili.plugin"):
        other = _envelope("label.workflow.created.default", "other-project", asset, bad)
        assert plugin.check_event(other) is None
        skipped = {"event": "asset.skipped", "payload": {"assetId": asset, "labelId": bad}}
        assert plugin.check_event(skipped) is None
    assert "is for project other-project" in caplog.text
    assert "event asset.skipped is not checked" in caplog.text
    assert len(emu.issues(project)) == 1  # nothing more was written


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        ({"payload": {}}, "has no `event` name"),
        ({"event": "label.workflow.created.default", "payload": []}, "`payload` must be"),
        (
            {"event": "label.workflow.created.default", "payload": {"assetId": "a"}},
            "payload.labelId must be a non-empty string",
        ),
        (
            {"event": "label.workflow.created.default", "payload": {"labelId": "l"}},
            "payload.assetId must be a non-empty string",
        ),
    ],
)
def test_a_bad_envelope_is_refused_naming_the_field(
    kili: Any, emu: KiliEmulator, envelope: dict[str, Any], message: str
) -> None:
    plugin = Handler(kili, emu.add_project())
    with pytest.raises(EventError, match=message):
        plugin.check_event(envelope)


def test_typed_subscriptions_on_this_kili() -> None:
    """On a kili with on_kili_event the class subscribes through it (one method, both
    events); the SDK's on_event is then the dispatcher, not an override."""
    from kili.plugins import PluginCore  # type: ignore[import-untyped]

    if not TYPED_EVENTS:
        assert "on_event" in RulesEventPlugin.__dict__
        return
    from kili.services.plugins.events import subscribed_methods  # type: ignore[import-untyped]

    assert "on_event" not in RulesEventPlugin.__dict__
    assert RulesEventPlugin.on_event is PluginCore.on_event
    models = subscribed_methods(Handler)
    assert {name: [m.__name__ for m in ms] for name, ms in models.items()} == {
        "on_label_created": [
            "LabelWorkflowCreatedDefaultEvent",
            "LabelWorkflowCreatedReviewEvent",
        ]
    }
