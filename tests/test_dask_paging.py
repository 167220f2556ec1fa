"""The Dask project path pages shards by offset; the shards together must cover every asset
exactly once, or the run is not ok and the failure names the shard. The real kili client
against the emulator's injected page faults, on a real LocalCluster (2 processes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("dask.distributed")  # the [dask] extra

from _paging import BAD, CLEAN, RULES
from dask.distributed import Client, LocalCluster
from kili_rules.dask import validate_project
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


@pytest.fixture()
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[KiliEmulator]:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    with KiliEmulator() as emulator:
        yield emulator


def project_of(emu: KiliEmulator) -> tuple[str, list[str]]:
    """300 clean assets, then 100 bad ones (offsets 300-399)."""
    project = emu.add_project()
    ids = emu.add_assets(
        project, [{"labels": [CLEAN]} for _ in range(300)] + [{"labels": [BAD]} for _ in range(100)]
    )
    return project, ids


def test_clean_shards_cover_every_asset_once(client: Client, emu: KiliEmulator) -> None:
    project, ids = project_of(emu)
    result = validate_project(
        RULES, emu.kili_client(), project, client=client, shard_size=200, page_size=100
    )
    assert not result.failures, result.failures
    assert set(result.frame["asset_id"]) == set(ids[300:])
    assert result.totals()["assets"] == 400


def test_a_repeated_page_in_a_shard_fails_the_run_naming_it(
    client: Client, emu: KiliEmulator
) -> None:
    project, _ = project_of(emu)
    # The page asked at 300 (the bad assets) is answered with the page at 200 again: the
    # shard [200:400] reads 200-299 twice and 300-399 never. Before the merge check the run
    # said ok, with 100 bad assets unread.
    fault = emu.inject_page_fault(300, serve_skip=200)
    result = validate_project(
        RULES, emu.kili_client(), project, client=client, shard_size=200, page_size=100
    )
    assert fault.hits == 1
    assert not result.ok, "a shard that skipped 100 assets was reported ok"
    shard = f"{project}[200:400]"
    assert shard in result.failures, result.failures
    assert "100" in result.failures[shard], result.failures[shard]


def test_an_asset_in_two_shards_fails_the_run_naming_both(
    client: Client, emu: KiliEmulator
) -> None:
    project, _ = project_of(emu)
    # The first page of shard [200:400] is answered with the last page of [0:200]: those
    # 100 assets are read by two shards, and 200-299 by none.
    emu.inject_page_fault(200, serve_skip=100)
    result = validate_project(
        RULES, emu.kili_client(), project, client=client, shard_size=200, page_size=100
    )
    assert not result.ok
    text = " ".join(result.failures.values())
    assert f"{project}[0:200]" in text and f"{project}[200:400]" in text, result.failures
    assert "more than one shard" in text, result.failures


def test_a_total_that_lies_low_fails_the_run(client: Client, emu: KiliEmulator) -> None:
    project, _ = project_of(emu)
    # The count the shards are cut from says 300: every shard is whole, and the 100 bad
    # assets past it would be in no shard.
    emu.inject_count_fault(-100, calls=1)
    result = validate_project(
        RULES, emu.kili_client(), project, client=client, shard_size=200, page_size=100
    )
    assert not result.ok, "100 assets past a lying total were reported ok"
    assert "coverage" in result.failures and "100" in result.failures["coverage"], result.failures


def test_a_total_that_always_lies_low_fails_the_run(client: Client, emu: KiliEmulator) -> None:
    project, _ = project_of(emu)
    emu.inject_count_fault(-100, calls=None)  # every countAssets, the final check's too
    result = validate_project(
        RULES, emu.kili_client(), project, client=client, shard_size=200, page_size=100
    )
    assert not result.ok
    assert "assets listed" in result.failures["coverage"], result.failures


def test_an_asset_inserted_mid_run_fails_the_run(client: Client, emu: KiliEmulator) -> None:
    project, _ = project_of(emu)
    # Before the first page of shard [200:400], a bad asset goes first in Kili's listing:
    # whichever shard reads first, the offsets shift by one, so one asset is read by two
    # shards, or (if the insert came before shard [0:200] read) the last one by none, or (if
    # it came between the two pages of shard [0:200]) that shard reads one asset twice and
    # one too few. There is no repair by id across shards: the run must not be ok.
    fault = emu.inject_insert_between_pages(200, project, [{"labels": [BAD]}], at=0)
    result = validate_project(
        RULES, emu.kili_client(), project, client=client, shard_size=200, page_size=100
    )
    assert fault.hits == 1 and len(fault.added) == 1
    assert not result.ok, "a run that read an asset twice or never was ok"
    text = " ".join(result.failures.values())
    named = ("more than one shard", "no shard read", "1 not read, so not checked")
    assert any(n in text for n in named), result.failures


def test_an_asset_deleted_mid_run_fails_the_run(client: Client, emu: KiliEmulator) -> None:
    project, ids = project_of(emu)
    # Before the first page of shard [200:400], asset 0 goes: the pages shift up, so shard
    # [200:400] can serve only 199 assets (and if shard [0:200] had read asset 0, asset 200
    # is read by no shard).
    fault = emu.inject_delete_between_pages(200, [ids[0]])
    result = validate_project(
        RULES, emu.kili_client(), project, client=client, shard_size=200, page_size=100
    )
    assert fault.hits == 1
    assert not result.ok, "a run whose shards lost an asset to a shift was ok"
    shard = f"{project}[200:400]"
    assert shard in result.failures and "199" in result.failures[shard], result.failures
