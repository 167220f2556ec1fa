"""Only the latest label acts (issue 18, point 3): with the real kili client against the
emulator, an event for a label a newer label of the same type replaced is recorded as
superseded and writes nothing; the latest label's event still acts."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator

pytest.importorskip("kili")

from kili_rules.kili.effects import MemorySteps
from kili_rules.kili.plugin import RulesPlugin, handle_label

pytest.importorskip("httpx")
pytest.importorskip("fastapi")

import httpx
from kili_rules.webhook import create_app

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
RULES = RuleSet.from_file(ROOT / "examples" / "rules.toml")
THREE_BOXES: dict[str, Any] = json.loads((SEED / "json_response_three_boxes.json").read_text())
INTERFACE: dict[str, Any] = json.loads((SEED / "json_interface.json").read_text())
COUNT_TEXT = "There are too many BBox (3) - Only 1 BBox of Object A accepted"
LOG = logging.getLogger("kili_rules.tests.latest")
SECRET = "latest-label-secret"


def clean() -> dict[str, Any]:
    """One small box: passes every rule of examples/rules.toml."""
    box = {
        "mid": "clean-box",
        "categories": [{"name": "OBJECT_A"}],
        "type": "rectangle",
        "boundingPoly": [
            {
                "normalizedVertices": [
                    {"x": 0.1, "y": 0.2},
                    {"x": 0.1, "y": 0.1},
                    {"x": 0.2, "y": 0.1},
                    {"x": 0.2, "y": 0.2},
                ]
            }
        ],
    }
    return {"JOB_0": {"annotations": [box]}}


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def kili(emu: KiliEmulator) -> Any:
    return emu.kili_client(timeout=1.0)


@pytest.fixture
def asset(emu: KiliEmulator) -> tuple[str, str]:
    project = emu.add_project(json_interface=INTERFACE)
    return project, emu.add_asset(project)


def label(emu: KiliEmulator, asset_id: str, json_response: dict[str, Any]) -> dict[str, Any]:
    return {"id": emu.add_label(asset_id, json_response), "jsonResponse": json_response}


def check(kili: Any, project: str, asset_id: str, payload: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("steps", MemorySteps())
    return handle_label(kili, RULES, project, asset_id, payload, logger=LOG, **kwargs)


def test_the_clean_label_passes_so_the_rules_would_not_bounce_it(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    """The fixture's premise: the clean label passes, the bad one breaks the count rule."""
    project, asset_id = asset
    decision = check(kili, project, asset_id, label(emu, asset_id, clean()))
    assert decision.outcome == "pass" and decision.effects.changes == ()
    bad = check(kili, project, asset_id, label(emu, asset_id, THREE_BOXES))
    assert COUNT_TEXT in bad.texts and bad.sent_back


def test_late_event_of_a_superseded_bad_label_does_nothing(
    kili: Any, emu: KiliEmulator, asset: Any, caplog: pytest.LogCaptureFixture
) -> None:
    project, asset_id = asset
    old = label(emu, asset_id, THREE_BOXES)  # L1: bad
    new = label(emu, asset_id, clean())  # L2: clean, the latest
    status = emu.asset(asset_id)["status"]

    first = check(kili, project, asset_id, new)
    assert first.outcome == "pass" and first.effects.changes == ()

    steps = MemorySteps()
    before = len(emu.requests)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        late = check(kili, project, asset_id, old, steps=steps)
    calls = emu.requests[before:]
    # the check rides on the asset read the effects make anyway: one assets request, no write
    assert calls.count("assets") == 1, calls
    assert not {c for c in calls if not c.startswith(("count", "issues", "assets", "projects"))}
    assert late.error is None
    assert late.outcome == "superseded"
    assert late.effects.superseded_by == new["id"]
    assert late.effects.changes == () and late.effects.created == ()
    assert not late.sent_back and not late.wrote and late.actions == ()
    assert COUNT_TEXT in late.texts  # judged: the verdict stays visible
    assert late.to_dict()["outcome"] == "superseded"
    assert late.to_dict()["superseded_by"] == new["id"]
    assert emu.issues(project) == []
    assert emu.sent_back == []
    assert emu.asset(asset_id)["status"] == status
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.INFO and "superseded" in r.getMessage()
    ]
    assert lines == [
        f"kili-rules: label {old['id']} on asset {asset_id} is superseded by label "
        f"{new['id']}: nothing done"
    ]
    # recorded: a retry of the same event (the journal's StepLog) resumes to the same nothing
    assert steps.done()["plan"]["superseded_by"] == new["id"]
    again = check(kili, project, asset_id, old, steps=steps)
    assert again.outcome == "superseded" and again.effects.changes == ()
    assert emu.issues(project) == [] and emu.sent_back == []


