"""The journal's semantics, the same on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules.journal import (
    FETCH_DIGEST,
    Added,
    Journal,
    JournalSteps,
    LeaseLost,
    NewEvent,
    SQLiteJournal,
    State,
    StoreBusy,
    content_digest,
    event_key,
    open_journal,
)


def new(key: str, label: str = "l") -> NewEvent:
    return NewEvent(
        key=key,
        project_id="p",
        asset_id="a-" + label,
        label_id=label,
        handler="on_submit",
        event="onSubmit",
        payload={"id": label, "jsonResponse": {"JOB": {}}},
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "events.db")
    else:
        from _postgres import fresh_database

        url = request.getfixturevalue("postgres_url")
        yield fresh_database(url, "j" + uuid.uuid4().hex[:12])


@pytest.fixture
def opened(store: str) -> Iterator[Any]:
    journals: list[Journal] = []

    def make(**options: Any) -> Journal:
        journal = open_journal(store, **options)
        journals.append(journal)
        return journal

    yield make
    for journal in journals:
        journal.close()


def test_submit_is_idempotent_and_bounded(opened: Any) -> None:
    journal = opened(max_backlog=3)
    answers = [journal.submit(new(f"k{i % 4}", f"l{i % 4}")).result() for i in range(6)]
    assert answers == [Added.ACCEPTED] * 3 + [Added.FULL, Added.DUPLICATE, Added.DUPLICATE]
    stats = journal.stats()
    assert (stats.pending, stats.backlog, stats.done) == (3, 3, 0)


def test_many_submits_are_group_committed(opened: Any) -> None:
    journal = opened()
    futures = [journal.submit(new(f"k{i}", f"l{i}")) for i in range(2000)]
    assert {f.result(timeout=60) for f in futures} == {Added.ACCEPTED}
    assert journal.stats().pending == 2000


def test_leases_are_exclusive_and_expire(opened: Any) -> None:
    first, second = opened(), opened()
    for i in range(10):
        first.submit(new(f"k{i}", f"l{i}")).result()
    a = first.lease("owner-a", 6, lease_seconds=0.5)
    b = second.lease("owner-b", 6, lease_seconds=30)
    assert len(a) == 6 and len(b) == 4
    assert not {e.id for e in a} & {e.id for e in b}
    assert second.lease("owner-b", 6, lease_seconds=30) == []
    time.sleep(0.6)  # owner-a "died": its leases expire and another worker takes them
    again = second.lease("owner-b", 10, lease_seconds=30)
    assert sorted(e.id for e in again) == sorted(e.id for e in a)
    assert all(e.attempts == 2 for e in again)
    with pytest.raises(LeaseLost):
        first.complete(a[0].id, "owner-a", {})
    second.complete(a[0].id, "owner-b", {"ok": True})
    assert first.get(a[0].id).state is State.DONE  # type: ignore[union-attr]


def test_a_stalled_worker_is_fenced_before_its_next_write(opened: Any) -> None:
    """A worker whose lease lapsed (stalled, not dead) must not make the Kili write the new
    holder also makes: ``hold()`` (called right before each write) raises LeaseLost."""
    first, second = opened(), opened()
    first.submit(new("k0")).result()
    (stalled,) = first.lease("owner-a", 1, lease_seconds=0.3)
    steps_a = JournalSteps(first, stalled, "owner-a", 0.3)
    steps_a.hold()  # still ours: renewed
    time.sleep(0.4)
    (taken,) = second.lease("owner-b", 1, lease_seconds=30)
    assert taken.id == stalled.id
    with pytest.raises(LeaseLost):
        steps_a.hold()
    JournalSteps(second, taken, "owner-b", 30).hold()  # the new holder goes on


def test_steps_survive_and_failures_go_to_retry_then_dead(opened: Any) -> None:
    journal = opened()
    journal.submit(new("k")).result()
    (event,) = journal.lease("w", 1, 30)
    steps = JournalSteps(journal, event, "w", 30)
    steps.put("issues", ["i1", "i2"])
    journal.retry(event.id, "w", "GraphQLError: down", time.time() + 0.2)
    assert journal.lease("w", 1, 30) == []  # not due yet
    time.sleep(0.25)
    (again,) = journal.lease("w", 1, 30)
    assert again.steps == {"issues": ["i1", "i2"]} and again.attempts == 2
    assert JournalSteps(journal, again, "w", 30).get("issues") == ["i1", "i2"]
    journal.bury(again.id, "w", "still down")
    stats = journal.stats()
    assert stats.dead == 1 and stats.last_error == "still down" and stats.backlog == 0
    assert journal.replay(state=State.DEAD) == 1
    (replayed,) = journal.lease("w", 1, 30)
    assert replayed.attempts == 1 and replayed.steps == {"issues": ["i1", "i2"]}
    journal.release([replayed.id], "w")
    assert journal.get(replayed.id).state is State.PENDING  # type: ignore[union-attr]


def test_purge_and_retention(opened: Any) -> None:
    journal = opened(retention_days=1)
    for i in range(3):
        journal.submit(new(f"k{i}", f"l{i}")).result()
    for event in journal.lease("w", 2, 30):
        journal.complete(event.id, "w", {})
    assert journal.purge(state=State.DONE, older_than_seconds=3600) == 0
    assert journal.purge(state=State.DONE) == 2
    with pytest.raises(ValueError, match="leased"):
        journal.purge(state=State.LEASED)
    # the body of a processed event is gone, its key is not: redelivered or replayed, it
    # is a duplicate and never acts again
    assert journal.list(state=State.DONE) == []
    assert journal.submit(new("k0", "l0")).result() is Added.DUPLICATE
    assert journal.submit(new("k1", "l1")).result() is Added.DUPLICATE
    # a purged event never processed was not acted on: the same event is accepted again
    assert journal.purge(state=State.PENDING) == 1
    assert journal.submit(new("k2", "l2")).result() is Added.ACCEPTED


def test_sqlite_store_serves_one_process(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    first = SQLiteJournal(path, lock=True)
    try:
        with pytest.raises(StoreBusy, match="another kili-rules server"):
            SQLiteJournal(path, lock=True)
        first.submit(new("k")).result()
        first.lease("dead-process", 1, 3600)
        assert first.release_all_leases() == 1
        assert first.stats().pending == 1
    finally:
        first.close()
    SQLiteJournal(path, lock=True).close()  # free again


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SQLiteJournal(tmp_path / "nope" / "events.db")


def test_content_digest_separates_contents() -> None:
    a = content_digest({"id": "l", "jsonResponse": {"JOB": {"x": 1, "y": 2}}})
    same = content_digest({"id": "l", "jsonResponse": '{"JOB": {"y": 2, "x": 1}}'})
    other = content_digest({"id": "l", "jsonResponse": {"JOB": {"x": 1}}})
    assert a == same != other
    assert content_digest({"id": "l"}) == FETCH_DIGEST == content_digest({"jsonResponse": {}})
    assert event_key("p", "l", "f", a) != event_key("p", "l", "f", other)


def test_events_command_lists_shows_replays_and_purges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kili_rules.cli import main

    path = tmp_path / "events.db"
    journal = SQLiteJournal(path)
    try:
        for i in range(3):
            journal.submit(new(f"k{i}", f"l{i}")).result()
        first, second, _third = journal.lease("w", 3, 30)
        journal.bury(first.id, "w", "GraphQLError: boom")
        journal.complete(second.id, "w", {"issues": 0})
    finally:
        journal.close()
    store = ["--store", str(path)]
    assert main(["events", "list", "--state", "dead", *store]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{first.id}\tdead\t1\tp\ta-l0\tl0\tonSubmit  GraphQLError: boom"]
    assert "1 dead" in err
    assert main(["events", "show", str(second.id), *store]) == 0
    assert '"result": {\n    "issues": 0\n  }' in capsys.readouterr().out
    assert main(["events", "show", "999", *store]) == 2
    assert "no event with id 999" in capsys.readouterr().err
    assert main(["events", "replay", "--state", "dead", *store]) == 0
    assert capsys.readouterr().out == "1 event(s) pending again\n"
    assert main(["events", "purge", "--state", "done", *store]) == 0
    assert capsys.readouterr().out == "1 done event(s) deleted\n"
    assert main(["events", "purge", *store]) == 2
    assert main(["events", "list", "--store", str(tmp_path / "none.db")]) == 2
    assert "no event journal" in capsys.readouterr().err
