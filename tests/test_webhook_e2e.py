"""End to end over loopback HTTP: the real kili client (init checks on), the local Kili
emulator, and the webhook apps (kili_rules.webhook and examples/webhook/main.py) under uvicorn.

Flow as in the Kili webhook tutorial: register the webhook, append a label with the real
client; the emulator POSTs the event to the server, which creates issues and sends the asset
back through the real client. Every wait is bounded.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("kili")
pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")

import httpx
import uvicorn
from kili_rules.plugin import register_webhook
from kili_rules.testing import KiliEmulator
from kili_rules.webhook import create_app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
EXAMPLE = ROOT / "examples" / "webhook"
SECRET = "e2e-webhook-secret"
COUNT_TEXT = "There are too many BBox (3) - Only 1 BBox of Object A accepted"
BIG_MID = "20221124161451411-13314"
NO_CACHE = {"graphql_client_params": {"enable_schema_caching": False}}
MAX_BODY = 100_000


def seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEED / name).read_text())
    return data


THREE_BOXES = seed("json_response_three_boxes.json")
ONE_BOX = seed("json_response_one_box.json")
JSON_INTERFACE = seed("json_interface.json")


class UvicornThread:
    """An ASGI app served by uvicorn on an ephemeral loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="uvicorn")

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 15 s")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "uvicorn did not stop within 15 s"


@pytest.fixture(scope="module")
def emu() -> Iterator[KiliEmulator]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KILI_SDK_SKIP_CHECKS", raising=False)  # the client's init checks stay on
        # no /version: the SDK introspects the schema and caches nothing under HOME
        with KiliEmulator(serve_version=False) as emulator:
            yield emulator


@pytest.fixture(scope="module")
def client(emu: KiliEmulator) -> Any:
    """The user's side: a real Kili client registering webhooks and appending labels."""
    kili = emu.kili_client(**NO_CACHE)
    assert "apiKeys" in emu.requests  # the client's init checks ran against the emulator
    return kili


@pytest.fixture(scope="module")
def app_kili(emu: KiliEmulator) -> Any:
    """The server's own real Kili client."""
    return emu.kili_client(**NO_CACHE)


@pytest.fixture(scope="module")
def server(app_kili: Any) -> Iterator[tuple[Any, str]]:
    app = create_app(
        ROOT / "examples" / "webhook" / "rules.toml",
        secret=SECRET,
        kili=app_kili,
        max_body_bytes=MAX_BODY,
    )
    with UvicornThread(app) as running:
        yield app, running.url


def new_asset(emu: KiliEmulator) -> tuple[str, str]:
    project_id = emu.add_project(json_interface=JSON_INTERFACE)
    asset_id = emu.add_asset(project_id, resolution=(1280, 720))
    return project_id, asset_id


def hook(emu: KiliEmulator, client: Any, url: str, header: str | None) -> tuple[str, str, str]:
    """A fresh project and asset, with a webhook to ``url`` registered and activated."""
    project_id, asset_id = new_asset(emu)
    name = f"rules-{project_id}"
    summary = register_webhook(client, project_id=project_id, url=url, name=name, header=header)
    assert "created" in summary and "activated" in summary
    return project_id, asset_id, name


def drained(app: Any) -> None:
    assert app.state.worker.join(20), "the webhook worker did not drain within 20 s"


def append(emu: KiliEmulator, client: Any, asset_id: str, json_response: dict[str, Any]) -> Any:
    before = len(emu.deliveries)
    client.append_labels(
        json_response_array=[json_response], asset_id_array=[asset_id], label_type="DEFAULT"
    )
    return emu.wait_for_deliveries(before + 1, timeout=20)[-1]


