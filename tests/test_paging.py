"""Kili paging that misbehaves never gives a false OK: pages served twice or shifted, assets
added or deleted between pages, Retry-After, the API key's destination, and a createIssues
that answers more than it saved. The real kili client against the emulator's injected faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from _paging import BAD, RULES, project_of, roomy_client
from kili_rules.kili.project import GraphQLPoster, ProjectError
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture()
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    return roomy_client(emu, monkeypatch)


def scan(kili: Any, project: str, **kw: Any) -> Any:
    return RULES.validate_project(
        kili, project, page_size=200, concurrency=1, disable_tqdm=True, **kw
    )


def flagged(report: Any) -> set[str]:
    return {r.asset_id for r in report.rows if r.rule == "one-a"}


def test_a_page_served_twice_still_reads_every_asset(emu: KiliEmulator, kili: Any) -> None:
    project, ids = project_of(emu, 400, 200)
    # The page asked at 400 (the bad assets) is answered with the page at 200 again.
    fault = emu.inject_page_fault(400, serve_skip=200)
    report = scan(kili, project)
    assert fault.hits == 1
    assert flagged(report) == set(ids[400:]), "the assets the repeated page hid were not read"
    assert report.labels == 600 and report.assets == 600, "an asset was counted twice"
    assert any("more than once" in n for n in report.notes), report.notes


def test_an_asset_deleted_between_pages_does_not_hide_its_neighbour(
    emu: KiliEmulator, kili: Any
) -> None:
    project, ids = project_of(emu, 250, 150)
    # Before the second page, the first asset goes: every later asset shifts one place up,
    # so the offset page would skip asset 200 (one of the checked ones).
    gone = ids[0]
    emu.inject_page_fault(200, before=lambda: emu.delete_assets([gone]))
    report = scan(kili, project)
    assert flagged(report) == set(ids[250:])
    # The first asset was read before it went: all 400 were checked, none twice.
    assert report.labels == 400
    assert any("missing from the pages" in n for n in report.notes), report.notes


def test_an_asset_added_mid_scan_is_checked_once(emu: KiliEmulator, kili: Any) -> None:
    project, ids = project_of(emu, 300, 100)
    added: list[str] = []
    emu.inject_page_fault(
        200, before=lambda: added.extend(emu.add_assets(project, [{"labels": [BAD]}]))
    )
    report = scan(kili, project)
    assert len(added) == 1
    assert flagged(report) == set(ids[300:]) | set(added)
    rows_per_asset = [r.asset_id for r in report.rows if r.rule == "one-a"]
    assert len(rows_per_asset) == len(set(rows_per_asset)), "an asset was checked twice"


def test_retry_after_is_honoured_within_the_budget(emu: KiliEmulator, kili: Any) -> None:
    project, ids = project_of(emu, 10, 2)
    # Rate-limited for 1.5 s with Retry-After: 1; two retries of the old backoff (0.25 s,
    # 0.5 s) would have given up before the limit lifts.
    emu.inject_fault("assets", "http", status=429, retry_after=1, seconds=1.5)
    t0 = time.monotonic()
    report = scan(kili, project, max_retries=2)
    assert time.monotonic() - t0 >= 1.0
    assert flagged(report) == set(ids[10:])


def test_a_retry_after_past_the_budget_fails_naming_it(emu: KiliEmulator, kili: Any) -> None:
    project, _ = project_of(emu, 5, 0)
    emu.inject_fault("assets", "http", status=429, retry_after=20, calls=1)
    t0 = time.monotonic()
    with pytest.raises(ProjectError, match="max_wait"):
        scan(kili, project, max_wait=5)
    assert time.monotonic() - t0 < 5, "it waited for an answer it knew would come too late"


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://kili.example.com/api/label/v2/files?id=1", True),
        ("https://kili.example.com/api/label/v2", True),
        ("https://kili.example.com/other/files", False),
        ("https://kili.example.com.evil.invalid/api/label/v2/files", False),
        ("https://kili.example.com@evil.invalid/api/label", False),
        ("https://user:pw@kili.example.com/api/label", False),
        ("http://kili.example.com/api/label", False),
        ("https://kili.example.com:8443/api/label", False),
        ("https://kili.example.com/api/label/v2extra/files", False),
        ("https://kili.example.com:bad/api", False),
    ],
)
def test_the_api_key_goes_only_to_kilis_own_api(url: str, sent: bool) -> None:
    poster = GraphQLPoster(endpoint="https://kili.example.com/api/label/v2/graphql", api_key="k")
    assert poster.sends_key_to(url) is sent


def test_a_create_issues_that_saves_less_than_it_answers_fails_then_heals(
    emu: KiliEmulator, kili: Any
) -> None:
    project, ids = project_of(emu, 0, 3)
    report = scan(kili, project)
    assert flagged(report) == set(ids)
    emu.inject_lost_write("createIssues", drop=1)
    first = report.apply(kili, project_id=project, dry_run=False)
    assert not first.ok, "a write Kili did not keep was reported as done"
    assert any("missing" in message for _, message in first.failed), first.failed
    assert len(emu.issues(project, status="OPEN")) == 2
    second = report.apply(kili, project_id=project, dry_run=False)
    assert second.ok, second.failed
    assert second.count("create_issue") == 1, str(second)
    assert len(emu.issues(project, status="OPEN")) == 3
    third = report.apply(kili, project_id=project, dry_run=False)
    assert third.count("create_issue") == 0


def test_a_count_that_lies_low_every_time_is_not_ok(emu: KiliEmulator, kili: Any) -> None:
    project, ids = project_of(emu, 300, 100)
    # Every countAssets answers 100 fewer than Kili holds: the total and the "nothing left
    # unread" check agree with each other, and the 100 bad assets would be left unread.
    emu.inject_count_fault(-100, calls=None)
    report = scan(kili, project)
    assert flagged(report) == set(ids[300:]), "the assets the count hid were not read"
    assert not report.ok, "a total that did not match the assets Kili served was ok"
    assert any("countAssets" in n for n in report.notes), report.notes
