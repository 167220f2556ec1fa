"""The webhook app (kili_rules.webhook.create_app) through httpx's ASGI transport.

A recording fake stands in for the Kili client; tests/test_webhook_e2e.py covers the real
client and real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("kili")

import httpx
from _fake_kili import FakeKili
from fastapi import FastAPI
from kili_rules import RuleSet
from kili_rules.webhook import RetryPolicy, create_app

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
RULES = RuleSet.from_file(ROOT / "examples" / "webhook" / "rules.toml")
SECRET = "s3cret-header"
AUTH = {"Authorization": SECRET}
COUNT_TEXT = "There are too many BBox (3) - Only 1 BBox of Object A accepted"
BIG_MID = "20221124161451411-13314"


def seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEED / name).read_text())
    return data


def three_boxes(label_id: str = "label-three-boxes") -> dict[str, Any]:
    body = seed("webhook_event_three_boxes.json")
    body["payload"]["label"]["id"] = label_id
    return body


def send(
    app: FastAPI,
    content: bytes | AsyncIterator[bytes] | None = None,
    *,
    body: object = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = "/",
    raise_app_exceptions: bool = True,
) -> httpx.Response:
    """One request through the ASGI app (no network)."""
    if body is not None:
        content = json.dumps(body).encode()

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, content=content, headers=headers)

    return asyncio.run(go())


@pytest.fixture
def kili() -> FakeKili:
    return FakeKili()


@pytest.fixture
def make_app(kili: FakeKili) -> Iterator[Any]:
    apps: list[FastAPI] = []

    def make(**options: Any) -> FastAPI:
        options.setdefault("secret", SECRET)
        options.setdefault("kili", kili)
        options.setdefault(
            "retry", RetryPolicy(base_seconds=0.02, max_seconds=0.05, max_attempts=3)
        )
        app = create_app(RULES, **options)
        apps.append(app)
        return app

    yield make
    for app in apps:
        if kili.gate is not None:
            kili.gate.set()
        app.state.worker.stop(timeout=5)


def drained(app: FastAPI) -> None:
    assert app.state.worker.join(10), "the worker did not drain in 10 s"


def status(app: FastAPI) -> dict[str, Any]:
    response = send(app, path="/status", method="GET", headers=AUTH)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def test_accepts_processes_and_reports_the_tutorial_label(
    make_app: Any, kili: FakeKili, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    with caplog.at_level(logging.INFO, logger="kili_rules.webhook"):
        response = send(app, body=three_boxes(), headers=AUTH)
        assert response.status_code == 202
        assert response.json()["status"] == "accepted"
        assert response.json()["event"] == "onSubmit"
        assert response.json()["label_id"] == "label-three-boxes"
        drained(app)
    assert kili.named("create_issues") == [
        {
            "project_id": "clfcblkni05pq0jrq8wgib142",
            "label_id_array": ["label-three-boxes", "label-three-boxes"],
            "text_array": [COUNT_TEXT, "BBox too large"],
            "object_mid_array": [None, BIG_MID],
        }
    ]
    assert kili.named("send_back_to_queue") == [{"asset_ids": ["asset-car-1"]}]
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kili_rules.webhook"]
    decisions = [line for line in lines if line.get("msg") == "kili-rules decision"]
    assert len(decisions) == 1
    line = decisions[0]
    assert line["label_id"] == "label-three-boxes" and line["asset_id"] == "asset-car-1"
    assert line["issues"] == 2 and line["sent_back"] is True
    assert isinstance(line["duration_ms"], float)


@pytest.mark.parametrize(
    "headers",
    [None, {"Authorization": "wrong"}, {"Authorization": ""}, {"Authorization": SECRET + " "}],
)
def test_wrong_or_missing_header_is_401_and_nothing_processed(
    make_app: Any, kili: FakeKili, headers: dict[str, str] | None
) -> None:
    app = make_app()
    response = send(app, body=three_boxes(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert status(app)["requests"]["accepted"] == 0
    drained(app)
    assert kili.calls == []


def test_401_comes_before_reading_the_body(make_app: Any) -> None:
    app = make_app(max_body_bytes=10)
    response = send(app, b"x" * 1000, headers={"Authorization": "nope"})
    assert response.status_code == 401


def test_several_secrets_during_rotation(make_app: Any, kili: FakeKili) -> None:
    app = make_app(secret=["old-secret", "new-secret"])
    assert send(app, body=three_boxes("a"), headers={"Authorization": "old-secret"}).is_success
    assert send(app, body=three_boxes("b"), headers={"Authorization": "new-secret"}).is_success
    assert send(app, body=three_boxes("c"), headers={"Authorization": "other"}).status_code == 401
    drained(app)
    assert len(kili.named("create_issues")) == 2


def test_no_secret_warns_that_the_endpoint_is_open(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kili_rules.webhook"):
        app = make_app(secret=None)
    assert "UNAUTHENTICATED" in caplog.text
    assert send(app, body=three_boxes()).status_code == 202


@pytest.mark.parametrize(
    ("content", "status", "error"),
    [
        (b"{", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b"\xff\xfe{}", 400, "invalid_json"),
        (b"[" * 100_000, 400, "invalid_json"),
        (b"[1, 2]", 422, "invalid_payload"),
        (b'"onSubmit"', 422, "invalid_payload"),
        (b"null", 422, "invalid_payload"),
        (b'{"hello": "world"}', 422, "invalid_payload"),
    ],
)
def test_malformed_bodies_are_4xx_json(
    make_app: Any, kili: FakeKili, content: bytes, status: int, error: str
) -> None:
    app = make_app()
    response = send(app, content, headers=AUTH)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["detail"]
    assert kili.calls == []


def _mutate(body: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("eventType", 5, "eventType"),
        ("logPayload", "p", "logPayload"),
        ("logPayload.projectId", 123, "logPayload.projectId"),
        ("logPayload.projectId", KeyError, "logPayload.projectId"),
        ("payload", [], "payload"),
        ("payload.asset_id", ["a"], "payload.asset_id"),
        ("payload.asset_id", KeyError, "payload.asset_id"),
        ("payload.label", "x", "payload.label"),
        ("payload.label.id", KeyError, "payload.label.id"),
        ("payload.label.id", 7, "payload.label.id"),
        ("payload.label.id", "", "payload.label.id"),
        ("payload.label.jsonResponse", [1, 2], "payload.label.jsonResponse"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    make_app: Any, kili: FakeKili, path: str, value: object, named: str
) -> None:
    app = make_app()
    response = send(app, body=_mutate(three_boxes(), path, value), headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_payload"
    assert named in response.json()["detail"]
    drained(app)
    assert kili.calls == []


def test_oversized_declared_body_is_413(make_app: Any, kili: FakeKili) -> None:
    app = make_app(max_body_bytes=1000)
    response = send(app, body={"eventType": "onSubmit", "pad": "x" * 2000}, headers=AUTH)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_oversized_chunked_body_is_413(make_app: Any) -> None:
    app = make_app(max_body_bytes=1000)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b" " * 100

    response = send(app, chunks(), headers=AUTH)
    assert response.status_code == 413


def test_lying_content_length_is_413(make_app: Any) -> None:
    app = make_app(max_body_bytes=1000)
    headers = {**AUTH, "Content-Length": "10"}
    response = send(app, b" " * 5000, headers=headers)
    assert response.status_code == 413
    assert send(app, b"x", headers={**AUTH, "Content-Length": "abc"}).status_code == 400


def test_body_at_the_limit_is_read(make_app: Any) -> None:
    body = json.dumps(three_boxes()).encode()
    app = make_app(max_body_bytes=len(body))
    assert send(app, body, headers=AUTH).status_code == 202
    app_small = make_app(max_body_bytes=len(body) - 1)
    assert send(app_small, body, headers=AUTH).status_code == 413


def test_redelivery_after_processing_is_a_duplicate(make_app: Any, kili: FakeKili) -> None:
    app = make_app()
    assert send(app, body=three_boxes(), headers=AUTH).status_code == 202
    drained(app)
    again = send(app, body=three_boxes(), headers=AUTH)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    drained(app)
    assert len(kili.named("create_issues")) == 1
    assert len(kili.named("send_back_to_queue")) == 1


def test_redelivery_while_in_flight_is_a_duplicate(make_app: Any, kili: FakeKili) -> None:
    app = make_app()
    kili.gate = threading.Event()
    assert send(app, body=three_boxes(), headers=AUTH).status_code == 202
    assert kili.entered.wait(10)
    assert send(app, body=three_boxes(), headers=AUTH).json()["status"] == "duplicate"
    kili.gate.set()
    drained(app)
    assert len(kili.named("create_issues")) == 1
    assert len(kili.named("send_back_to_queue")) == 1


def test_failures_are_retried_then_dead_lettered_then_replayed(
    make_app: Any, kili: FakeKili
) -> None:
    from kili.exceptions import GraphQLError  # type: ignore[import-untyped]

    app = make_app()
    kili.fail["create_issues"] = GraphQLError("temporarily down")
    assert send(app, body=three_boxes(), headers=AUTH).status_code == 202
    drained(app)
    data = status(app)
    assert data["status"] == "degraded" and data["dead_letters"] == 1
    assert "temporarily down" in data["last_error"]
    assert len(kili.named("create_issues")) == 3  # max_attempts
    assert kili.named("send_back_to_queue") == []
    # a redelivery is a duplicate: the event is in the journal, as a dead letter
    assert send(app, body=three_boxes(), headers=AUTH).json()["status"] == "duplicate"
    del kili.fail["create_issues"]
    from kili_rules.journal import State

    assert app.state.journal.replay(state=State.DEAD) == 1
    app.state.worker.wake()
    drained(app)
    assert len(kili.named("create_issues")) == 4
    assert len(kili.named("send_back_to_queue")) == 1
    assert status(app)["status"] == "ok"


def test_a_failure_once_is_retried_and_done_once(make_app: Any, kili: FakeKili) -> None:
    from kili.exceptions import GraphQLError  # type: ignore[import-untyped]

    app = make_app()
    kili.fail["send_back_to_queue"] = GraphQLError("blip")
    kili.gate = threading.Event()
    assert send(app, body=three_boxes(), headers=AUTH).status_code == 202
    assert kili.entered.wait(10)
    kili.gate.set()
    deadline = 50
    while not kili.named("send_back_to_queue") and deadline:
        threading.Event().wait(0.05)
        deadline -= 1
    del kili.fail["send_back_to_queue"]
    drained(app)
    # the issues step was recorded: the retry resumed at the send-back
    assert len(kili.named("create_issues")) == 1
    assert len(kili.named("send_back_to_queue")) >= 2
    assert status(app)["done"] == 1


def test_backlog_full_is_503_with_retry_after_and_nothing_lost(
    make_app: Any, kili: FakeKili
) -> None:
    app = make_app(max_backlog=3, workers=1)
    kili.gate = threading.Event()
    assert send(app, body=three_boxes("l0"), headers=AUTH).status_code == 202
    assert kili.entered.wait(10)  # l0 is leased by the worker
    assert send(app, body=three_boxes("l1"), headers=AUTH).status_code == 202
    assert send(app, body=three_boxes("l2"), headers=AUTH).status_code == 202
    full = send(app, body=three_boxes("l3"), headers=AUTH)
    assert full.status_code == 503
    assert full.headers["Retry-After"].isdigit()
    assert full.json()["error"] == "busy"
    assert status(app)["backlog"] == 3
    kili.gate.set()
    drained(app)
    # the refused event was not stored: its redelivery is accepted
    assert send(app, body=three_boxes("l3"), headers=AUTH).status_code == 202
    drained(app)
    labels = [call["label_id_array"][0] for call in kili.named("create_issues")]
    assert sorted(labels) == ["l0", "l1", "l2", "l3"]


def test_healthz_is_liveness_only_and_status_needs_the_secret(make_app: Any) -> None:
    app = make_app()
    send(app, body=three_boxes(), headers=AUTH)
    send(app, body=three_boxes(), headers={"Authorization": "bad"})
    drained(app)
    send(app, body=three_boxes(), headers=AUTH)
    health = send(app, path="/healthz", method="GET")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    for path in ("/status", "/metrics"):
        assert send(app, path=path, method="GET").status_code == 401
    data = status(app)
    assert data["status"] == "ok" and data["backlog"] == 0 and data["done"] == 1
    assert data["requests"]["duplicates"] == 1 and data["requests"]["rejected"] == 1
    assert data["rules_fingerprint"] == RULES.fingerprint and data["workers"]["workers"] >= 1
    metrics = send(app, path="/metrics", method="GET", headers=AUTH)
    assert metrics.status_code == 200
    assert 'kili_rules_events{state="done"} 1' in metrics.text


def test_inline_content_is_part_of_the_key(make_app: Any, kili: FakeKili) -> None:
    """A forged event with passing content for the same label cannot make the genuine
    one look like a duplicate."""
    app = make_app()
    forged = three_boxes()
    forged["payload"]["label"]["jsonResponse"] = seed("json_response_one_box.json")
    assert send(app, body=forged, headers=AUTH).json()["status"] == "accepted"
    drained(app)
    assert all(COUNT_TEXT not in c["text_array"] for c in kili.named("create_issues"))
    assert send(app, body=three_boxes(), headers=AUTH).json()["status"] == "accepted"
    drained(app)
    assert COUNT_TEXT in kili.named("create_issues")[-1]["text_array"]


def test_fetch_labels_ignores_inline_content(make_app: Any, kili: FakeKili) -> None:
    app = make_app(fetch_labels=True)
    kili.stored["label-three-boxes"] = seed("json_response_three_boxes.json")
    forged = three_boxes()
    forged["payload"]["label"]["jsonResponse"] = seed("json_response_one_box.json")
    assert send(app, body=forged, headers=AUTH).json()["status"] == "accepted"
    drained(app)
    assert len(kili.named("labels")) == 1  # fetched by id
    # the stored content, not the forged one
    assert COUNT_TEXT in kili.named("create_issues")[0]["text_array"]
    assert send(app, body=three_boxes(), headers=AUTH).json()["status"] == "duplicate"


def test_event_envelope_fetches_the_label_by_id(make_app: Any, kili: FakeKili) -> None:
    kili.stored["label-9"] = seed("json_response_one_box.json")
    app = make_app()
    body = {
        "event": "label.workflow.created.default",
        "organizationId": "org",
        "projectId": "project-9",
        "userId": "u",
        "payload": {"assetId": "asset-9", "labelId": "label-9", "externalId": None},
    }
    response = send(app, body=body, headers=AUTH)
    assert response.status_code == 202 and response.json()["event"] == body["event"]
    drained(app)
    assert [call["label_id"] for call in kili.named("labels")] == ["label-9"]
    assert kili.named("create_issues") == [
        {
            "project_id": "project-9",
            "label_id_array": ["label-9"],
            "text_array": ["BBox too large"],
            "object_mid_array": [BIG_MID],
        }
    ]
    assert kili.named("send_back_to_queue") == [{"asset_ids": ["asset-9"]}]


@pytest.mark.parametrize(
    "body",
    [
        {"event": "asset.skipped", "projectId": "p", "payload": {"assetId": "a"}},
        {"event": "project.updated", "payload": {}},
        {"eventType": "onSendBackToQueue", "logPayload": {"projectId": "p"}, "payload": {}},
    ],
)
def test_unknown_events_are_ignored(make_app: Any, kili: FakeKili, body: object) -> None:
    app = make_app()
    response = send(app, body=body, headers=AUTH)
    assert response.status_code == 202 and response.json()["status"] == "ignored"
    drained(app)
    assert kili.calls == []


def test_event_envelope_with_bad_payload_is_422(make_app: Any) -> None:
    app = make_app()
    body = {"event": "label.workflow.created.default", "projectId": "p", "payload": {}}
    response = send(app, body=body, headers=AUTH)
    assert response.status_code == 422 and "payload.labelId" in response.json()["detail"]


def test_dry_run_app_writes_nothing(make_app: Any, kili: FakeKili) -> None:
    app = make_app(dry_run=True)
    assert send(app, body=three_boxes(), headers=AUTH).status_code == 202
    drained(app)
    assert kili.writes == []


def test_missing_api_key_is_logged_not_fatal(
    make_app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("KILI_API_KEY", raising=False)
    app = make_app(kili=None)
    with caplog.at_level(logging.ERROR, logger="kili_rules.webhook"):
        assert send(app, body=three_boxes(), headers=AUTH).status_code == 202
        drained(app)
        # The worker logs the dead letter right after burying it, so the journal can be
        # drained a moment before the line is written: wait for it, briefly.
        deadline = time.monotonic() + 5
        while "no Kili API key" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "no Kili API key" in caplog.text
    assert status(app)["dead_letters"] == 1


def test_dry_run_without_api_key_needs_no_client(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KILI_API_KEY", raising=False)
    app = make_app(kili=None, dry_run=True)
    assert send(app, body=three_boxes(), headers=AUTH).status_code == 202
    drained(app)
    data = status(app)
    assert data["workers"]["processed"] == 1 and data["dead_letters"] == 0


def test_unexpected_error_is_a_json_500(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("kili_rules.webhook.app.parse_body", explode)
    response = send(app, body=three_boxes(), headers=AUTH, raise_app_exceptions=False)
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "detail": "unexpected server error (logged)",
    }
    monkeypatch.undo()
    assert send(app, path="/healthz", method="GET").status_code == 200


def test_unknown_route_and_method_are_json(make_app: Any) -> None:
    app = make_app()
    assert send(app, path="/nope", method="GET").json()["error"] == "not_found"
    response = send(app, method="GET")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