def test_tutorial_three_box_label(emu: KiliEmulator, client: Any, server: Any) -> None:
    app, url = server
    project_id, asset_id, _ = hook(emu, client, url, SECRET)
    delivery = append(emu, client, asset_id, THREE_BOXES)
    assert delivery.status_code == 202, delivery.response_text
    drained(app)

    issues = emu.issues(project_id)
    label_id = emu.labels(project_id)[0]["id"]
    assert [(i["text"], i["objectMid"], i["labelId"]) for i in issues] == [
        (COUNT_TEXT, None, label_id),
        ("BBox too large", BIG_MID, label_id),
    ]
    assert emu.sent_back.count(asset_id) == 1
    assert emu.asset(asset_id)["status"] == "ONGOING"

    # Kili redelivers the same event: nothing new is created, no second bounce
    again = httpx.post(url, json=delivery.body, headers={"Authorization": SECRET}, timeout=10)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    drained(app)
    assert len(emu.issues(project_id)) == 2
    assert emu.sent_back.count(asset_id) == 1


def test_tutorial_one_box_label(emu: KiliEmulator, client: Any, server: Any) -> None:
    app, url = server
    project_id, asset_id, _ = hook(emu, client, url, SECRET)
    assert append(emu, client, asset_id, ONE_BOX).status_code == 202
    drained(app)
    assert [(i["text"], i["objectMid"]) for i in emu.issues(project_id)] == [
        ("BBox too large", BIG_MID)
    ]
    assert emu.sent_back.count(asset_id) == 1


def test_review_label_goes_through_on_review(emu: KiliEmulator, client: Any, server: Any) -> None:
    app, url = server
    project_id, asset_id, _ = hook(emu, client, url, SECRET)
    before = len(emu.deliveries)
    client.append_labels(
        json_response_array=[ONE_BOX], asset_id_array=[asset_id], label_type="REVIEW"
    )
    delivery = emu.wait_for_deliveries(before + 1, timeout=20)[-1]
    assert delivery.event_type == "onReview" and delivery.status_code == 202
    drained(app)
    assert [i["text"] for i in emu.issues(project_id)] == ["BBox too large"]
    assert emu.sent_back.count(asset_id) == 1


@pytest.mark.parametrize("header", ["not-the-secret", None])
def test_wrong_or_missing_header_creates_nothing(
    emu: KiliEmulator, client: Any, server: Any, header: str | None
) -> None:
    app, url = server
    project_id, asset_id, _ = hook(emu, client, url, header)
    delivery = append(emu, client, asset_id, THREE_BOXES)
    assert delivery.status_code == 401
    assert json.loads(delivery.response_text)["error"] == "unauthorized"
    drained(app)
    assert emu.issues(project_id) == []
    assert asset_id not in emu.sent_back


def test_event_envelope_fetches_the_label_through_the_real_client(
    emu: KiliEmulator, server: Any
) -> None:
    app, url = server
    project_id, asset_id = new_asset(emu)
    label_id = emu.add_label(asset_id, THREE_BOXES)  # stored without a webhook call
    body = {
        "event": "label.workflow.created.default",
        "organizationId": "org",
        "projectId": project_id,
        "payload": {"assetId": asset_id, "labelId": label_id, "externalId": None},
    }
    response = httpx.post(url, json=body, headers={"Authorization": SECRET}, timeout=10)
    assert response.status_code == 202
    drained(app)
    assert [(i["text"], i["labelId"]) for i in emu.issues(project_id)] == [
        (COUNT_TEXT, label_id),
        ("BBox too large", label_id),
    ]
    assert emu.sent_back.count(asset_id) == 1


