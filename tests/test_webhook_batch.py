"""The batched workers of ``kili-rules serve``: many pending events share their Kili calls,
and every event is still acted on exactly once. The real server process, the real kili
client (with the SDK's own 500-calls-a-minute limiter) and the emulator; real signals.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kili")
pytest.importorskip("uvicorn")

from _server import JSON_INTERFACE, THREE_BOXES, Server, legacy_event, post_all
from kili_rules.journal import LeaseLost, NewEvent, SQLiteJournal, State, StepBatch
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e

PASSING: dict[str, Any] = {"JOB_0": {"annotations": []}}


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


class Labels:
    """``n`` labels on their own assets; every ``fail_every``-th fails (2 issues, a
    send-back), the others pass."""

    def __init__(self, emu: KiliEmulator, n: int, fail_every: int) -> None:
        self.emu = emu
        self.project = emu.add_project(json_interface=JSON_INTERFACE)
        self.bodies: list[bytes] = []
        self.failing: list[tuple[str, str]] = []
        for i in range(n):
            content = THREE_BOXES if i % fail_every == 0 else PASSING
            asset = emu.add_asset(self.project)
            label = emu.add_label(asset, content)
            self.bodies.append(legacy_event(self.project, asset, label, content))
            if content is THREE_BOXES:
                self.failing.append((asset, label))

    def assert_exactly_once(self) -> None:
        per_label = Counter(issue["labelId"] for issue in self.emu.issues(self.project))
        expected = {label: 2 for _asset, label in self.failing}
        wrong = {
            k: (per_label.get(k, 0), expected.get(k, 0))
            for k in set(per_label) | set(expected)
            if per_label.get(k, 0) != expected.get(k, 0)
        }
        assert not wrong, f"{len(wrong)} label(s) with (got, expected) issues: {wrong}"
        assert dict(Counter(self.emu.sent_back)) == {a: 1 for a, _l in self.failing}


def backlog_in(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        row = conn.execute(
            "SELECT count(*) FROM kili_rules_events WHERE state IN ('pending', 'leased')"
        ).fetchone()
    return int(row[0])


@pytest.mark.parametrize("fetch", [False, True], ids=["inline", "fetch-labels"])
def test_200_events_are_acted_on_once_with_batched_kili_calls(
    emu: KiliEmulator, tmp_path: Path, fetch: bool
) -> None:
    labels = Labels(emu, 200, fail_every=4)  # 50 failing: 100 issues, 50 send-backs
    server = Server(
        tmp_path / "events.db", emu.endpoint, emu.api_key, tmp_path / "server.log",
        "--workers", "2", "--batch-size", "50", "--batch-wait", "0.5",
        *(["--fetch-labels"] if fetch else []),
    ).wait_ready()  # fmt: skip
    try:
        time.sleep(2)  # the client is built in the background: its start-up calls first
        before = len(emu.requests)
        assert Counter(post_all(server.url, labels.bodies)) == {202: 200}
        status = server.wait_drained(120)
        calls = Counter(emu.requests[before:])
        assert status["done"] == 200 and status["dead_letters"] == 0, status
        labels.assert_exactly_once()
        workers = status["workers"]
        assert workers["batches"] >= 1 and workers["batched"] >= 100, workers
        # one event at a time would cost one open-issues read, one asset read and one
        # metadata write per event and one createIssues and one send-back per failing one
        assert calls["issues"] <= 20, calls
        # with --fetch-labels, the labels come with one more asset read per batch
        assert calls["assets"] <= (40 if fetch else 20), calls
        assert calls["labels"] == 0, calls  # never one label fetch per event
        assert calls["createIssues"] <= 10, calls
        assert calls["sendAssetsBackToQueue"] <= 10, calls
        assert sum(calls.values()) <= 120, calls
        # a redelivery of every event is a duplicate: nothing acted again
        assert Counter(post_all(server.url, labels.bodies)) == {200: 200}
        server.wait_drained(30)
    finally:
        server.stop()
    labels.assert_exactly_once()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


@pytest.mark.parametrize("operation", ["createIssues", "sendAssetsBackToQueue"])
def test_kill9_mid_batch_then_restart_acts_exactly_once(
    emu: KiliEmulator, tmp_path: Path, operation: str
) -> None:
    """Kili applies a batch's shared write, then the server is killed before the answer
    comes back (nothing of it recorded in the journal); the restart does each event once."""
    labels = Labels(emu, 120, fail_every=2)
    store = tmp_path / "events.db"
    args = (store, emu.endpoint, emu.api_key, tmp_path / "server.log")
    held = emu.inject_fault(operation, "timeout", calls=1, delay=8, applied=True)
    first = Server(*args, "--workers", "1", "--batch-size", "40", "--batch-wait", "1").wait_ready()
    try:
        assert Counter(post_all(first.url, labels.bodies)) == {202: 120}
        emu.wait_until(lambda: held.hits >= 1, 60, f"a {operation} call")
        time.sleep(0.5)  # it is applied, and its answer held
        landed = len(emu.issues(labels.project)) if operation == "createIssues" else None
        moved = len(emu.sent_back)
        first.kill(signal.SIGKILL)
    finally:
        first.stop()
    # the batch was in flight: one shared call had acted for several events
    if operation == "createIssues":
        assert landed is not None and landed >= 4, landed
    else:
        assert moved >= 2, moved
    assert backlog_in(store) > 0
    emu.clear_faults()

    second = Server(*args, "--workers", "2").wait_ready()
    try:
        status = second.wait_drained(120)
        assert status["done"] == 120 and status["dead_letters"] == 0, status
        labels.assert_exactly_once()
        assert Counter(post_all(second.url, labels.bodies)) == {200: 120}
        second.wait_drained(30)
    finally:
        second.stop()
    labels.assert_exactly_once()


def test_an_event_that_fails_its_batch_fails_alone(emu: KiliEmulator, tmp_path: Path) -> None:
    """One event names an asset the project does not hold: the batch's shared asset read
    refuses it, the batch's events go on one by one, and only that event is a dead letter."""
    labels = Labels(emu, 40, fail_every=2)
    other = emu.add_project(json_interface=JSON_INTERFACE)
    stranger = emu.add_asset(other)  # exists, but in another project
    poison = legacy_event(labels.project, stranger, "no-such-label", THREE_BOXES)
    server = Server(
        tmp_path / "events.db", emu.endpoint, emu.api_key, tmp_path / "server.log",
        "--workers", "1", "--batch-size", "50", "--batch-wait", "1",
    ).wait_ready()  # fmt: skip
    try:
        assert Counter(post_all(server.url, [poison, *labels.bodies])) == {202: 41}
        status = server.wait_drained(120)
        assert status["done"] == 40 and status["dead_letters"] == 1, status
        assert status["workers"]["unbatched"] >= 2, status["workers"]
        labels.assert_exactly_once()
    finally:
        server.stop()
    assert "a batch of" in (tmp_path / "server.log").read_text()


