"""Operator faults under a running ``kili-rules serve`` (a real process, the real kili client,
the emulator): a store that cannot be found again never gets an event acknowledged.

- the database files deleted while the server runs: intake 503 at once, ``/status`` a
  structured ``store_unavailable`` with the count of refused requests, no new empty file;
- a second server through a symlink to the same file: refused (the lock is on the file);
- a full disk (``ulimit -f``): 503s and ``/status`` says so, not "ok";
- a label nested too deeply: a 422 naming why, never a 500.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("kili")
pytest.importorskip("uvicorn")

from _server import AUTH, JSON_INTERFACE, THREE_BOXES, Server, legacy_event, post_all
from kili_rules.journal import SQLiteJournal, State, StoreUnavailable
from kili_rules.journal.model import NewEvent
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


def bodies(emu: KiliEmulator, n: int) -> list[bytes]:
    project = emu.add_project(json_interface=JSON_INTERFACE)
    out = []
    for _ in range(n):
        asset = emu.add_asset(project)
        label = emu.add_label(asset, THREE_BOXES)
        out.append(legacy_event(project, asset, label, THREE_BOXES))
    return out


def status(server: Server) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(server.url + "status", headers=AUTH, timeout=10)
    return answer.status_code, answer.json()


def test_deleted_store_refuses_events_and_status_says_so(emu: KiliEmulator, tmp_path: Path) -> None:
    store = tmp_path / "events.db"
    events = bodies(emu, 20)
    # --dry-run: the workers keep the journal busy without writing to Kili
    server = Server(store, emu.endpoint, emu.api_key, tmp_path / "server.log", "--dry-run")
    try:
        server.wait_ready()
        assert Counter(post_all(server.url, events[:10])) == {202: 10}
        for path in tmp_path.glob("events.db*"):
            path.unlink()
        codes = post_all(server.url, events[10:], clients=1)
        assert 202 not in codes and 200 not in codes, codes
        assert Counter(codes) == {503: 10}
        code, doc = status(server)
        assert code == 503
        assert doc["status"] == "store_unavailable"
        assert "deleted" in doc["detail"]
        assert doc["refused_unavailable"] == 10
        # the status read did not create a new empty store where the old one was
        assert not store.exists()
        assert "Traceback" not in server.tail(100_000)
    finally:
        server.stop()


def test_second_server_through_a_symlink_is_refused(emu: KiliEmulator, tmp_path: Path) -> None:
    store = tmp_path / "events.db"
    link = tmp_path / "other-name.db"
    events = bodies(emu, 5)
    log = tmp_path / "server.log"
    first = Server(store, emu.endpoint, emu.api_key, log, "--dry-run").wait_ready()
    try:
        link.symlink_to(store)
        second = Server(link, emu.endpoint, emu.api_key, tmp_path / "second.log")
        try:
            assert second.wait(30) != 0
        finally:
            second.stop()
        assert "used by another kili-rules server" in second.tail()
        # the first one still owns its leases and its intake
        assert Counter(post_all(first.url, events)) == {202: 5}
        assert first.wait_drained(60)["done"] == 5
    finally:
        first.stop()


def test_full_disk_turns_intake_and_status_to_store_unavailable(
    emu: KiliEmulator, tmp_path: Path
) -> None:
    store = tmp_path / "events.db"
    events = bodies(emu, 400)
    # every file the server writes is capped at 1 MiB (`ulimit -f`): the WAL fills up
    server = Server(
        store,
        emu.endpoint,
        emu.api_key,
        tmp_path / "server.log",
        "--dry-run",
        "--workers",
        "1",
        file_size=1 << 20,
    )
    try:
        server.wait_ready()
        codes = Counter(post_all(server.url, events, clients=4))
        assert codes[503] > 0, codes
        assert set(codes) <= {202, 503}, codes
        code, doc = status(server)
        assert code == 503 and doc["status"] == "store_unavailable", doc
        assert doc["refused_unavailable"] == codes[503]
        assert doc["detail"]
    finally:
        server.stop()
    # every 202 is in the file a restart opens
    journal = SQLiteJournal(store)
    try:
        stats = journal.stats()
        assert stats.pending + stats.leased + stats.done == codes[202]
    finally:
        journal.close()


def test_too_deep_label_is_a_422_with_a_reason(emu: KiliEmulator, tmp_path: Path) -> None:
    project = emu.add_project(json_interface=JSON_INTERFACE)
    asset = emu.add_asset(project)
    label = emu.add_label(asset, THREE_BOXES)
    server = Server(tmp_path / "events.db", emu.endpoint, emu.api_key, tmp_path / "server.log")
    try:
        server.wait_ready()
        for depth in (300, 960, 990, 5000):
            content = '{"JOB_0":{"annotations":[]},"extra":' + "[" * depth + "]" * depth + "}"
            body = (
                '{"eventType":"onSubmit","logPayload":{"runId":"r","projectId":'
                + json.dumps(project)
                + '},"payload":{"label":{"id":'
                + json.dumps(label)
                + ',"jsonResponse":'
                + content
                + '},"asset_id":'
                + json.dumps(asset)
                + "}}"
            )
            answer = httpx.post(server.url, content=body, headers=AUTH, timeout=10)
            # deeper than the JSON parser goes: 400; parsed but too deep to handle: 422
            assert answer.status_code in (400, 422), answer.text
            assert answer.json()["error"] in ("too_deep", "invalid_json")
            assert "deep" in answer.json()["detail"]
        assert "Traceback" not in server.tail(100_000)
    finally:
        server.stop()


def test_purge_gives_the_space_back(tmp_path: Path) -> None:
    store = tmp_path / "events.db"
    journal = SQLiteJournal(store)
    try:
        futures = [
            journal.submit(
                NewEvent(
                    key=f"k{i}",
                    project_id="p",
                    asset_id="a",
                    label_id=f"l{i}",
                    handler="on_submit",
                    event="onSubmit",
                    payload={"blob": "x" * 2000},
                )
            )
            for i in range(2000)
        ]
        for future in futures:
            future.result()
        full = os.path.getsize(store) + os.path.getsize(f"{store}-wal")
        assert journal.purge(state=State.PENDING) == 2000
        after = os.path.getsize(store) + os.path.getsize(f"{store}-wal")
        assert after < full / 10, (full, after)
    finally:
        journal.close()


def test_store_replaced_by_a_symlink_is_lost_not_written(tmp_path: Path) -> None:
    store = tmp_path / "events.db"
    other = tmp_path / "other.db"
    journal = SQLiteJournal(store, lock=True)
    try:
        first = NewEvent(
            key="k0",
            project_id="p",
            asset_id="a",
            label_id="l0",
            handler="h",
            event="e",
            payload={},
        )
        assert journal.submit(first).result().value == "accepted"
        SQLiteJournal(other).close()
        store.unlink()
        store.symlink_to(other)
        with pytest.raises(StoreUnavailable, match="replaced"):
            journal.submit(NewEvent(**{**first.__dict__, "key": "k1"})).result()
        with pytest.raises(StoreUnavailable):
            journal.stats()
    finally:
        journal.close()
    # nothing was committed into the file the path names now
    assert SQLiteJournal(other).stats().pending == 0
