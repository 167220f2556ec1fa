"""One RuleSet (a native rule and a Python rule) gives the same rows on every path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _pyrules_checks import wide_box
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e

RULES = RuleSet(
    [{"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1}, wide_box]
)


def box(mid: str, x: float, size: float) -> dict[str, Any]:
    points = [(x, 0.1), (x, 0.1 + size), (x + size, 0.1 + size), (x + size, 0.1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "OBJECT_A"}],
        "boundingPoly": [{"normalizedVertices": [{"x": px, "y": py} for px, py in points]}],
    }


def label(i: int) -> dict[str, Any]:
    return {
        "JOB_0": {
            "annotations": [box(f"m{i}-{k}", 0.05 * k, 0.3 + 0.1 * (i % 4)) for k in range(i % 3)]
        }
    }


def key(r: Any) -> tuple[Any, ...]:
    return (r.asset_id, r.label_id, r.rule, r.kind, r.severity, r.mid, r.value, r.text)


@pytest.fixture(scope="module")
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture()
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    return emu.kili_client()


def test_validate_project_runs_the_python_rules(emu: KiliEmulator, kili: Any) -> None:
    project = emu.add_project()
    emu.add_assets(project, ({"external_id": f"a-{i}", "labels": [label(i)]} for i in range(30)))
    assets = kili.assets(
        project,
        fields=["id", "externalId", "latestLabel.id", "latestLabel.jsonResponse"],
        disable_tqdm=True,
    )
    many = RULES.validate_many(assets, progress=False)
    rules = {r.rule for r in many}
    assert rules == {"one-a", "wide-box"}  # both kinds of rule fire: the test can tell
    project_report = RULES.validate_project(kili, project, disable_tqdm=True)
    assert [key(r) for r in project_report] == [key(r) for r in many]
    # dict validate, label by label, gives the same issues as the batch
    by_label = [
        (i.rule, i.mid, i.text)
        for a in assets
        for i in RULES.validate(a["latestLabel"]["jsonResponse"])
    ]
    assert by_label == [(r.rule, r.mid, r.text) for r in many]


def test_dask_project_shards_run_the_python_rules(
    emu: KiliEmulator, kili: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    from pathlib import Path

    from dask.distributed import Client, LocalCluster
    from kili_rules.dask import validate_project

    # worker processes unpickle the Python rule by reference: they import it from tests/
    tests_dir = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")]))
    project = emu.add_project()
    emu.add_assets(project, ({"external_id": f"d-{i}", "labels": [label(i)]} for i in range(30)))
    local = RULES.validate_project(kili, project, disable_tqdm=True)
    assert {r.rule for r in local} == {"one-a", "wide-box"}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        result = validate_project(RULES, kili, project, client=client, shard_size=10)
    assert not result.failures
    cols = ["asset_id", "label_id", "rule", "severity", "mid", "value", "text"]
    # both sides through pandas, so a missing mid is the same missing value on each
    got = result.frame[cols].astype(object).where(result.frame[cols].notna(), None)
    want = local.to_pandas()[cols].astype(object)
    want = want.where(want.notna(), None)
    assert {r.rule for r in got.itertuples(index=False)} == {"one-a", "wide-box"}
    assert [tuple(r) for r in got.itertuples(index=False)] == [
        tuple(r) for r in want.itertuples(index=False)
    ]


def test_validate_export_of_the_same_assets(emu: KiliEmulator, kili: Any, tmp_path: Any) -> None:
    import json
    import zipfile

    project = emu.add_project()
    emu.add_assets(project, ({"external_id": f"z-{i}", "labels": [label(i)]} for i in range(30)))
    assets = kili.assets(
        project,
        fields=["id", "externalId", "latestLabel.id", "latestLabel.jsonResponse"],
        disable_tqdm=True,
    )
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as z:
        for n, asset in enumerate(assets):
            z.writestr(f"labels/{n:04d}.json", json.dumps(asset))
    exported = RULES.validate_export(path)
    project_report = RULES.validate_project(kili, project, disable_tqdm=True)
    assert {r.rule for r in exported} == {"one-a", "wide-box"}
    assert [key(r) for r in exported] == [key(r) for r in project_report]