def test_malformed_bodies_are_4xx_and_the_server_stays_healthy(server: Any) -> None:
    app, url = server
    auth = {"Authorization": SECRET}
    with httpx.Client(timeout=10) as http:
        cases = [
            (http.post(url, content=b"{not json", headers=auth), 400),
            (http.post(url, content=b"[1,2,3]", headers=auth), 422),
            (http.post(url, json={"eventType": "onSubmit", "logPayload": 3}, headers=auth), 422),
            (http.post(url, content=b"[" * 50_000, headers=auth), 400),
            (http.post(url, content=b" " * (MAX_BODY + 1), headers=auth), 413),
            (http.post(url, content=_chunks(MAX_BODY * 2), headers=auth), 413),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            assert set(response.json()) == {"error", "detail"}
        health = http.get(url + "healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    drained(app)


def _chunks(total: int) -> Iterator[bytes]:
    """A chunked body (no Content-Length) of ``total`` bytes."""
    sent = 0
    while sent < total:
        yield b" " * 4096
        sent += 4096


def test_bounded_flood_gets_no_5xx(emu: KiliEmulator, client: Any, server: Any) -> None:
    app, url = server
    project_id = emu.add_project(json_interface=JSON_INTERFACE)
    good = []
    assets = []
    for _ in range(8):
        asset_id = emu.add_asset(project_id)
        assets.append(asset_id)
        label_id = emu.add_label(asset_id, THREE_BOXES)
        body = seed("webhook_event_three_boxes.json")
        body["logPayload"]["projectId"] = project_id
        body["payload"].update(asset_id=asset_id)
        body["payload"]["label"]["id"] = label_id
        good.append(json.dumps(body).encode())
    auth = {"Authorization": SECRET}
    requests: list[tuple[bytes, dict[str, str], set[int]]] = []
    for i in range(300):
        kind = i % 6
        if kind in (0, 1):  # each good event, delivered many times over
            requests.append((good[i % len(good)], auth, {200, 202}))
        elif kind == 2:
            requests.append((good[0], {"Authorization": f"guess-{i}"}, {401}))
        elif kind == 3:
            requests.append((b'{"eventType": ', auth, {400}))
        elif kind == 4:
            requests.append((b'{"event": "asset.skipped", "payload": {}}', auth, {202}))
        else:
            requests.append((b'{"eventType": "onSubmit", "payload": 1}', auth, {422}))

    def post(item: tuple[bytes, dict[str, str], set[int]]) -> tuple[int, set[int]]:
        body, headers, expected = item
        with httpx.Client(timeout=20) as http:
            return http.post(url, content=body, headers=headers).status_code, expected

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(post, requests))
    assert time.monotonic() - started < 60
    assert all(status < 500 for status, _ in results)
    assert all(status in expected for status, expected in results)
    drained(app)
    status = httpx.get(url + "status", headers=auth, timeout=10).json()
    assert status["status"] == "ok" and status["backlog"] == 0
    # 8 labels x 2 issues, once each, and one bounce per asset, whatever the redeliveries
    assert len(emu.issues(project_id)) == 16
    assert [emu.sent_back.count(asset_id) for asset_id in assets] == [1] * len(assets)


def load_example_main() -> ModuleType:
    """Import examples/webhook/main.py by path (it imports its sibling plugin.py)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        spec = importlib.util.spec_from_file_location(
            "kili_rules_example_main", EXAMPLE / "main.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLE))
        sys.modules.pop("plugin", None)  # a generic name: do not leave it to other tests
    return module


def test_example_main_follows_the_tutorial(
    emu: KiliEmulator, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILI_API_KEY", emu.api_key)
    monkeypatch.setenv("KILI_API_ENDPOINT", emu.endpoint)
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    main = load_example_main()
    with UvicornThread(main.app) as running:
        project_id, asset_id, _ = hook(emu, client, running.url, SECRET)
        delivery = append(emu, client, asset_id, THREE_BOXES)
        assert delivery.status_code == 200, delivery.response_text
        assert delivery.response_text and json.loads(delivery.response_text)["issues"] == 2
        assert [(i["text"], i["objectMid"]) for i in emu.issues(project_id)] == [
            (COUNT_TEXT, None),
            ("BBox too large", BIG_MID),
        ]
        assert emu.sent_back.count(asset_id) == 1

        other_project, other_asset, _ = hook(emu, client, running.url, "wrong")
        assert append(emu, client, other_asset, THREE_BOXES).status_code == 401
        assert emu.issues(other_project) == []
        bad = httpx.post(running.url, content=b"{", headers={"Authorization": SECRET}, timeout=10)
        assert 400 <= bad.status_code < 500
