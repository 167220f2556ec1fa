"""Emulator: fault and latency injection, issue statuses, review / metadata / workflow v2
mutations, all through the real kili client (init checks on)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules.testing import KiliEmulator

kili_exceptions: Any = pytest.importorskip("kili.exceptions")
GraphQLError: type[Exception] = kili_exceptions.GraphQLError
OutcomeUnknown: type[Exception] = kili_exceptions.MutationOutcomeUnknownError

CAT = {"JOB": {"categories": [{"name": "A"}]}}
ISSUE_FIELDS = ["id", "status", "objectMid", "comments.text", "labelId"]


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.delenv("KILI_SDK_SKIP_CHECKS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    # the SDK sleeps 1 s after update_properties_in_assets for Kili's backend to settle
    monkeypatch.setattr("kili.core.utils.pagination.sleep", lambda _s: None)
    return emu.kili_client(timeout=1.0)


@pytest.fixture
def labeled(emu: KiliEmulator) -> tuple[str, str, str]:
    project = emu.add_project()
    asset = emu.add_asset(project, json_metadata={"keep": "me", "n": 3})
    label = emu.add_label(asset, CAT)
    return project, asset, label


def test_issue_statuses_update_and_filters(kili: Any, emu: KiliEmulator, labeled: Any) -> None:
    project, asset, label = labeled
    other = emu.add_asset(project)
    other_label = emu.add_label(other, CAT)
    created = kili.create_issues(
        project_id=project,
        label_id_array=[label, label, other_label],
        text_array=["t1", "t2", "t3"],
        object_mid_array=[None, "m1", None],
    )
    ids = [c["id"] for c in created]
    kili.update_issue_status(issue_id=ids[0], status="SOLVED")
    kili.update_issue_status(issue_id=ids[2], status="CANCELLED")
    open_on_asset = kili.issues(
        project_id=project, asset_id=asset, status="OPEN", fields=ISSUE_FIELDS
    )
    assert [(i["id"], i["objectMid"], i["comments"][0]["text"]) for i in open_on_asset] == [
        (ids[1], "m1", "t2")
    ]
    assert kili.count_issues(project_id=project, status="SOLVED") == 1
    assert [i["id"] for i in emu.issues(project, status="CANCELLED")] == [ids[2]]
    assert [i["id"] for i in emu.issues(label_id=label)] == ids[:2]
    assert [i["id"] for i in emu.issues(asset_id=other)] == [ids[2]]
    kili.update_issue_status(issue_id=ids[0], status="OPEN")
    assert emu.issues(project, asset_id=asset, status="OPEN")[0]["id"] == ids[0]
    with pytest.raises(GraphQLError, match="no issue matches"):
        kili.update_issue_status(issue_id="issue-404", status="SOLVED")


@pytest.mark.filterwarnings("ignore:Client domain api")
def test_domain_api_issues_solve(emu: KiliEmulator, labeled: Any) -> None:
    from kili.client_domain import Kili  # type: ignore[import-untyped]

    project, _asset, label = labeled
    domain = Kili(
        api_key=emu.api_key,
        api_endpoint=emu.endpoint,
        graphql_client_params={"enable_schema_caching": False},
        disable_tqdm=True,
    )
    issue_ids = domain.issues.create(project_id=project, label_id_array=[label], text_array=["x"])
    result = domain.issues.solve(issue_id=issue_ids[0]["id"])
    assert result[0]["success"] is True
    assert emu.issues(project)[0]["status"] == "SOLVED"


def test_add_metadata_merges_and_update_properties_replaces(
    kili: Any, emu: KiliEmulator, labeled: Any
) -> None:
    project, asset, _label = labeled
    kili.add_metadata(json_metadata=[{"qa": "0.5"}], project_id=project, asset_ids=[asset])
    assert emu.asset(asset)["metadata"] == {"keep": "me", "n": 3, "qa": "0.5"}
    kili.add_metadata(json_metadata=[{"qa": "1.0"}], project_id=project, asset_ids=[asset])
    assert emu.asset(asset)["metadata"] == {"keep": "me", "n": 3, "qa": "1.0"}
    kili.update_properties_in_assets(asset_ids=[asset], json_metadatas=[{"only": "this"}])
    assert emu.asset(asset)["metadata"] == {"only": "this"}
    rows = kili.assets(project_id=project, asset_id=asset, fields=["id", "jsonMetadata"])
    assert rows[0]["jsonMetadata"] == {"only": "this"}


def test_add_to_review_legacy_workflow(kili: Any, emu: KiliEmulator, labeled: Any) -> None:
    project, asset, _label = labeled
    unlabeled = emu.add_asset(project)
    outcome = kili.add_to_review(asset_ids=[asset, unlabeled, "asset-404"])
    assert [o["assetId"] for o in outcome["succeeded"]] == [asset]
    assert [o["assetId"] for o in outcome["declined"]] == [unlabeled]
    assert [o["assetId"] for o in outcome["failed"]] == ["asset-404"]
    assert emu.asset(asset)["status"] == "TO_REVIEW"
    assert emu.added_to_review == [asset]


@pytest.mark.filterwarnings("ignore:Client domain api")
def test_workflow_v2_next_step_and_invalidate(emu: KiliEmulator, tmp_path: Path) -> None:
    from kili.client_domain import Kili

    project = emu.add_project(steps=("Labeling", "Review"))
    asset = emu.add_asset(project)
    emu.add_label(asset, CAT)
    assert emu.asset(asset)["step"] == "Labeling"
    domain = Kili(
        api_key=emu.api_key,
        api_endpoint=emu.endpoint,
        graphql_client_params={"enable_schema_caching": False},
        disable_tqdm=True,
    )
    moved = domain.assets.move_to_next_step(asset_id=asset)
    assert [o["assetId"] for o in moved["succeeded"]] == [asset]
    assert emu.asset(asset)["step"] == "Review"
    assert domain.assets.move_to_next_step(asset_id=asset)["declined"]  # already the last step
    back = domain.assets.invalidate(asset_id=asset)
    assert [o["assetId"] for o in back["succeeded"]] == [asset]
    assert (emu.asset(asset)["step"], emu.asset(asset)["status"]) == ("Labeling", "ONGOING")
    rows = domain.legacy_client.projects(
        project_id=project, fields=["steps.name", "workflowVersion"]
    )
    assert rows[0]["workflowVersion"] == "V2"
    assert [s["name"] for s in rows[0]["steps"]] == ["Labeling", "Review"]


def test_fault_error_for_a_number_of_calls(kili: Any, emu: KiliEmulator, labeled: Any) -> None:
    project, _asset, label = labeled
    fault = emu.inject_fault("createIssues", "error", calls=2, message="boom")
    for _ in range(2):
        with pytest.raises(GraphQLError, match="boom"):
            kili.create_issues(project_id=project, label_id_array=[label], text_array=["x"])
    assert fault.hits == 2 and emu.issues(project) == []
    kili.count_issues(project_id=project)  # other operations are untouched
    kili.create_issues(project_id=project, label_id_array=[label], text_array=["x"])
    assert len(emu.issues(project)) == 1
    assert emu.faults == []


def test_fault_for_a_time_window(kili: Any, emu: KiliEmulator, labeled: Any) -> None:
    project, _asset, label = labeled
    emu.inject_fault("createIssues", "error", seconds=0.5)
    with pytest.raises(GraphQLError):
        kili.create_issues(project_id=project, label_id_array=[label], text_array=["x"])
    time.sleep(0.6)
    kili.create_issues(project_id=project, label_id_array=[label], text_array=["x"])
    assert len(emu.issues(project)) == 1


def test_fault_timeout_applied_saves_but_loses_the_answer(
    kili: Any, emu: KiliEmulator, labeled: Any
) -> None:
    project, _asset, label = labeled
    emu.inject_fault("createIssues", "timeout", calls=1, delay=1.5, applied=True)
    with pytest.raises(OutcomeUnknown, match="Read timed out"):
        kili.create_issues(project_id=project, label_id_array=[label], text_array=["saved"])
    assert [i["text"] for i in emu.issues(project)] == ["saved"]


def test_fault_timeout_not_applied_writes_nothing(
    kili: Any, emu: KiliEmulator, labeled: Any
) -> None:
    _project, asset, _label = labeled
    emu.inject_fault("sendAssetsBackToQueue", "timeout", calls=1, delay=1.5)
    with pytest.raises(OutcomeUnknown):
        kili.send_back_to_queue(asset_ids=[asset])
    assert emu.sent_back == [] and emu.asset(asset)["status"] == "LABELED"


def test_fault_refuse_is_a_connection_error(kili: Any, emu: KiliEmulator, labeled: Any) -> None:
    project, _asset, label = labeled
    emu.inject_fault("createIssues", "refuse", calls=1)
    with pytest.raises(OutcomeUnknown, match="Connection"):
        kili.create_issues(project_id=project, label_id_array=[label], text_array=["x"])
    assert emu.issues(project) == []
    # a query is resent by the SDK: two refused calls, then an answer
    fault = emu.inject_fault("countIssues", "refuse", calls=2)
    assert kili.count_issues(project_id=project) == 0
    assert fault.hits == 2


def test_latency_per_operation(kili: Any, emu: KiliEmulator, labeled: Any) -> None:
    project, _asset, _label = labeled
    emu.set_latency(0.3, "countIssues")
    start = time.monotonic()
    kili.count_issues(project_id=project)
    assert time.monotonic() - start >= 0.3
    emu.clear_faults()
    assert emu.faults == []


def test_bad_fault_arguments() -> None:
    emu = KiliEmulator()
    with pytest.raises(ValueError, match="fault kind"):
        emu.inject_fault("createIssues", "explode")
    with pytest.raises(ValueError, match="calls"):
        emu.inject_fault("createIssues", calls=0)
