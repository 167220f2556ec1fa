"""Tests of kili_rules.testing.KiliEmulator, mostly driving the real kili client (checks on)."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kili_rules.testing import KiliEmulator

kili_exceptions: Any = pytest.importorskip("kili.exceptions")  # the client under test
GraphQLError: type[Exception] = kili_exceptions.GraphQLError

SEED = Path(__file__).parent / "data" / "seed"
THREE_BOXES: dict[str, Any] = json.loads((SEED / "json_response_three_boxes.json").read_text())
ONE_BOX: dict[str, Any] = json.loads((SEED / "json_response_one_box.json").read_text())
JSON_INTERFACE: dict[str, Any] = json.loads((SEED / "json_interface.json").read_text())
MID_LARGE_BOX = "20221124161451411-13314"


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A real kili client on the emulator, init checks ON, HOME and CWD in a temp dir."""
    monkeypatch.delenv("KILI_SDK_SKIP_CHECKS", raising=False)
    for var in ("KILI_API_KEY", "KILI_API_ENDPOINT", "KILI_VERIFY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # kili reads kili-sdk-config.json from CWD, then HOME
    return emu.kili_client()


@pytest.fixture
def project(emu: KiliEmulator) -> str:
    return emu.add_project("proj-1", json_interface=JSON_INTERFACE, title="Webhooks test")


class Receiver:
    """A loopback HTTP server recording POSTs; ``on_post`` may act on each one."""

    def __init__(self, on_post: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.received.append((dict(self.headers.items()), body))
                if on_post is not None:
                    on_post(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def post_graphql(
    emu: KiliEmulator,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST to the emulator without the kili client; returns (status, JSON body)."""
    data = raw if raw is not None else json.dumps({"query": query, "variables": variables}).encode()
    all_headers = {
        "Content-Type": "application/json",
        "Authorization": f"X-API-Key: {key if key is not None else emu.api_key}",
        **(headers or {}),
    }
    request = urllib.request.Request(emu.endpoint, data=data, headers=all_headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


# ---- client init ---------------------------------------------------------------------------


@pytest.mark.e2e
def test_real_client_init_with_checks_on(kili: Any, emu: KiliEmulator) -> None:
    # viewer (raw POST), introspection, apiKeys: the checks the SDK runs when not skipped
    assert emu.requests == ["viewer", "__schema", "apiKeys"]


@pytest.mark.e2e
def test_schema_cache_is_keyed_by_sdl_hash(
    emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KILI_SDK_SKIP_CHECKS", raising=False)
    cache = tmp_path / "schema-cache"
    params = {"enable_schema_caching": True, "graphql_schema_cache_dir": str(cache)}
    emu.kili_client(graphql_client_params=params)
    [cached] = cache.glob("*.graphql")
    assert cached.name.startswith(f"127.0.0.1:{emu.port}_kili-rules-emulator-")
    kili = emu.kili_client(graphql_client_params=params)  # a second client reads the cache
    assert emu.requests == ["viewer", "__schema", "apiKeys", "viewer", "apiKeys"]
    assert kili.count_assets(project_id=emu.add_project()) == 0


@pytest.mark.e2e
def test_wrong_api_key_fails_fast(
    emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kili_client: Any = pytest.importorskip("kili.client")
    monkeypatch.delenv("KILI_SDK_SKIP_CHECKS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(kili_exceptions.AuthenticationFailed):
        kili_client.Kili(api_key="not-the-key", api_endpoint=emu.endpoint, disable_tqdm=True)


@pytest.mark.e2e
def test_client_when_version_is_not_served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KILI_SDK_SKIP_CHECKS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with KiliEmulator(serve_version=False) as emu:
        pid = emu.add_project()
        kili = emu.kili_client()
        assert kili.count_assets(project_id=pid) == 0
        assert emu.requests == ["viewer", "__schema", "apiKeys", "countAssets"]


# ---- labels --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_labels_return_json_response_as_dict(kili: Any, emu: KiliEmulator, project: str) -> None:
    asset = emu.add_asset(project, external_id="car_1")
    label_id = emu.add_label(asset, THREE_BOXES)
    labels = kili.labels(asset_id=asset, project_id=project, fields=["id", "jsonResponse"])
    assert labels == [{"id": label_id, "jsonResponse": THREE_BOXES, "jsonResponseUrl": None}]
    assert kili.count_labels(project_id=project, asset_id=asset) == 1
    other = emu.add_asset(project)
    assert kili.labels(asset_id=other, project_id=project, fields=["id"]) == []


@pytest.mark.e2e
def test_labels_filtered_by_label_id(kili: Any, emu: KiliEmulator, project: str) -> None:
    asset = emu.add_asset(project)
    emu.add_label(asset, THREE_BOXES)
    second = emu.add_label(asset, ONE_BOX)
    labels = kili.labels(project_id=project, label_id=second, fields=["id", "jsonResponse"])
    assert [(lb["id"], lb["jsonResponse"]) for lb in labels] == [(second, ONE_BOX)]


@pytest.mark.e2e
def test_append_labels(kili: Any, emu: KiliEmulator, project: str) -> None:
    first, second = emu.add_asset(project), emu.add_asset(project)
    result = kili.append_labels(
        json_response_array=[THREE_BOXES, ONE_BOX],
        asset_id_array=[first, second],
        label_type="DEFAULT",
    )
    ids = [item["id"] for item in result]
    assert len(set(ids)) == 2
    stored = emu.labels(project)
    assert [(lb["id"], lb["assetId"], lb["labelType"]) for lb in stored] == [
        (ids[0], first, "DEFAULT"),
        (ids[1], second, "DEFAULT"),
    ]
    assert stored[0]["jsonResponse"] == THREE_BOXES
    assert emu.asset(first)["status"] == "LABELED"
    kili.append_labels(json_response_array=[ONE_BOX], asset_id_array=[first], label_type="REVIEW")
    assert emu.asset(first)["status"] == "REVIEWED"


@pytest.mark.e2e
def test_append_labels_to_unknown_asset_is_a_graphql_error(kili: Any, project: str) -> None:
    with pytest.raises(GraphQLError, match="asset 'nope' does not exist"):
        kili.append_labels(json_response_array=[ONE_BOX], asset_id_array=["nope"])


# ---- issues --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_create_issues_many_in_one_call(kili: Any, emu: KiliEmulator, project: str) -> None:
    asset = emu.add_asset(project)
    label = emu.add_label(asset, THREE_BOXES)
    texts = ["There are too many BBox (3)", "BBox too large", "third"]
    mids = [None, MID_LARGE_BOX, "20221124161459298-45160"]
    result = kili.create_issues(
        project_id=project, label_id_array=[label] * 3, object_mid_array=mids, text_array=texts
    )
    assert len(result) == 3
    assert emu.requests.count("createIssues") == 1
    assert [
        (i["labelId"], i["objectMid"], i["text"], i["type"], i["status"], i["assetId"])
        for i in emu.issues(project)
    ] == [(label, mid, text, "ISSUE", "OPEN", asset) for mid, text in zip(mids, texts, strict=True)]


@pytest.mark.e2e
def test_issues_and_count_issues(kili: Any, emu: KiliEmulator, project: str) -> None:
    asset, other = emu.add_asset(project), emu.add_asset(project)
    label, other_label = emu.add_label(asset, THREE_BOXES), emu.add_label(other, ONE_BOX)
    kili.create_issues(
        project_id=project,
        label_id_array=[label, label, other_label],
        object_mid_array=[None, MID_LARGE_BOX, None],
        text_array=["a", "b", "c"],
    )
    assert kili.count_issues(project_id=project) == 3
    assert kili.count_issues(project_id=project, asset_id=other) == 1
    issues = kili.issues(
        project_id=project, fields=["id", "objectMid", "comments.text", "assetId", "status"]
    )
    assert [(i["objectMid"], i["comments"], i["assetId"]) for i in issues] == [
        (None, [{"text": "a"}], asset),
        (MID_LARGE_BOX, [{"text": "b"}], asset),
        (None, [{"text": "c"}], other),
    ]
    assert kili.issues(project_id=project, asset_id=other, fields=["assetId"]) == [
        {"assetId": other}
    ]


# ---- send back to queue --------------------------------------------------------------------


@pytest.mark.e2e
def test_send_back_to_queue(kili: Any, emu: KiliEmulator, project: str) -> None:
    labeled, todo = emu.add_asset(project, external_id="x1"), emu.add_asset(project)
    emu.add_label(labeled, ONE_BOX)
    assert emu.asset(labeled)["status"] == "LABELED"
    outcome = kili.send_back_to_queue(asset_ids=[labeled, todo])
    assert outcome["succeeded"] == [{"assetId": labeled, "externalId": "x1"}]
    assert outcome["declined"] == [{"assetId": todo, "externalId": todo}]  # still to label
    assert outcome["failed"] == []
    assert emu.asset(labeled)["status"] == "ONGOING"
    assert emu.asset(todo)["status"] == "TODO"
    assert emu.sent_back == [labeled, todo]
    assert emu.requests[-1] == "sendAssetsBackToQueue"


def test_legacy_send_back_assets_to_queue(emu: KiliEmulator, project: str) -> None:
    asset = emu.add_asset(project)
    emu.add_label(asset, ONE_BOX)
    status, body = post_graphql(
        emu,
        "mutation($where: AssetWhere!){ data: sendBackAssetsToQueue(where:$where){ id } }",
        {"where": {"idIn": [asset]}},
    )
    assert (status, body) == (200, {"data": {"data": {"id": project}}})
    assert emu.asset(asset)["status"] == "ONGOING"
    assert emu.sent_back == [asset]


# ---- assets and pagination -----------------------------------------------------------------


@pytest.mark.e2e
def test_assets_with_latest_label(kili: Any, emu: KiliEmulator, project: str) -> None:
    asset = emu.add_asset(project, external_id="car_1", resolution=(1280, 720))
    emu.add_label(asset, THREE_BOXES)
    emu.add_label(asset, ONE_BOX)
    emu.add_asset(project, external_id="unlabeled")
    assets = kili.assets(
        project_id=project,
        fields=["id", "externalId", "status", "latestLabel.jsonResponse", "labels.id"],
    )
    assert [a["externalId"] for a in assets] == ["car_1", "unlabeled"]
    assert assets[0]["latestLabel"]["jsonResponse"] == ONE_BOX
    assert assets[0]["resolution"] == {"width": 1280, "height": 720}
    assert len(assets[0]["labels"]) == 2 and assets[0]["status"] == "LABELED"
    assert assets[1]["latestLabel"] is None and assets[1]["status"] == "TODO"


@pytest.mark.e2e
def test_pagination_beyond_100(kili: Any, emu: KiliEmulator, project: str) -> None:
    created = [emu.add_asset(project, external_id=f"img-{n:03d}") for n in range(250)]
    assert kili.count_assets(project_id=project) == 250
    ids = [a["id"] for a in kili.assets(project_id=project, fields=["id"])]
    assert ids == created
    assert emu.requests.count("assets") >= 3  # pages of at most 100
    window = kili.assets(project_id=project, fields=["externalId"], first=30, skip=190)
    assert [a["externalId"] for a in window] == [f"img-{n:03d}" for n in range(190, 220)]
    tail = kili.assets(project_id=project, fields=["id"], skip=240)
    assert [a["id"] for a in tail] == created[240:]


def test_page_size_is_bounded(emu: KiliEmulator, project: str) -> None:
    status, body = post_graphql(
        emu,
        "query($where: AssetWhere!, $first: PageSize!, $skip: Int!)"
        "{ data: assets(where:$where, first:$first, skip:$skip){ id } }",
        {"where": {"project": {"id": project}}, "first": 1000, "skip": 0},
    )
    assert status == 200 and body["data"] is None
    assert "`first` must be an integer between 0 and 500" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"] == {}


# ---- webhooks and plugins ------------------------------------------------------------------


@pytest.mark.e2e
def test_webhook_registration_and_activation(kili: Any, emu: KiliEmulator, project: str) -> None:
    kili.create_webhook(
        webhook_url="http://127.0.0.1:9/a", plugin_name="rules", header="secret", verbose=False
    )
    kili.update_webhook(
        new_webhook_url="http://localhost:9/b", plugin_name="rules", new_header="s2", verbose=False
    )
    kili.activate_plugin_on_project(plugin_name="rules", project_id=project)
    assert emu.webhooks == [
        {
            "name": "rules",
            "url": "http://localhost:9/b",
            "header": "s2",
            "handlerTypes": ["onSubmit", "onReview"],
            "eventMatcher": None,
            "projects": [project],
        }
    ]
    with pytest.raises(GraphQLError, match="an entity Project already exists"):
        kili.activate_plugin_on_project(plugin_name="rules", project_id=project)
    with pytest.raises(GraphQLError, match="an entity Plugin already exists"):
        kili.create_webhook(webhook_url="http://127.0.0.1:9/a", plugin_name="rules")
    kili.deactivate_plugin_on_project(plugin_name="rules", project_id=project)
    assert emu.webhooks[0]["projects"] == []


@pytest.mark.e2e
def test_webhook_to_non_loopback_url_is_refused(kili: Any, emu: KiliEmulator) -> None:
    with pytest.raises(GraphQLError, match="only delivers webhooks to loopback hosts"):
        kili.create_webhook(webhook_url="https://webhook.site/x", plugin_name="remote")
    assert emu.webhooks == []


@pytest.mark.e2e
def test_webhook_delivery(kili: Any, emu: KiliEmulator, project: str, receiver: Receiver) -> None:
    asset = emu.add_asset(project, asset_id="asset-car-1")
    kili.create_webhook(webhook_url=receiver.url, plugin_name="rules", header="custom header")
    kili.activate_plugin_on_project(plugin_name="rules", project_id=project)
    [created] = kili.append_labels(
        json_response_array=[THREE_BOXES], asset_id_array=[asset], label_type="DEFAULT"
    )
    [delivery] = emu.wait_for_deliveries(1)
    assert (delivery.status_code, delivery.url, delivery.error) == (200, receiver.url, None)
    headers, body = receiver.received[0]
    assert headers["Authorization"] == "custom header"
    expected = json.loads((SEED / "webhook_event_three_boxes.json").read_text())
    assert set(body) == set(expected) and body["eventType"] == "onSubmit"
    assert body["logPayload"]["projectId"] == project and body["logPayload"]["runId"]
    assert body["payload"]["asset_id"] == asset
    label = body["payload"]["label"]
    assert set(expected["payload"]["label"]) <= set(label)
    assert label["id"] == created["id"] and label["labelType"] == "DEFAULT"
    for key in ("jsonResponse", "numberOfAnnotations", "search", "isSentBackToQueue"):
        assert label[key] == expected["payload"]["label"][key], key

    # a PREDICTION label triggers nothing; a REVIEW label triggers onReview (delivered in order)
    kili.append_labels(
        json_response_array=[ONE_BOX],
        asset_id_array=[asset],
        label_type="PREDICTION",
        model_name="model-1",
    )
    kili.append_labels(json_response_array=[ONE_BOX], asset_id_array=[asset], label_type="REVIEW")
    deliveries = emu.wait_for_deliveries(2)
    assert [d.event_type for d in deliveries] == ["onSubmit", "onReview"]
    assert receiver.received[1][1]["payload"]["label"]["search"] == {
        "numberOfAnnotations": 1,
        "numberOfAnnotationsByObject": {"JOB_0.OBJECT_A": 1},
    }


def test_delivery_failure_is_recorded(emu: KiliEmulator, project: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = {"pluginName": "down", "webhookUrl": f"http://127.0.0.1:{port}/", "header": None}
    post_graphql(emu, "mutation($d: WebhookData!){ data: createWebhook(data:$d) }", {"d": hook})
    post_graphql(
        emu,
        'mutation{ data: activatePluginOnProject(where:{pluginName:"down", projectId:"proj-1"}) }',
    )
    asset = emu.add_asset(project)
    status, body = post_graphql(
        emu,
        "mutation($data: AppendManyLabelsData!, $where: AssetWhere!)"
        "{ data: appendManyLabels(data:$data, where:$where){ id } }",
        {
            "data": {
                "labelType": "DEFAULT",
                "labelsData": [{"assetID": asset, "jsonResponse": json.dumps(ONE_BOX)}],
            },
            "where": {"idIn": [asset]},
        },
    )
    assert status == 200 and body["data"]["data"][0]["id"]
    [delivery] = emu.wait_for_deliveries(1)
    assert delivery.status_code is None and delivery.error and not delivery.ok


@pytest.mark.e2e
def test_tutorial_step5_loop(kili: Any, emu: KiliEmulator, project: str) -> None:
    """A tutorial-style webhook: count rule on ``search``, issues, then send back to queue."""

    def on_post(event: dict[str, Any]) -> None:
        label, asset_id = event["payload"]["label"], event["payload"]["asset_id"]
        count = label["search"]["numberOfAnnotationsByObject"].get("JOB_0.OBJECT_A", 0)
        if count > 1:
            kili.create_issues(
                project_id=event["logPayload"]["projectId"],
                label_id_array=[label["id"]],
                text_array=[
                    f"There are too many BBox ({count}) - Only 1 BBox of Object A accepted"
                ],
                object_mid_array=[None],
            )
            kili.send_back_to_queue(asset_ids=[asset_id])

    hook = Receiver(on_post)
    try:
        asset = emu.add_asset(project)
        kili.create_webhook(webhook_url=hook.url, plugin_name="tutorial", header="h")
        kili.activate_plugin_on_project(plugin_name="tutorial", project_id=project)
        kili.append_labels(json_response_array=[THREE_BOXES], asset_id_array=[asset])
        emu.wait_for_deliveries(1)
        emu.wait_until(lambda: emu.sent_back == [asset], what="send back")
        [issue] = emu.issues(project)
        assert issue["text"].startswith("There are too many BBox (3)")
        assert emu.asset(asset)["status"] == "ONGOING"
        kili.append_labels(json_response_array=[ONE_BOX], asset_id_array=[asset])
        emu.wait_for_deliveries(2)
        assert len(emu.issues(project)) == 1 and emu.asset(asset)["status"] == "LABELED"
    finally:
        hook.close()


# ---- protocol robustness -------------------------------------------------------------------


def test_unknown_operation_is_a_graphql_error(emu: KiliEmulator) -> None:
    status, body = post_graphql(emu, "mutation { data: deleteEverything }")
    assert status == 200 and body["data"] is None
    [err] = body["errors"]
    assert "does not implement the mutation 'deleteEverything'" in err["message"]
    assert err["extensions"] == {}
    assert emu.requests == ["deleteEverything"]
    assert post_graphql(emu, "{ viewer { id email } }")[1]["data"]["viewer"]["email"]


def test_malformed_requests_get_clear_errors(emu: KiliEmulator) -> None:
    status, body = post_graphql(emu, "", raw=b"{not json")
    assert status == 400 and "not JSON" in body["errors"][0]["message"]
    status, body = post_graphql(emu, "", raw=b'[{"query": "{ viewer { id } }"}]')
    assert status == 400 and "batches are not supported" in body["errors"][0]["message"]
    status, body = post_graphql(emu, "{ viewer { id ")
    assert status == 200 and body["errors"][0]["message"].startswith("Syntax Error")
    status, body = post_graphql(emu, "{ viewer { id email } }", key="wrong")
    assert status == 200 and "Unauthorized" in body["errors"][0]["message"]
    assert "email" not in json.dumps(body)  # the SDK's key check looks for "email"
    status, body = post_graphql(
        emu, "", raw=b"\x1f\x8b garbage", headers={"Content-Encoding": "gzip"}
    )
    assert status == 400 and "bad gzip body" in body["errors"][0]["message"]
    assert post_graphql(emu, "{ viewer { id } }")[0] == 200  # still serving


def test_gzip_request_body(emu: KiliEmulator) -> None:
    raw = gzip.compress(json.dumps({"query": "{ data: viewer { id } }"}).encode())
    status, body = post_graphql(emu, "", raw=raw, headers={"Content-Encoding": "gzip"})
    assert (status, body) == (200, {"data": {"data": {"id": "emulator-user"}}})


def test_version_endpoint(emu: KiliEmulator) -> None:
    version_url = emu.endpoint.replace("/graphql", "/version")
    with urllib.request.urlopen(version_url, timeout=5) as response:
        assert json.loads(response.read())["version"].startswith("kili-rules-emulator-")
    with KiliEmulator(serve_version=False) as quiet, pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(quiet.endpoint.replace("/graphql", "/version"), timeout=5)
    assert err.value.code == 404
    err.value.close()


def test_reset_and_seeding_errors(emu: KiliEmulator, project: str) -> None:
    from kili_rules.testing import EmulatorError

    asset = emu.add_asset(project)
    emu.add_label(asset, ONE_BOX)
    with pytest.raises(EmulatorError, match="already exists"):
        emu.add_asset(project, asset_id=asset)
    with pytest.raises(EmulatorError, match="does not exist"):
        emu.add_asset("no-such-project")
    emu.reset()
    assert emu.labels() == [] and emu.assets() == [] and emu.requests == []
    assert emu.add_project() == "project-1"


def test_refuses_non_loopback_bind_and_use_before_start() -> None:
    with pytest.raises(ValueError, match="loopback"):
        KiliEmulator(host="0.0.0.0")
    with pytest.raises(RuntimeError, match="not started"):
        _ = KiliEmulator().endpoint


@pytest.mark.e2e
def test_webhook_honours_handler_types(
    kili: Any, emu: KiliEmulator, project: str, receiver: Receiver
) -> None:
    asset = emu.add_asset(project)
    kili.create_webhook(webhook_url=receiver.url, plugin_name="rv", handler_types=["onReview"])
    kili.activate_plugin_on_project(plugin_name="rv", project_id=project)
    kili.append_labels(json_response_array=[ONE_BOX], asset_id_array=[asset])  # onSubmit: none
    kili.append_labels(json_response_array=[ONE_BOX], asset_id_array=[asset], label_type="REVIEW")
    [delivery] = emu.wait_for_deliveries(1)
    assert delivery.event_type == "onReview"
    assert "Authorization" not in receiver.received[0][0]  # no header registered


def test_concurrent_mutations_are_thread_safe(emu: KiliEmulator, project: str) -> None:
    asset = emu.add_asset(project)
    label = emu.add_label(asset, ONE_BOX)
    query = (
        "mutation($issues: [IssueToCreate!]!, $where: AssetWhere!)"
        "{ data: createIssues(issues:$issues, where:$where){ id } }"
    )
    variables = {
        "issues": [{"labelID": label, "type": "ISSUE", "text": "t"}] * 5,
        "where": {"project": {"id": project}},
    }
    results: list[tuple[int, dict[str, Any]]] = []

    def worker() -> None:
        for _ in range(4):
            results.append(post_graphql(emu, query, variables))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(status == 200 and "errors" not in body for status, body in results)
    ids = [issue["id"] for _, body in results for issue in body["data"]["data"]]
    assert len(ids) == 160 == len(set(ids)) == len(emu.issues(project))


def test_internal_error_is_reported_not_fatal(
    emu: KiliEmulator, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(where: object) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(emu._state, "find_assets", broken)
    status, body = post_graphql(
        emu, "query($w: AssetWhere!){ data: countAssets(where:$w) }", {"w": {}}
    )
    assert status == 200 and body["data"] is None
    assert body["errors"][0]["message"] == "internal emulator error (RuntimeError): boom"
    monkeypatch.undo()
    count = post_graphql(emu, "query($w: AssetWhere!){ data: countAssets(where:$w) }", {"w": {}})
    assert count == (200, {"data": {"data": 0}})
