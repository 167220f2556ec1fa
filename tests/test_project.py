"""validate_project against the emulator, driven by the real kili client."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.kili.project import asset_selection, kili_timestamp
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e

RULES = RuleSet.from_dict(
    {
        "rule": [
            {"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1},
            {"id": "small", "kind": "area", "job": "JOB_0", "max": 0.05, "severity": "warning"},
        ]
    }
)
PIXEL_RULES = RuleSet.from_dict(
    {"rule": [{"kind": "area", "job": "JOB_0", "unit": "pixels", "max": 5000}]}
)


def box(mid: str, x: float, y: float, size: float, category: str = "OBJECT_A") -> dict[str, Any]:
    points = [(x, y), (x, y + size), (x + size, y + size), (x + size, y)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": category}],
        "boundingPoly": [{"normalizedVertices": [{"x": px, "y": py} for px, py in points]}],
    }


def label_of(rng: random.Random) -> dict[str, Any]:
    n = rng.randint(0, 3)
    return {
        "JOB_0": {
            "annotations": [
                box(f"m{i}", rng.random() * 0.5, rng.random() * 0.5, rng.choice([0.1, 0.3]))
                for i in range(n)
            ]
        }
    }


@pytest.fixture(scope="module")
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture()
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    from kili.core.graphql import graphql_client
    from pyrate_limiter import Duration, Limiter, Rate

    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    # The SDK's process-wide budget (500 calls a minute) is shared by validate_project; the
    # emulator has none, and this module alone sends more than 500 calls.
    roomy = Limiter(Rate(100_000, Duration.MINUTE), max_delay=1000)
    monkeypatch.setattr(graphql_client, "_limiter", roomy)
    return emu.kili_client()


def naive(kili: Any, project_id: str, field: str = "latestLabel", **where: Any) -> Any:
    """The loop a user writes today: kili.assets(...) then validate_many."""
    assets = kili.assets(
        project_id,
        fields=["id", "externalId", f"{field}.id", f"{field}.jsonResponse"],
        disable_tqdm=True,
        **where,
    )
    return RULES.validate_many(assets, progress=False)


def keys(report: Any) -> list[tuple[Any, ...]]:
    return [
        (r.asset_id, r.external_id, r.label_id, r.rule, r.kind, r.mid, r.value, r.text)
        for r in report
    ]


def test_20000_assets_same_rows_as_validate_many(emu: KiliEmulator, kili: Any) -> None:
    rng = random.Random(11)
    project = emu.add_project()
    start = time.monotonic()
    emu.add_assets(
        project,
        ({"external_id": f"img-{i}", "labels": [label_of(rng)]} for i in range(20_000)),
    )
    assert time.monotonic() - start < 30  # a bulk load, not minutes (generous on shared CPU)
    report = RULES.validate_project(kili, project, page_size=500, disable_tqdm=True)
    expected = naive(kili, project)
    assert report.labels == expected.labels == 20_000
    assert report.assets == 20_000
    assert len(report) > 1000
    assert keys(report) == keys(expected)
    assert report.errors == expected.errors and report.warnings == expected.warnings


def test_the_selection_asks_for_what_rules_and_report_need() -> None:
    # The resolution always (pixel rules, the drawings' aspect ratio); what the report shows.
    for rules in (RULES, PIXEL_RULES):
        selection = asset_selection(rules, "latest")
        assert "resolution { width height }" in selection and " status " in selection
        assert "author { email } labelType createdAt" in selection
    assert "labels { id jsonResponse" in asset_selection(RULES, "all")
    assert "latestLabels {" in asset_selection(RULES, "consensus")
    with pytest.raises(ValueError, match="labels must be one of"):
        asset_selection(RULES, "every")  # type: ignore[arg-type]


def test_pixel_rule_uses_the_resolution(emu: KiliEmulator, kili: Any) -> None:
    project = emu.add_project()
    big = {"JOB_0": {"annotations": [box("b", 0.0, 0.0, 0.5)]}}
    emu.add_assets(
        project,
        [
            {"resolution": (100, 100), "labels": [big]},  # 2,500 px: fine
            {"resolution": (1000, 1000), "labels": [big]},  # 250,000 px: too large
        ],
    )
    report = PIXEL_RULES.validate_project(kili, project, disable_tqdm=True)
    assert report.labels == 2 and len(report) == 1
    assert report[0].value == pytest.approx(250_000)


def test_faults_on_pages_are_retried(emu: KiliEmulator, kili: Any) -> None:
    rng = random.Random(3)
    project = emu.add_project()
    emu.add_assets(project, ({"labels": [label_of(rng)]} for _ in range(1_000)))
    expected = naive(kili, project)
    # gateways and rate limits answering for the backend, and connections reset
    emu.fail_requests("assets", [503, 429])
    emu.inject_fault("assets", "refuse", calls=2)
    emu.inject_fault("countAssets", "refuse", calls=1)
    before = emu.requests
    report = RULES.validate_project(kili, project, page_size=100, disable_tqdm=True)
    assert keys(report) == keys(expected) and report.labels == 1_000
    sent = emu.requests[len(before) :]
    # 10 pages + 4 failed attempts + the listing of the assets not read (empty) + the assets
    # the report draws, read again by id; 1 count + 1 failed attempt + the count of assets
    # not read
    assert sent.count("assets") == 16
    assert sent.count("countAssets") == 3


def test_a_page_that_keeps_failing_raises_naming_it(emu: KiliEmulator, kili: Any) -> None:
    from kili_rules.kili.project import ProjectError

    project = emu.add_project()
    emu.add_assets(project, ({"labels": [{}]} for _ in range(30)))
    emu.inject_fault("assets", "refuse", calls=3)
    with pytest.raises(ProjectError, match=r"assets \(skip=0\): .* \(after 3 attempts\)"):
        RULES.validate_project(kili, project, max_retries=2, disable_tqdm=True)
    assert not emu.faults  # all three used: the third attempt was the last


def test_labels_without_json_response_are_reported_not_clean(emu: KiliEmulator, kili: Any) -> None:
    project = emu.add_project()
    ids = emu.add_assets(
        project,
        [
            {"external_id": "fine", "labels": [{"JOB_0": {"annotations": []}}]},
            {"external_id": "hidden", "labels": [None]},
            {"external_id": "unlabeled"},
        ],
    )
    report = RULES.validate_project(kili, project, disable_tqdm=True)
    unchecked = [r for r in report if r.kind == "unchecked"]
    assert len(unchecked) == 1
    assert unchecked[0].asset_id == ids[1] and unchecked[0].external_id == "hidden"
    assert unchecked[0].label_id == emu.asset(ids[1])["labelIds"][0]
    assert "no jsonResponse" in unchecked[0].text
    assert report.labels == 1  # the one that was really checked
    assert not report.ok and report.exit_code() == 1
    # the naive loop takes the same label for an empty, clean one
    assert naive(kili, project).ok


def test_all_and_consensus_labels(emu: KiliEmulator, kili: Any) -> None:
    project = emu.add_project()
    two_a = {"JOB_0": {"annotations": [box("a", 0, 0, 0.1), box("b", 0.5, 0.5, 0.1)]}}
    one_a = {"JOB_0": {"annotations": [box("a", 0, 0, 0.1)]}}
    (asset,) = emu.add_assets(
        project,
        [
            {
                "labels": [
                    {"json_response": two_a, "author_id": "ann"},
                    {"json_response": one_a, "author_id": "bob"},
                    {"json_response": one_a, "author_id": "ann"},
                ]
            }
        ],
    )
    latest = RULES.validate_project(kili, project, disable_tqdm=True)
    every = RULES.validate_project(kili, project, labels="all", disable_tqdm=True)
    consensus = RULES.validate_project(kili, project, labels="consensus", disable_tqdm=True)
    assert (latest.labels, every.labels, consensus.labels) == (1, 3, 2)
    assert len(latest) == 0 and len(consensus) == 0
    label_ids = emu.asset(asset)["labelIds"]
    assert [r.label_id for r in every if r.rule == "one-a"] == [label_ids[0]]
    assert keys(every) == keys(naive(kili, project, field="labels"))


def test_since_and_status_filters(emu: KiliEmulator, kili: Any) -> None:
    project = emu.add_project()
    bad = {"JOB_0": {"annotations": [box("a", 0, 0, 0.1), box("b", 0.5, 0.5, 0.1)]}}
    old = emu.add_assets(project, [{"labels": [bad]}, {"labels": [bad], "status": "REVIEWED"}])
    time.sleep(0.01)
    cut = kili_timestamp(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1)))
    time.sleep(1.1)
    new = emu.add_assets(project, [{"labels": [bad]}])
    every = RULES.validate_project(kili, project, disable_tqdm=True)
    assert {r.asset_id for r in every} == {*old, *new}
    recent = RULES.validate_project(kili, project, since=cut, disable_tqdm=True)
    assert {r.asset_id for r in recent} == set(new) and recent.labels == 1
    reviewed = RULES.validate_project(kili, project, status_in=["REVIEWED"], disable_tqdm=True)
    assert {r.asset_id for r in reviewed} == {old[1]}
    empty = RULES.validate_project(kili, project, status_in=["TODO"], disable_tqdm=True)
    assert empty.labels == 0 and empty.ok


def test_kili_timestamp_forms() -> None:
    from datetime import date, datetime, timedelta, timezone

    assert kili_timestamp("2026-01-31") == "2026-01-31T00:00:00.000Z"
    assert kili_timestamp(date(2026, 1, 31)) == "2026-01-31T00:00:00.000Z"
    paris = timezone(timedelta(hours=1))
    assert kili_timestamp(datetime(2026, 1, 31, 1, 0, 0, 5000, paris)) == (
        "2026-01-31T00:00:00.005Z"
    )
    with pytest.raises(ValueError, match="since: 'yesterday'"):
        kili_timestamp("yesterday")


def test_bad_arguments(emu: KiliEmulator, kili: Any) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        RULES.validate_project(kili, "p", concurrency=0)
    with pytest.raises(ValueError, match="page_size"):
        RULES.validate_project(kili, "p", page_size=501)
    with pytest.raises(TypeError, match=r"kili\.client\.Kili"):
        RULES.validate_project(object(), "p")


def test_unknown_project_is_a_clear_error(kili: Any) -> None:
    # the emulator counts 0 assets for an unknown project; a refused filter is an error
    from kili_rules.kili.project import ProjectError

    with pytest.raises(ProjectError, match="countAssets"):
        RULES.validate_project(kili, "p", where={"noSuchFilter": 1}, disable_tqdm=True)


def test_json_response_strings_reach_the_core_unparsed(emu: KiliEmulator, kili: Any) -> None:
    # a malformed jsonResponse string is reported by the native reader, with its ids
    project = emu.add_project()
    (asset,) = emu.add_assets(project, [{"labels": [{}]}])
    (label_id,) = emu.asset(asset)["labelIds"]
    with emu._state.lock:  # corrupt the stored text: only a raw string can carry this
        emu._state.labels[label_id].json_text = json.dumps({"JOB_0": {"annotations": 3}})
    report = RULES.validate_project(kili, project, disable_tqdm=True)
    assert report.invalid == 1 and report[0].kind == "invalid_label"
    assert report[0].asset_id == asset
    assert "latestLabel.jsonResponse" in report[0].text


def test_calls_go_through_the_sdk_rate_limiter(
    emu: KiliEmulator, kili: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kili.core.graphql import graphql_client

    taken: list[str] = []
    inner = graphql_client._limiter

    class Counting:
        def try_acquire(self, name: str, weight: int = 1) -> Any:
            taken.append(name)
            return inner.try_acquire(name, weight)

    monkeypatch.setattr(graphql_client, "_limiter", Counting())
    project = emu.add_project()
    emu.add_assets(project, ({"labels": [{}]} for _ in range(450)))
    before = len(emu.requests)
    RULES.validate_project(kili, project, page_size=100, disable_tqdm=True)
    # the count, 5 pages, the count of the assets not read (0) and their listing (empty)
    assert len(taken) == len(emu.requests) - before == 1 + 5 + 1 + 1


def test_progress_bar_on_stderr(emu: KiliEmulator, kili: Any, capsys: Any) -> None:
    project = emu.add_project()
    emu.add_assets(project, ({"labels": [{}]} for _ in range(300)))
    RULES.validate_project(kili, project, page_size=100, disable_tqdm=False)
    err = capsys.readouterr().err
    assert f"Validating {project}" in err and "/300" in err  # which counts show: timing
    RULES.validate_project(kili, project, page_size=100)  # the client's setting: disabled
    assert capsys.readouterr().err == ""


def test_json_response_url_is_downloaded(tmp_path: Any) -> None:
    # Kili keeps large labels behind a URL; the scan downloads them as the SDK does.
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from kili_rules.kili.project import GraphQLPoster, _Scan

    (tmp_path / "l1.json").write_text(json.dumps({"JOB_0": {"annotations": []}}))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        poster = GraphQLPoster(base + "/api/label/v2/graphql", "key", max_retries=0)
        scan = _Scan(poster, {}, "", "latestLabel", 10, 1)
        good = {
            "id": "a1",
            "latestLabel": {"id": "l1", "jsonResponse": "", "jsonResponseUrl": base + "/l1.json"},
        }
        gone = {
            "id": "a2",
            "latestLabel": {"id": "l2", "jsonResponse": "{}", "jsonResponseUrl": base + "/l2.json"},
        }
        unchecked: list[Any] = []
        scan._prepare(good, unchecked)
        scan._prepare(gone, unchecked)
    finally:
        server.shutdown()
        server.server_close()
    assert json.loads(good["latestLabel"]["jsonResponse"]) == {"JOB_0": {"annotations": []}}
    assert "jsonResponseUrl" not in good["latestLabel"]
    assert gone["latestLabel"] is None  # not handed to the core as an empty label...
    [row] = unchecked  # ...but reported
    assert (row.asset_id, row.label_id, row.kind) == ("a2", "l2", "unchecked")
    assert "could not be fetched" in row.text and "HTTP 404" in row.text