# ---- the journal side of a batch (no server) ----------------------------------------------


def _submit(journal: SQLiteJournal, n: int) -> None:
    for i in range(n):
        journal.submit(
            NewEvent(f"k{i}", "p", f"a{i}", f"l{i}", "on_submit", "onSubmit", {"id": f"l{i}"})
        ).result()


def test_a_batch_records_each_events_steps_and_completes_them_together(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "events.db")
    try:
        _submit(journal, 5)
        events = journal.lease("owner-a", 5, lease_seconds=30)
        batch = StepBatch(journal, events, "owner-a", 30)
        for event in events:
            batch.logs[event.id].put("plan", {"moves": [event.label_id]})
        batch.logs[events[0].id].put("issues", {"created": ["i1"]})
        batch.hold()  # waits for every queued step: they are in the store now
        stored = {e.id: journal.get(e.id).steps for e in events}  # type: ignore[union-attr]
        assert stored[events[0].id] == {"plan": {"moves": ["l0"]}, "issues": {"created": ["i1"]}}
        assert all(stored[e.id] == {"plan": {"moves": [e.label_id]}} for e in events[1:])
        assert batch.steps_of(events[0]).steps == stored[events[0].id]
        lost = journal.complete_many([(e.id, {"ok": e.id}) for e in events], "owner-a")
        assert lost == []
        assert all(journal.get(e.id).state is State.DONE for e in events)  # type: ignore[union-attr]
        # done keys are recorded: a redelivery is a duplicate
        assert journal.stats().done == 5
    finally:
        journal.close()


def test_a_batch_whose_lease_was_taken_stops_before_its_next_write(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "events.db")
    try:
        _submit(journal, 3)
        events = journal.lease("owner-a", 3, lease_seconds=0.3)
        batch = StepBatch(journal, events, "owner-a", 0.3)
        time.sleep(0.4)  # owner-a stalled: its leases lapse and owner-b takes them
        taken = journal.lease("owner-b", 3, lease_seconds=30)
        assert len(taken) == 3
        with pytest.raises(LeaseLost):
            batch.hold()
        batch.logs[events[0].id].put("plan", {"moves": []})
        with pytest.raises(LeaseLost):
            batch.flush()  # the stalled batch's step is refused, not written over owner-b's
        assert journal.get(events[0].id).steps == {}  # type: ignore[union-attr]
        lost = journal.complete_many([(e.id, {}) for e in events], "owner-a")
        assert sorted(lost) == sorted(e.id for e in events)
        assert journal.stats().leased == 3  # still owner-b's
    finally:
        journal.close()
