"""Every event that got a 2xx is checked exactly once: the real server process (``python -m
kili_rules.cli serve``) on a journal, the real kili client, the emulator, real signals.

Each label is either failing (three boxes: 2 issues and a send-back) or passing (no issue);
after every scenario the emulator must hold exactly the expected issues and send-backs.
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

from _server import JSON_INTERFACE, THREE_BOXES, Server, blast, legacy_event, post_all
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e

PASSING: dict[str, Any] = {"JOB_0": {"annotations": []}}
FAST_RETRY = ("--retry-base", "0.2", "--retry-max", "1", "--max-attempts", "100")


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


class Scenario:
    """``n`` labels on their own assets; every ``fail_every``-th fails the rules."""

    def __init__(self, emu: KiliEmulator, n: int, fail_every: int = 4) -> None:
        self.emu = emu
        self.project = emu.add_project(json_interface=JSON_INTERFACE)
        self.bodies: list[bytes] = []
        self.failing: list[tuple[str, str]] = []  # (asset, label)
        for i in range(n):
            content = THREE_BOXES if i % fail_every == 0 else PASSING
            asset = emu.add_asset(self.project)
            label = emu.add_label(asset, content)
            self.bodies.append(legacy_event(self.project, asset, label, content))
            if content is THREE_BOXES:
                self.failing.append((asset, label))

    def assert_exactly_once(self, *, resent_declined: bool = False) -> None:
        """Issues exactly as expected; one send-back per failing asset. With
        ``resent_declined``, a send-back whose answer was lost may have been sent again:
        Kili declines it (the asset is already in the queue), so only the asset's state
        is checked for those."""
        issues = self.emu.issues(self.project)
        per_label = Counter(issue["labelId"] for issue in issues)
        expected = {label: 2 for _asset, label in self.failing}
        assert dict(per_label) == expected, _diff(per_label, expected)
        sent_back = Counter(self.emu.sent_back)
        if resent_declined:
            assert set(sent_back) == {asset for asset, _label in self.failing}
            for asset, _label in self.failing:
                assert self.emu.asset(asset)["status"] == "ONGOING"
        else:
            assert dict(sent_back) == {asset: 1 for asset, _label in self.failing}


def _diff(got: Counter[str], expected: dict[str, int]) -> str:
    wrong = {k: (got.get(k, 0), expected.get(k, 0)) for k in set(got) | set(expected)}
    bad = {k: v for k, v in wrong.items() if v[0] != v[1]}
    return f"{len(bad)} label(s) with wrong issue counts (got, expected): {list(bad.items())[:10]}"


def backlog_in(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        row = conn.execute(
            "SELECT count(*) FROM kili_rules_events WHERE state IN ('pending', 'leased')"
        ).fetchone()
    return int(row[0])


@pytest.mark.slow
def test_kill9_and_sigterm_with_500_held_events_lose_and_double_nothing(
    emu: KiliEmulator, tmp_path: Path
) -> None:
    store = tmp_path / "events.db"
    scenario = Scenario(emu, 540)
    args = (store, emu.endpoint, emu.api_key, tmp_path / "server.log")

    # the first two servers drain one event at a time (slowly), so that events are still
    # held at each signal; the third drains in batches what they left
    one_by_one = ("--batch-size", "1")
    first = Server(*args, "--workers", "1", *one_by_one).wait_ready()
    try:
        codes = post_all(first.url, scenario.bodies)
        assert Counter(codes) == {202: 540}
        first.kill(signal.SIGKILL)
    finally:
        first.stop()
    held = backlog_in(store)
    assert held >= 500, f"only {held} events were held at kill -9"

    second = Server(*args, "--workers", "2", *one_by_one).wait_ready()
    try:
        deadline = time.monotonic() + 60
        while second.status()["done"] < 60 and time.monotonic() < deadline:
            time.sleep(0.2)
        # Kili redelivers everything while the server works: all duplicates, none re-run.
        assert Counter(post_all(second.url, scenario.bodies)) == {200: 540}
        # uvicorn shuts down gracefully, then re-raises the signal (exit status -15)
        assert second.kill(signal.SIGTERM) in (0, -signal.SIGTERM)
    finally:
        second.stop()
    held = backlog_in(store)
    assert held > 0, "SIGTERM came too late to leave events in the journal"
    log = (tmp_path / "server.log").read_text()
    assert "Application shutdown complete" in log and "Traceback" not in log

    third = Server(*args, "--workers", "4").wait_ready()
    try:
        status = third.wait_drained(240)
        assert status["done"] == 540 and status["dead_letters"] == 0
        scenario.assert_exactly_once()
        # restart and redelivery of every event: zero new issues
        assert Counter(post_all(third.url, scenario.bodies)) == {200: 540}
        third.wait_drained(30)
    finally:
        third.stop()
    scenario.assert_exactly_once()


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(
            [
                ("createIssues", "error", {"calls": 6}),
                ("sendAssetsBackToQueue", "error", {"calls": 6}),
                ("labels", "error", {"calls": 6}),
            ],
            id="graphql-errors",
        ),
        pytest.param(
            [
                ("createIssues", "refuse", {"calls": 6}),
                ("sendAssetsBackToQueue", "refuse", {"calls": 6}),
                ("labels", "refuse", {"calls": 12}),
            ],
            id="refused-connections",
        ),
        pytest.param(
            [
                ("createIssues", "timeout", {"calls": 4, "delay": 1.5, "applied": True}),
                ("sendAssetsBackToQueue", "timeout", {"calls": 4, "delay": 1.5, "applied": True}),
                ("labels", "timeout", {"calls": 4, "delay": 1.5}),
            ],
            id="answers-after-the-client-timeout",
        ),
    ],
)
def test_kili_faults_then_recovery_process_everything_exactly_once(
    emu: KiliEmulator, tmp_path: Path, faults: list[tuple[str, str, dict[str, Any]]]
) -> None:
    scenario = Scenario(emu, 24, fail_every=2)
    server = Server(
        tmp_path / "events.db",
        emu.endpoint,
        emu.api_key,
        tmp_path / "server.log",
        "--workers",
        "4",
        "--fetch-labels",  # every event fetches its label: the fetch is faulted too
        "--kili-timeout",
        "1",
        *FAST_RETRY,
    ).wait_ready()
    try:
        injected = [
            emu.inject_fault(operation, kind, **options) for operation, kind, options in faults
        ]
        assert Counter(post_all(server.url, scenario.bodies)) == {202: 24}
        status = server.wait_drained(120)
        assert all(fault.hits > 0 for fault in injected), [f.hits for f in injected]
        assert status["done"] == 24 and status["dead_letters"] == 0
        assert status["status"] == "ok"
        lost_answers = any(options.get("applied") for _o, _k, options in faults)
        scenario.assert_exactly_once(resent_declined=lost_answers)
        assert Counter(post_all(server.url, scenario.bodies)) == {200: 24}
        server.wait_drained(30)
    finally:
        server.stop()
    scenario.assert_exactly_once(resent_declined=lost_answers)


def test_postgres_two_servers_share_the_store_and_one_is_killed(
    emu: KiliEmulator, tmp_path: Path, postgres_url: str
) -> None:
    from _postgres import fresh_database

    store = fresh_database(postgres_url, "durability")
    scenario = Scenario(emu, 200)
    common = ("--workers", "2", "--lease-seconds", "2", *FAST_RETRY)
    a = Server(store, emu.endpoint, emu.api_key, tmp_path / "a.log", *common).wait_ready()
    b = Server(store, emu.endpoint, emu.api_key, tmp_path / "b.log", *common).wait_ready()
    try:
        halves = (scenario.bodies[::2], scenario.bodies[1::2])
        assert Counter(post_all(a.url, halves[0])) == {202: 100}
        assert Counter(post_all(b.url, halves[1])) == {202: 100}
        deadline = time.monotonic() + 60
        while b.status()["done"] < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        a.kill(signal.SIGKILL)  # mid-run, holding leases
        status = b.wait_drained(180)
        assert status["done"] == 200 and status["dead_letters"] == 0
        # every event redelivered to the survivor: all duplicates
        assert Counter(post_all(b.url, scenario.bodies)) == {200: 200}
    finally:
        a.stop()
        b.stop()
    scenario.assert_exactly_once()


@pytest.mark.slow
def test_20000_distinct_events_then_all_redelivered_are_processed_once(
    emu: KiliEmulator, tmp_path: Path
) -> None:
    """Passing labels without reconciliation need no Kili call, which keeps the Kili side
    free; each event processed logs one decision line, and the journal counts them:
    20,000 each, and the redelivery adds none."""
    n = 20_000
    bodies = [legacy_event("project-big", f"asset-{i}", f"label-{i}", PASSING) for i in range(n)]
    server = Server(
        tmp_path / "events.db",
        emu.endpoint,
        emu.api_key,
        tmp_path / "server.log",
        "--no-reconcile",
        "--workers",
        "16",  # cheap events: many workers share each group commit
    ).wait_ready()
    try:
        statuses, _ = blast(server.url, bodies, clients=32)
        assert Counter(statuses) == {202: n}
        server.wait_drained(300)
        statuses, _ = blast(server.url, bodies, clients=32)
        assert Counter(statuses) == {200: n}
        status = server.wait_drained(60)
        assert status["done"] == n and status["workers"]["processed"] == n
        assert status["requests"] == {
            "accepted": n,
            "duplicates": n,
            "refused_full": 0,
            "refused_unavailable": 0,
            "rejected": 0,
            "ignored": 0,
        }
    finally:
        server.stop()
    decisions = server.log.read_text().count('"msg": "kili-rules decision"')
    assert decisions == n
    # dry run: nothing written, and no Kili call but serve's key check at start
    assert emu.issues() == [] and emu.sent_back == [] and emu.requests == ["viewer"]
