"""The hosted-plugin path end to end: `kili-rules bundle`, then the real `kili.upload_plugin`,
`activate_plugin_on_project` and a label submitted through the real client; the emulator runs
the uploaded archive in a fresh Python process, as Kili runs a plugin. Holds on kili 26.2.1
(legacy handlers only) and on the newest kili (also the kili-events bundle)."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("kili")

import kili.services.plugins.upload as sdk_upload  # type: ignore[import-untyped]
from _quiet import assert_quiet
from kili.exceptions import GraphQLError  # type: ignore[import-untyped]
from kili.services.plugins.exceptions import PluginCreationError  # type: ignore[import-untyped]
from kili_rules.bundle import write_bundle
from kili_rules.testing import EmulatorError, KiliEmulator
from kili_rules.testing.plugins import unpack_archive

try:
    from kili.plugins import on_kili_event  # type: ignore[import-untyped]  # noqa: F401

    TYPED_EVENTS = True
except ImportError:  # kili 26.2.1: no kili-events, so no --events bundle to run
    TYPED_EVENTS = False

RULES = """\
[[rule]]
id = "one-object-a"
kind = "count"
job = "JOB_0"
category = "OBJECT_A"
max = 1
message = "Only one OBJECT_A box ({count} found)"
"""
ISSUE_TEXT = "Only one OBJECT_A box (2 found)"


def _box(x0: float, mid: str) -> dict[str, Any]:
    x1 = x0 + 0.1
    vertices = [{"x": x0, "y": x0}, {"x": x0, "y": x1}, {"x": x1, "y": x1}, {"x": x1, "y": x0}]
    return {
        "boundingPoly": [{"normalizedVertices": vertices}],
        "categories": [{"name": "OBJECT_A"}],
        "mid": mid,
        "type": "rectangle",
        "children": {},
    }


TWO_BOXES = {"JOB_0": {"annotations": [_box(0.1, "m1"), _box(0.5, "m2")]}}
ONE_BOX = {"JOB_0": {"annotations": [_box(0.1, "m1")]}}


@pytest.fixture
def quick_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    # upload_plugin sleeps 15 s before each status poll (20 polls); 3 s keeps a minute for
    # the emulator's build and makes the tests that are not about timing shorter. Only the
    # uploader module's `time` is replaced, not time.sleep for everyone.
    real_sleep = time.sleep
    fake_time = SimpleNamespace(sleep=lambda seconds: real_sleep(min(seconds, 3.0)))
    monkeypatch.setattr(sdk_upload, "time", fake_time)


def _rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    return path


@pytest.mark.parametrize(
    "events",
    [
        False,
        pytest.param(
            True,
            marks=pytest.mark.skipif(not TYPED_EVENTS, reason="kili-events needs kili >= 26.2.4"),
        ),
    ],
    ids=["handlers", "events"],
)
def test_bundle_upload_activate_and_a_label_checked(tmp_path: Path, events: bool) -> None:
    folder = tmp_path / "plugin"
    write_bundle(_rules(tmp_path), folder, events=events)
    with KiliEmulator() as emu:
        project = emu.add_project()
        bad = emu.add_asset(project, external_id="two-boxes")
        good = emu.add_asset(project, external_id="one-box")
        kili = emu.kili_client()
        # the SDK's real upload: zip, createPlugin, PUT, createPluginRunner, status polling
        answer = kili.upload_plugin(plugin_path=str(folder), plugin_name="rules", verbose=False)
        assert answer == "Plugin created successfully"
        assert kili.get_plugin_status(plugin_name="rules") == "ACTIVE"
        (hosted,) = emu.plugins
        if events:
            assert hosted["eventMatcher"] == [
                "label.workflow.created.default",
                "label.workflow.created.review",
            ]
            assert hosted["handlerTypes"] is None
        else:
            assert hosted["handlerTypes"] == ["onSubmit", "onReview"]
        assert json.loads(kili.get_plugin_build_errors(plugin_name="rules")) == []
        kili.activate_plugin_on_project(plugin_name="rules", project_id=project)
        assert [p["projectIds"] for p in kili.list_plugins(fields=["name", "projectIds"])] == [
            [project]
        ]

        kili.append_labels(json_response_array=[TWO_BOXES, ONE_BOX], asset_id_array=[bad, good])
        runs = emu.wait_for_plugin_runs(2, timeout=120)
        assert [(r.asset_id, r.ok, r.error) for r in runs] == [
            (bad, True, None),
            (good, True, None),
        ], [r.output for r in runs]
        expected_event = "label.workflow.created.default" if events else "onSubmit"
        assert {r.event for r in runs} == {expected_event}

        # what the plugin process did, read back through the real client
        issues = kili.issues(project_id=project, fields=["assetId", "comments.text", "status"])
        assert issues == [{"assetId": bad, "comments": [{"text": ISSUE_TEXT}], "status": "OPEN"}], (
            issues
        )
        statuses = {
            a["id"]: a["status"]
            for a in kili.assets(project_id=project, fields=["id", "status"], disable_tqdm=True)
        }
        assert statuses == {bad: "ONGOING", good: "LABELED"}  # only `bad` was sent back
        logs = json.loads(kili.get_plugin_logs(project_id=project, plugin_name="rules"))
        assert any(
            "sent back" in entry["content"] and entry["metadata"]["assetId"] == bad
            for entry in logs
        ), logs
        for run in runs:  # quiet: no SDK bar in the plugin's output, each line once
            assert_quiet(run.output)
            assert "sent back" in run.output or run.asset_id == good, run.output
        for run in runs:  # Kili's published limits for one run
            assert run.peak_rss_mb is not None and run.peak_rss_mb < 512
            assert run.seconds < 60
            print(f"hosted run: {run.seconds:.2f} s, peak RSS {run.peak_rss_mb:.0f} MB")


def test_a_requirement_the_build_cannot_install_fails_the_upload(
    tmp_path: Path, quick_polling: None
) -> None:
    folder = tmp_path / "plugin"
    write_bundle(_rules(tmp_path), folder, requirement="no-such-distribution-kr==9.9")
    with KiliEmulator() as emu:
        kili = emu.kili_client()
        with pytest.raises(PluginCreationError):
            kili.upload_plugin(plugin_path=str(folder), plugin_name="rules", verbose=False)
        assert kili.get_plugin_status(plugin_name="rules") == "FAILED"
        errors = json.loads(kili.get_plugin_build_errors(plugin_name="rules"))
        assert [e["logType"] for e in errors] == ["ERROR"]
        assert "no-such-distribution-kr is not installed" in errors[0]["content"]
        project = emu.add_project()
        kili.activate_plugin_on_project(plugin_name="rules", project_id=project)
        kili.append_labels(json_response_array=[TWO_BOXES], asset_id_array=[emu.add_asset(project)])
        time.sleep(1.0)
        assert emu.plugin_runs == []  # a FAILED plugin never runs


def test_a_plugin_that_raises_is_a_failed_run_in_the_logs(
    tmp_path: Path, quick_polling: None
) -> None:
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "main.py").write_text(
        "class PluginHandler:\n"
        "    def __init__(self, kili, project_id):\n"
        "        self.kili = kili\n\n"
        "    def on_submit(self, label, asset_id):\n"
        "        print('checking', asset_id, flush=True)\n"
        "        raise RuntimeError('rule engine down')\n"
    )
    with KiliEmulator() as emu:
        project = emu.add_project()
        asset = emu.add_asset(project)
        kili = emu.kili_client()
        kili.upload_plugin(plugin_path=str(folder), plugin_name="broken", verbose=False)
        kili.activate_plugin_on_project(plugin_name="broken", project_id=project)
        kili.append_labels(json_response_array=[ONE_BOX], asset_id_array=[asset])
        (run,) = emu.wait_for_plugin_runs(1, timeout=60)
        assert not run.ok and run.error == "RuntimeError: rule engine down"
        logs = json.loads(kili.get_plugin_logs(project_id=project, plugin_name="broken"))
        errors = [e["content"] for e in logs if e["logType"] == "ERROR"]
        assert any("rule engine down" in text for text in errors), logs
        assert all(e["metadata"] == {"assetId": asset, "labelId": run.label_id} for e in logs)


def _put(url: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": content_type}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def test_upload_url_is_single_use_and_refuses_what_is_not_a_zip() -> None:
    with KiliEmulator() as emu:
        kili = emu.kili_client()
        result = kili.graphql_client.execute(
            "mutation($n: String!) { data: createPlugin(data: {pluginName: $n}) }", {"n": "p"}
        )
        url = result["data"].split("&id=")[0]
        assert url.startswith(emu.url + "/api/plugin-uploads/")
        assert _put(url, b"x", "text/plain")[0] == 415
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr("main.py", "class PluginHandler: pass\n")
        assert _put(url, zipped.getvalue(), "application/zip")[0] == 200
        status, body = _put(url, zipped.getvalue(), "application/zip")
        assert status == 403 and "already used" in body["error"]
        assert _put(emu.url + "/api/plugin-uploads/guess", b"", "application/zip")[0] == 403
        # a second plugin of the same name is refused with the message the SDK looks for
        with pytest.raises(GraphQLError, match="an entity Plugin already exists"):
            kili.graphql_client.execute(
                "mutation($n: String!) { data: createPlugin(data: {pluginName: $n}) }", {"n": "p"}
            )


@pytest.mark.parametrize("name", ["../evil.py", "/abs.py"])
def test_an_archive_with_a_path_out_of_its_folder_is_refused(tmp_path: Path, name: str) -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr(name, "x = 1\n")
    with pytest.raises(EmulatorError, match="path out of its folder"):
        unpack_archive(zipped.getvalue(), tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


# ---- `kili-rules serve` takes both envelopes --------------------------------------------


def test_serve_takes_a_typed_envelope_once_and_dedupes_its_redeliveries(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    import sqlite3
    from collections import Counter

    from _server import JSON_INTERFACE, THREE_BOXES, Server, legacy_event, post_all

    with KiliEmulator() as emu:
        project = emu.add_project(json_interface=JSON_INTERFACE)
        typed_asset = emu.add_asset(project, external_id="typed")
        typed_label = emu.add_label(typed_asset, THREE_BOXES)
        legacy_asset = emu.add_asset(project, external_id="legacy")
        legacy_label = emu.add_label(legacy_asset, THREE_BOXES)
        typed = json.dumps(
            {
                "event": "label.workflow.created.default",
                "organizationId": "org-1",
                "projectId": project,
                "userId": "user-1",
                "payload": {"assetId": typed_asset, "labelId": typed_label, "externalId": "typed"},
            }
        ).encode()
        legacy = legacy_event(project, legacy_asset, legacy_label, THREE_BOXES)
        store = tmp_path / "events.db"
        server = Server(store, emu.endpoint, emu.api_key, tmp_path / "server.log").wait_ready()
        try:
            # the typed event delivered five times at once, beside a legacy one
            statuses = post_all(server.url, [typed] * 5 + [legacy], clients=6)
            assert set(statuses) <= {200, 202} and statuses.count(202) >= 2, statuses
            status = server.wait_drained(60)
            assert status["done"] == 2 and status["dead_letters"] == 0, status
            assert post_all(server.url, [typed, legacy]) == [200, 200]  # already done
            server.wait_drained(30)
        finally:
            server.stop()
        with sqlite3.connect(store) as db:
            rows = db.execute(
                "SELECT label_id, event, state FROM kili_rules_events ORDER BY label_id"
            ).fetchall()
        assert sorted(rows) == sorted(
            [
                (typed_label, "label.workflow.created.default", "done"),
                (legacy_label, "onSubmit", "done"),
            ]
        ), rows
        per_label = Counter(issue["labelId"] for issue in emu.issues(project))
        assert per_label == {typed_label: 2, legacy_label: 2}, per_label  # acted on once
        assert Counter(emu.sent_back) == {typed_asset: 1, legacy_asset: 1}
