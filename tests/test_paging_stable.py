"""Assets added, removed or served again between two offset pages, injected in the emulator
(``inject_insert_between_pages``, ``inject_delete_between_pages``, ``serve_skip``): each run
either checks every asset of the project exactly once (the new one too) and says what
happened, or is not ok with an unchecked row naming it. Never ok with an asset missed or
checked twice. The real kili client against the emulator; holds on kili 26.2.1 and 26.2.4."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from _paging import BAD, CLEAN, RULES, project_of, roomy_client
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture()
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    return roomy_client(emu, monkeypatch)


def scan(kili: Any, project: str, concurrency: int = 1) -> Any:
    return RULES.validate_project(
        kili, project, page_size=100, concurrency=concurrency, disable_tqdm=True
    )


def checked_once(report: Any) -> Counter[str]:
    """How many times each asset's label was handed to the checker."""
    return Counter(asset_id for asset_id, _ in report.checked)


def listed(emu: KiliEmulator, project: str) -> list[str]:
    return [a["id"] for a in emu.assets(project)]


def test_the_emulator_inserts_before_the_offset_reached(emu: KiliEmulator, kili: Any) -> None:
    # The fault itself: the new asset is first in the listing, so the page asked at 100
    # starts one asset earlier (an asset served again) and no offset page serves the new one.
    project, ids = project_of(emu, 200)
    fault = emu.inject_insert_between_pages(100, project, [{"labels": [BAD]}], at=0)
    first = kili.assets(project_id=project, fields=["id"], first=100, skip=0, disable_tqdm=True)
    second = kili.assets(project_id=project, fields=["id"], first=100, skip=100, disable_tqdm=True)
    assert fault.hits == 1 and len(fault.added) == 1
    assert [a["id"] for a in first] == ids[:100]
    assert [a["id"] for a in second] == ids[99:199], "the insert did not shift the pages"
    assert listed(emu, project)[0] == fault.added[0]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_an_asset_inserted_before_the_offset_is_checked_exactly_once(
    emu: KiliEmulator, kili: Any, concurrency: int
) -> None:
    project, ids = project_of(emu, 350)
    # Between pages, a bad asset goes first in Kili's listing: the offset pages serve asset
    # 199 twice and the new one never (before the completion pass it was never checked).
    fault = emu.inject_insert_between_pages(200, project, [{"labels": [BAD]}], at=0)
    report = scan(kili, project, concurrency)
    assert fault.hits == 1 and len(fault.added) == 1
    counts = checked_once(report)
    assert set(counts) == set(listed(emu, project)) == set(ids) | set(fault.added)
    assert max(counts.values()) == 1, "an asset was checked twice"
    assert {r.asset_id for r in report.rows if r.rule == "one-a"} == set(fault.added)
    assert report.labels == report.assets == 351
    assert any("more than once" in n for n in report.notes), report.notes
    assert any("missing from the pages" in n for n in report.notes), report.notes
    assert any("countAssets said 350" in n and "351" in n for n in report.notes), report.notes


def test_a_clean_project_grown_mid_scan_is_ok_and_says_so(emu: KiliEmulator, kili: Any) -> None:
    # Complete, exactly-once coverage: ok is true, and the notes say the project changed.
    project, ids = project_of(emu, 250)
    fault = emu.inject_insert_between_pages(100, project, [{"labels": [CLEAN]}] * 3, at=50)
    report = scan(kili, project)
    counts = checked_once(report)
    assert set(counts) == set(ids) | set(fault.added) and max(counts.values()) == 1
    assert report.ok, report.rows
    # missing from the offset pages: the 3 new ones, and the last 3, pushed past the count
    assert any("6 asset(s) were missing from the pages" in n for n in report.notes), report.notes
    assert any("3 asset(s) more than once" in n for n in report.notes), report.notes


def test_an_asset_deleted_before_the_offset_hides_no_neighbour(
    emu: KiliEmulator, kili: Any
) -> None:
    project, ids = project_of(emu, 150, 150)
    # Two read assets go before the page at 200: the pages shift up by two, so assets 200
    # and 201 (bad ones) would never be served by an offset page.
    emu.inject_delete_between_pages(200, ids[:2])
    report = scan(kili, project)
    counts = checked_once(report)
    assert set(counts) == set(ids), "an asset the shift hid was not checked"
    assert max(counts.values()) == 1
    assert {r.asset_id for r in report.rows if r.rule == "one-a"} == set(ids[150:])
    assert any("2 asset(s) were missing from the pages" in n for n in report.notes)


def test_an_asset_deleted_ahead_of_the_scan_is_not_reported_as_checked(
    emu: KiliEmulator, kili: Any
) -> None:
    project, ids = project_of(emu, 300)
    emu.inject_delete_between_pages(100, [ids[250]])  # not read yet: gone before its page
    report = scan(kili, project)
    counts = checked_once(report)
    assert set(counts) == set(ids) - {ids[250]} and max(counts.values()) == 1
    assert any("countAssets said 300" in n and "299" in n for n in report.notes), report.notes


def test_the_same_page_served_twice_is_read_once_and_the_hidden_page_by_id(
    emu: KiliEmulator, kili: Any
) -> None:
    project, ids = project_of(emu, 200, 100)
    fault = emu.inject_page_fault(200, serve_skip=100)  # page 100-199 again, 200-299 never
    report = scan(kili, project, concurrency=4)
    assert fault.hits == 1
    counts = checked_once(report)
    assert set(counts) == set(ids) and max(counts.values()) == 1
    assert {r.asset_id for r in report.rows if r.rule == "one-a"} == set(ids[200:])
    assert any("100 asset(s) more than once" in n for n in report.notes), report.notes


def test_assets_that_keep_appearing_make_the_run_not_ok_naming_it(
    emu: KiliEmulator, kili: Any
) -> None:
    project, _ = project_of(emu, 150)
    # Every read at offset 0 (the first page, then each read-by-id round of the completion
    # pass) is answered after one more asset was inserted first: the scan can never finish.
    fault = emu.inject_insert_between_pages(0, project, [{"labels": [CLEAN]}], at=0, calls=50)
    report = scan(kili, project)
    assert not report.ok, "a scan that could not read every asset was ok"
    unchecked = [r for r in report.rows if r.kind == "unchecked"]
    assert len(unchecked) == 1 and unchecked[0].asset_id is None
    assert "not read, so not checked" in unchecked[0].text
    assert "kept appearing" in unchecked[0].text, unchecked[0].text
    counts = checked_once(report)
    assert max(counts.values()) == 1, "an asset was checked twice"
    assert 0 < fault.hits < 50


def test_an_insert_position_past_the_listing_is_refused_naming_it(emu: KiliEmulator) -> None:
    from kili_rules.testing import EmulatorError

    project, ids = project_of(emu, 3)
    with pytest.raises(EmulatorError, match=r"at=4: the project has 3 asset\(s\)"):
        emu.add_assets(project, [{"labels": [CLEAN]}], at=4)
    assert listed(emu, project) == ids, "a refused insert changed the listing"
    new = emu.add_assets(project, [{"labels": [CLEAN]}], at=3)
    assert listed(emu, project) == ids + new