def test_late_clean_event_does_not_solve_the_latest_labels_issues(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    """Reconciliation is an effect too: an old clean label must not solve the new bad one's."""
    project, asset_id = asset
    old = label(emu, asset_id, clean())
    new = label(emu, asset_id, THREE_BOXES)
    bad = check(kili, project, asset_id, new)
    assert bad.effects.created and bad.sent_back
    late = check(kili, project, asset_id, old)
    assert late.outcome == "superseded" and late.effects.solved == ()
    assert {i["status"] for i in emu.issues(project)} == {"OPEN"}
    assert len(emu.issues(project)) == len(bad.effects.created)


def test_latest_bad_label_still_creates_its_issues_and_sends_back(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    project, asset_id = asset
    label(emu, asset_id, clean())  # an older label: the bad one below replaces it
    latest = label(emu, asset_id, THREE_BOXES)
    decision = check(kili, project, asset_id, latest)
    assert decision.error is None and decision.outcome == "error"
    assert decision.effects.superseded_by is None
    assert decision.sent_back and emu.sent_back == [asset_id]
    assert COUNT_TEXT in [i["text"] for i in emu.issues(project)]
    assert {i["labelId"] for i in emu.issues(project)} == {latest["id"]}


def test_a_review_label_does_not_supersede_the_default_one(
    kili: Any, emu: KiliEmulator, asset: Any
) -> None:
    """Latest is per label type: a reviewer's label does not silence the labeler's."""
    project, asset_id = asset
    default = label(emu, asset_id, THREE_BOXES)
    emu.add_label(asset_id, clean(), label_type="REVIEW")
    decision = check(kili, project, asset_id, default)
    assert decision.outcome == "error" and decision.effects.superseded_by is None
    assert decision.effects.created


def test_plugin_late_submit_is_superseded(kili: Any, emu: KiliEmulator, asset: Any) -> None:
    project, asset_id = asset

    class Handler(RulesPlugin):
        rules = RULES

    old = label(emu, asset_id, THREE_BOXES)
    new = label(emu, asset_id, clean())
    plugin = Handler(kili, project, LOG)
    assert plugin.on_submit(new, asset_id).outcome == "pass"
    late = plugin.on_submit(old, asset_id)
    assert late.outcome == "superseded" and late.effects is not None
    assert late.effects.superseded_by == new["id"]
    assert emu.issues(project) == [] and emu.sent_back == []
    # the normal path through the plugin still acts
    newest = label(emu, asset_id, THREE_BOXES)
    acted = plugin.on_submit(newest, asset_id)
    assert acted.outcome == "error" and acted.sent_back and emu.sent_back == [asset_id]


def post(app: Any, body: object) -> Any:
    """One webhook request through the ASGI app (no network)."""

    async def go() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/", json=body, headers={"Authorization": SECRET})

    return asyncio.run(go())


def envelope(project: str, asset_id: str, label_id: str) -> dict[str, Any]:
    """Kili's event envelope: the worker fetches the label by id through the real client."""
    return {
        "event": "label.workflow.created.default",
        "organizationId": "org",
        "projectId": project,
        "payload": {"assetId": asset_id, "labelId": label_id, "externalId": None},
    }


def test_webhook_worker_records_a_late_event_as_superseded(
    kili: Any,
    emu: KiliEmulator,
    asset: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project, asset_id = asset
    old = emu.add_label(asset_id, THREE_BOXES)  # L1: bad, stored without a webhook call
    new = emu.add_label(asset_id, clean())  # L2: clean
    status = emu.asset(asset_id)["status"]
    app = create_app(RULES, secret=SECRET, kili=kili, store=tmp_path / "events.db", workers=1)
    try:
        with caplog.at_level(logging.INFO, logger="kili_rules.webhook"):
            # L2's event first (nothing to do), then the late event of L1
            assert post(app, envelope(project, asset_id, new)).status_code == 202
            assert app.state.worker.join(20), "the worker did not drain in 20 s"
            assert post(app, envelope(project, asset_id, old)).status_code == 202
            assert app.state.worker.join(20), "the worker did not drain in 20 s"
        assert emu.issues(project) == []
        assert emu.sent_back == []
        assert emu.asset(asset_id)["status"] == status
        # the journal's record of each event says what happened
        first, late = app.state.journal.get(1), app.state.journal.get(2)
        assert first.label_id == new and first.result["outcome"] == "pass"
        assert late.label_id == old and late.result["outcome"] == "superseded"
        assert late.result["superseded_by"] == new and late.result["created"] == 0
        assert late.result["sent_back"] is False
        decisions = [
            json.loads(r.getMessage())
            for r in caplog.records
            if r.name == "kili_rules.webhook" and "kili-rules decision" in r.getMessage()
        ]
        assert [(d["label_id"], d["outcome"]) for d in decisions] == [
            (new, "pass"),
            (old, "superseded"),
        ]
        assert all(r.levelno == logging.INFO for r in caplog.records if "decision" in r.msg)

        # the normal path: a newer bad label's event creates its issues and sends back
        newest = emu.add_label(asset_id, THREE_BOXES)
        assert post(app, envelope(project, asset_id, newest)).status_code == 202
        assert app.state.worker.join(20), "the worker did not drain in 20 s"
        assert app.state.journal.get(3).result["outcome"] == "error"
        assert COUNT_TEXT in [i["text"] for i in emu.issues(project)]
        assert {i["labelId"] for i in emu.issues(project)} == {newest}
        assert emu.sent_back == [asset_id]
    finally:
        app.state.worker.stop(timeout=5)
