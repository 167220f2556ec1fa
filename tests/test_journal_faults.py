"""Operator faults under a running ``kili-rules serve`` (a real process, the real kili client,
the emulator): a store that cannot be found again never gets an event acknowledged.

- the database files deleted while the server runs: intake 503 at once, ``/status`` a
  structured ``store_unavailable`` with the count of refused requests, no new empty file;
- a second server through a symlink to the same file: refused (the lock is on the file);
- a full disk (``ulimit -f``): 503s and ``/status`` says so, not "ok";
- a label nested too deeply: a 422 naming why, never a 500;
- the ``-shm`` truncated and deleted: no SIGBUS (the store maps nothing), the ``events``
  CLI works on the running store;
- PostgreSQL refusing connections: 503 and ``store_unavailable``, then recovery, exactly once;
- the store made read-only (as an unprivileged server): what it holds stays, what it cannot write
  is 503, ``/status`` says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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
    # every file the server writes is capped at 256 KiB (`ulimit -f`): the file fills up
    server = Server(
        store,
        emu.endpoint,
        emu.api_key,
        tmp_path / "server.log",
        "--dry-run",
        "--workers",
        "1",
        file_size=1 << 18,
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


def read_only(path: Path, on: bool) -> None:
    """Make ``path`` read-only (or writable again). Root ignores file modes, so as root the
    file is made immutable (``chattr +i``: not even root writes it); otherwise modes do it."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True)
    else:
        os.chmod(path, (0o555 if path.is_dir() else 0o444) if on else 0o755)


def test_read_only_store_is_503_and_every_202_is_kept(emu: KiliEmulator, tmp_path: Path) -> None:
    """The store's folder made read-only under a running server: no rollback journal can be
    created next to the file, so no write can commit. Intake turns to 503, ``/status`` says
    ``store_unavailable``, and every event acknowledged before is in the file."""
    folder = tmp_path / "store"
    folder.mkdir()
    store = folder / "events.db"
    events = bodies(emu, 60)
    server = Server(store, emu.endpoint, emu.api_key, tmp_path / "server.log", "--dry-run")
    try:
        server.wait_ready()
        before = Counter(post_all(server.url, events[:20], clients=2))
        assert before == {202: 20}, before
        server.wait_drained(30)
        read_only(folder, True)
        try:
            after = Counter(post_all(server.url, events[20:], clients=2))
            code, doc = status(server)
        finally:
            read_only(folder, False)
        assert set(after) <= {202, 503}, after
        assert after[503] > 0, after
        assert code == 503 and doc["status"] == "store_unavailable", doc
        assert doc["detail"] and "Traceback" not in json.dumps(doc)
        acknowledged = before[202] + after[202]
    finally:
        server.stop()
    journal = SQLiteJournal(store)
    try:
        stats = journal.stats()
        # nothing acknowledged is lost, nothing refused was half-written
        assert stats.pending + stats.leased + stats.done == acknowledged
    finally:
        journal.close()


