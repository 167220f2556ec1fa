"""One RuleSet (a native rule and a Python rule) gives the same rows on every path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
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


# ---- the paths that act on Kili: the plugin, a real server, Report.apply, audit --apply ------

N_ASSETS = 12
FIELDS = ["id", "externalId", "latestLabel.id", "latestLabel.jsonResponse"]
TESTS = Path(__file__).resolve().parent


def rules_file(tmp_path: Path) -> Path:
    """RULES as a rules file: the native rule and the Python rule, by module path."""
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[rule]]\nid = "one-a"\nkind = "count"\njob = "JOB_0"\ncategory = "OBJECT_A"\nmax = 1\n\n'
        '[[rule]]\nkind = "python"\nfunction = "_pyrules_checks:wide_box"\n'
        f"path = {json.dumps(str(TESTS))}\n"
    )
    assert RuleSet.from_file(path) == RULES  # the same rules, so the same rows are expected
    return path


def seeded(emu: KiliEmulator, kili: Any, prefix: str) -> tuple[str, list[dict[str, Any]]]:
    project = emu.add_project()
    records = ({"external_id": f"{prefix}-{i}", "labels": [label(i)]} for i in range(N_ASSETS))
    emu.add_assets(project, records)
    return project, kili.assets(project, fields=FIELDS, disable_tqdm=True)


def expected(assets: list[dict[str, Any]]) -> dict[str, Counter[tuple[Any, ...]]]:
    """Per asset, the (rule, mid, message) rows validate_many gives: what every path must do."""
    out: dict[str, Counter[tuple[Any, ...]]] = {a["id"]: Counter() for a in assets}
    for row in RULES.validate_many(assets, progress=False):
        out[row.asset_id][(row.rule, row.mid, row.text)] += 1
    rules = {rule for rows in out.values() for rule, _, _ in rows}
    assert rules == {"one-a", "wide-box"}  # both kinds of rule fire: the test can tell
    return out


def kili_issues(emu: KiliEmulator, project: str) -> dict[str, Counter[tuple[Any, ...]]]:
    """Per asset, the (mid, message) of the OPEN issues Kili holds."""
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    for issue in emu.issues(project, status="OPEN"):
        out.setdefault(issue["assetId"], Counter())[(issue["objectMid"], issue["text"])] += 1
    return out


def without_rule(rows: dict[str, Counter[tuple[Any, ...]]]) -> dict[str, Counter[tuple[Any, ...]]]:
    """(mid, message) per asset, assets without a row left out: what Kili is told."""
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    for asset, counter in rows.items():
        for (_rule, mid, text), n in counter.items():
            out.setdefault(asset, Counter())[(mid, text)] += n
    return out


def test_rules_plugin_on_the_emulator(emu: KiliEmulator, kili: Any) -> None:
    from kili_rules.plugin import RulesPlugin

    project, assets = seeded(emu, kili, "p")
    want = expected(assets)
    plugin = RulesPlugin(kili, project, rules=RULES)
    for asset in assets:
        latest = asset["latestLabel"]
        decision = plugin.on_submit({"id": latest["id"], **latest}, asset["id"])
        got = Counter((i.rule, i.mid, i.text) for i in decision.issues)
        assert got == want[asset["id"]], asset["externalId"]
    assert kili_issues(emu, project) == without_rule(want)


def test_a_real_serve_process(emu: KiliEmulator, kili: Any, tmp_path: Path) -> None:
    from _server import Server, legacy_event, post_all

    project, assets = seeded(emu, kili, "s")
    want = expected(assets)
    log = tmp_path / "server.log"
    server = Server(
        tmp_path / "journal.sqlite", emu.endpoint, emu.api_key, log, rules=rules_file(tmp_path)
    )
    try:
        server.wait_ready()
        bodies = [
            legacy_event(
                project,
                a["id"],
                a["latestLabel"]["id"],
                json.loads(a["latestLabel"]["jsonResponse"])
                if isinstance(a["latestLabel"]["jsonResponse"], str)
                else a["latestLabel"]["jsonResponse"],
            )
            for a in assets
        ]
        assert set(post_all(server.url, bodies, clients=4)) == {202}
        server.wait_drained(60)
    finally:
        server.stop()
    assert kili_issues(emu, project) == without_rule(want)
    # the server's decision log names the rules that fired on each label
    logged: dict[str, Counter[str]] = {}
    for line in log.read_text().splitlines():
        start = line.find("{")
        if start < 0 or "kili-rules decision" not in line:
            continue
        record = json.loads(line[start:])
        logged[record["asset_id"]] = Counter(record["rules"])
    assert logged == {
        asset: Counter(rule for rule, _, _ in rows.elements()) for asset, rows in want.items()
    }


def test_report_apply(emu: KiliEmulator, kili: Any) -> None:
    project, assets = seeded(emu, kili, "r")
    want = expected(assets)
    result = RULES.validate_many(assets, progress=False).apply(
        kili, project_id=project, dry_run=False
    )
    assert result.ok, str(result)
    assert kili_issues(emu, project) == without_rule(want)


def test_audit_apply_as_a_process(emu: KiliEmulator, kili: Any, tmp_path: Path) -> None:
    project, assets = seeded(emu, kili, "c")
    want = expected(assets)
    argv = ["audit", "--project", project, "--rules", str(rules_file(tmp_path))]
    argv += ["--api-endpoint", emu.endpoint, "--apply", "--format", "json", "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KILI_API_KEY": emu.api_key, "KILI_SDK_SKIP_CHECKS": "1"},
    )
    assert done.returncode == 1, done.stderr  # error rows: the audit fails
    rows = json.loads(done.stdout)["rows"]
    got: dict[str, Counter[tuple[Any, ...]]] = {a["id"]: Counter() for a in assets}
    for row in rows:
        got[row["asset_id"]][(row["rule"], row["mid"], row["text"])] += 1
    assert got == want
    assert kili_issues(emu, project) == without_rule(want)
