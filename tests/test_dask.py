"""kili_rules.dask on a real LocalCluster (2 worker processes): same rows as the local run."""

from __future__ import annotations

import json
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dask.distributed")  # the [dask] extra

from dask.distributed import Client, LocalCluster
from kili_rules import Report, RuleSet
from kili_rules.dask import validate_exports, validate_project
from kili_rules.testing import KiliEmulator

RULES = RuleSet.from_dict(
    {
        "rule": [
            {"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1},
            {"id": "small", "kind": "area", "job": "JOB_0", "max": 0.05, "severity": "warning"},
        ]
    }
)


def label(rng: random.Random) -> dict[str, Any]:
    annotations = []
    for i in range(rng.randint(0, 3)):
        x, y, s = rng.random() * 0.5, rng.random() * 0.5, rng.choice([0.1, 0.3])
        points = [(x, y), (x, y + s), (x + s, y + s), (x + s, y)]
        annotations.append(
            {
                "mid": f"m{i}",
                "type": "rectangle",
                "categories": [{"name": "OBJECT_A"}],
                "boundingPoly": [{"normalizedVertices": [{"x": a, "y": b} for a, b in points]}],
            }
        )
    return {"JOB_0": {"annotations": annotations}}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


def write_export(path: Path, rng: random.Random, n: int) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for i in range(n):
            asset = {
                "id": f"{path.stem}-{i}",
                "externalId": f"{path.stem}-ext-{i}",
                "latestLabel": {"id": f"{path.stem}-l{i}", "jsonResponse": label(rng)},
            }
            z.writestr(f"labels/{path.stem}-{i}.json", json.dumps(asset))


def frame_rows(frame: Any) -> list[tuple[Any, ...]]:
    cols = ["asset_id", "label_id", "rule", "mid", "value", "text"]
    return [tuple(r) for r in frame[cols].itertuples(index=False)]


def test_exports_same_rows_and_a_failing_shard(client: Client, tmp_path: Path) -> None:
    rng = random.Random(5)
    paths = []
    for i in range(4):
        path = tmp_path / f"export{i}.zip"
        write_export(path, rng, 300)
        paths.append(str(path))
    missing = str(tmp_path / "missing.zip")
    result = validate_exports(RULES, [*paths[:2], missing, *paths[2:]], client=client)
    local = Report.concat([RULES.validate_export(p) for p in paths])
    assert frame_rows(result.frame) == frame_rows(local.to_pandas())
    assert len(result.frame) > 100
    assert list(result.failures) == [missing]
    assert "missing.zip" in result.failures[missing]
    totals = result.totals()
    assert totals["labels"] == local.labels == 1200 and totals["failed_shards"] == 1
    assert not result.ok
    table = result.to_arrow()
    assert table.num_rows == len(result.frame)
    # named tasks: the dashboard groups them by these prefixes
    prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert "kili-rules-export" in prefixes


def test_project_split_in_shards(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    rng = random.Random(8)
    with KiliEmulator() as emu:
        project = emu.add_project()
        emu.add_assets(project, ({"labels": [label(rng)]} for _ in range(2_500)))
        kili = emu.kili_client()
        result = validate_project(RULES, kili, project, client=client, shard_size=1_000)
        local = RULES.validate_project(kili, project, disable_tqdm=True)
    assert list(result.counts) == [
        f"{project}[0:1000]",
        f"{project}[1000:2000]",
        f"{project}[2000:2500]",
    ]
    assert result.totals()["labels"] == 2_500 and not result.failures
    assert frame_rows(result.frame) == frame_rows(local.to_pandas())