def test_a_deep_label_is_judged_by_the_core_not_refused(emu: KiliEmulator, tmp_path: Path) -> None:
    """Depth is the core's to judge (tests/test_depth.py compares every path): a body nested
    thousands of levels is journaled (202) and processed, never a 5xx or a RecursionError;
    only past the server's resource bound (100,000 levels) is it refused, with a 422."""
    from kili_rules.webhook.envelope import MAX_DEPTH

    project = emu.add_project(json_interface=JSON_INTERFACE)
    server = Server(tmp_path / "events.db", emu.endpoint, emu.api_key, tmp_path / "server.log")
    try:
        server.wait_ready()
        labels = []
        for depth in (300, 960, 990, 5000):
            asset = emu.add_asset(project)
            label = emu.add_label(asset, THREE_BOXES)
            labels.append(label)
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
            answer = httpx.post(server.url, content=body, headers=AUTH, timeout=30)
            assert answer.status_code == 202, answer.text
        deepest = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
        answer = httpx.post(
            server.url, content='{"eventType":"onSubmit","x":' + deepest + "}", headers=AUTH
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "too_deep"
        assert f"{MAX_DEPTH} levels" in answer.json()["detail"]
        status = server.wait_drained(60)
        assert status["dead_letters"] == 0, status
        # the core's verdict, as in a batch: a job that is not an object is an unreadable label
        for label in labels:
            (issue,) = emu.issues(label_id=label)
            assert issue["text"] == (
                "This label could not be checked: jsonResponse.extra: "
                "invalid type: sequence, expected a job object. Please tell your project manager."
            ), issue
        assert "Traceback" not in server.tail(100_000)
    finally:
        server.stop()


def store_bytes(store: Path) -> int:
    """The file and whatever journal files sit beside it."""
    return sum(path.stat().st_size for path in store.parent.glob(store.name + "*"))


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
        full = store_bytes(store)
        assert journal.purge(state=State.PENDING) == 2000
        after = store_bytes(store)
        assert after < full / 10, (full, after)
        print(f"purge of 2000 events of 2 KB: {full} -> {after} bytes")
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


def events_cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", "events", *args, "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_truncated_or_deleted_shm_cannot_kill_the_server(
    emu: KiliEmulator, tmp_path: Path
) -> None:
    """A WAL store maps PATH-shm; a mapped page past the end of a truncated file is a SIGBUS
    (the server died with -7, no log line). The store keeps no -shm at all (a rollback
    journal), so truncating, deleting or planting one changes nothing; and the ``events``
    CLI still reads, replays and purges the file while the server runs."""
    store = tmp_path / "events.db"
    shm = tmp_path / "events.db-shm"
    events = bodies(emu, 30)
    server = Server(store, emu.endpoint, emu.api_key, tmp_path / "server.log", "--dry-run")
    try:
        server.wait_ready()
        assert Counter(post_all(server.url, events[:10])) == {202: 10}
        assert server.wait_drained(60)["done"] == 10
        # truncate the -shm in place (what a stale-file cleaner or a full disk does)
        with open(shm, "wb"):
            pass
        assert Counter(post_all(server.url, events[10:20])) == {202: 10}
        assert server.wait_drained(60)["done"] == 20
        shm.unlink()
        assert Counter(post_all(server.url, events[20:])) == {202: 10}
        assert server.wait_drained(60)["done"] == 30
        assert server.proc.poll() is None, server.proc.returncode
        code, doc = status(server)
        assert code == 200 and doc["status"] == "ok", doc
        # the CLI against the running store: list, show, purge, and the server goes on
        listed = events_cli(store, "list", "--limit", "1000")
        assert listed.returncode == 0, listed.stderr
        assert len(listed.stdout.splitlines()) == 30
        assert "0 pending, 0 in progress, 30 done, 0 dead" in listed.stderr
        shown = events_cli(store, "show", "1")
        assert shown.returncode == 0 and json.loads(shown.stdout)["state"] == "done"
        purged = events_cli(store, "purge", "--state", "done")
        assert purged.returncode == 0, purged.stderr
        assert purged.stdout.strip() == "30 done event(s) deleted"
        # processed keys outlive the purge: a redelivery is a duplicate, not a new run
        assert Counter(post_all(server.url, events[:5])) == {200: 5}
        assert server.status()["done"] == 0
        assert server.proc.poll() is None
        assert "Traceback" not in server.tail(100_000)
    finally:
        server.stop()


def test_postgres_outage_is_503_then_recovers_exactly_once(
    emu: KiliEmulator, tmp_path: Path, postgres_url: str
) -> None:
    """The database refuses connections (ALLOW_CONNECTIONS false, its backends terminated)
    under a running server: intake 503, /status a structured store_unavailable; once it is
    back, the server recovers by itself and every label gets its issues exactly once."""
    import psycopg
    from _postgres import fresh_database

    store = fresh_database(postgres_url, "outage")
    project = emu.add_project(json_interface=JSON_INTERFACE)
    labels: list[str] = []
    events: list[bytes] = []
    for _ in range(40):
        asset = emu.add_asset(project)
        label = emu.add_label(asset, THREE_BOXES)
        labels.append(label)
        events.append(legacy_event(project, asset, label, THREE_BOXES))
    log = tmp_path / "server.log"
    fast = ("--retry-base", "0.2", "--retry-max", "1", "--max-attempts", "100")
    server = Server(store, emu.endpoint, emu.api_key, log, *fast).wait_ready()
    admin = psycopg.connect(postgres_url, autocommit=True)
    try:
        assert Counter(post_all(server.url, events[:20])) == {202: 20}
        assert server.wait_drained(60)["done"] == 20
        admin.execute('ALTER DATABASE "outage" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'outage'"
        )
        codes = post_all(server.url, events[20:], clients=4)
        assert Counter(codes) == {503: 20}, Counter(codes)
        code, doc = status(server)
        assert code == 503 and doc["status"] == "store_unavailable", doc
        assert doc["detail"] and doc["refused_unavailable"] == 20
        assert server.proc.poll() is None
        admin.execute('ALTER DATABASE "outage" ALLOW_CONNECTIONS true')
        # Kili redelivers the refused events until one is taken
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            codes = post_all(server.url, events[20:], clients=4)
            if set(codes) <= {200, 202} and 202 in codes:
                break
            time.sleep(1)
        assert set(codes) <= {200, 202} and 202 in codes, Counter(codes)
        # and every earlier one again: all duplicates
        assert Counter(post_all(server.url, events)) == {200: 40}
        # /status names the fault for 30 s after the last failed commit (FAULT_WINDOW), then ok
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and status(server)[0] != 200:
            time.sleep(1)
        final = server.wait_drained(120)
        assert final["status"] == "ok"
        assert final["done"] == 40 and final["dead_letters"] == 0, final
        assert "Traceback" not in server.tail(1_000_000)
    finally:
        admin.execute('ALTER DATABASE "outage" ALLOW_CONNECTIONS true')
        admin.close()
        server.stop()
    per_label = Counter(issue["labelId"] for issue in emu.issues(project))
    assert dict(per_label) == {label: 2 for label in labels}
    assert len(emu.sent_back) == 40 and len(set(emu.sent_back)) == 40
