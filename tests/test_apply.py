"""Report.apply with the real kili client against the emulator: a dry run lists the changes,
apply makes them in bulk, a second apply makes none, a label fixed between two applies gets its
issues solved."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator
from kili_rules.verdict import ActionPolicy

pytest.importorskip("kili")

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
RULES = RuleSet.from_file(ROOT / "examples" / "rules.toml")
THREE_BOXES: dict[str, Any] = json.loads((SEED / "json_response_three_boxes.json").read_text())
ONE_BOX: dict[str, Any] = json.loads((SEED / "json_response_one_box.json").read_text())
INTERFACE: dict[str, Any] = json.loads((SEED / "json_interface.json").read_text())
COUNT_TEXT = "There are too many BBox (3) - Only 1 BBox of Object A accepted"
BIG_MID = "20221124161451411-13314"
FIELDS = ["id", "externalId", "latestLabel.id", "latestLabel.jsonResponse"]
MUTATIONS = {
    "createIssues",
    "updatePropertiesInIssue",
    "updatePropertiesInAssets",
    "sendAssetsBackToQueue",
    "addAssetsToReview",
}


def clean() -> dict[str, Any]:
    label = copy.deepcopy(ONE_BOX)
    label["JOB_0"]["annotations"][0]["boundingPoly"][0]["normalizedVertices"] = [
        {"x": 0.1, "y": 0.2},
        {"x": 0.1, "y": 0.1},
        {"x": 0.2, "y": 0.1},
        {"x": 0.2, "y": 0.2},
    ]
    return label


@pytest.fixture
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture
def kili(emu: KiliEmulator) -> Any:
    return emu.kili_client()


@pytest.fixture
def project(emu: KiliEmulator) -> dict[str, str]:
    project_id = emu.add_project(json_interface=INTERFACE)
    ids = {"project": project_id}
    for name, response in (("a", THREE_BOXES), ("b", ONE_BOX), ("c", clean())):
        ids[name] = emu.add_asset(project_id, external_id=name, json_metadata={"site": name})
        emu.add_label(ids[name], response)
    return ids


def audit(kili: Any, project_id: str) -> Any:
    return RULES.validate_many(kili.assets(project_id=project_id, fields=FIELDS))


def mutations(emu: KiliEmulator) -> list[str]:
    return [name for name in emu.requests if name in MUTATIONS]


def test_dry_run_apply_then_nothing_left(kili: Any, emu: KiliEmulator, project: Any) -> None:
    report = audit(kili, project["project"])
    assert len(report) == 3

    dry = report.apply(kili, project_id=project["project"])
    assert dry.dry_run and mutations(emu) == []
    assert emu.issues() == [] and emu.sent_back == []
    text = str(dry)
    assert f"would create issue of label {report[0].label_id}: {COUNT_TEXT}" in text
    assert f"would send back: asset {project['a']}" in text
    assert (dry.count("create_issue"), dry.count("send_back")) == (3, 2)

    done = report.apply(kili, project_id=project["project"], dry_run=False)
    assert done.ok and not done.dry_run and done.complete
    assert [c.describe() for c in done.changes if c.action != "metadata"] == [
        c.describe() for c in dry.changes if c.action != "metadata"
    ]
    assert mutations(emu).count("createIssues") == 1  # one call for the batch
    assert mutations(emu).count("sendAssetsBackToQueue") == 1
    assert sorted((i["assetId"], i["text"], i["objectMid"]) for i in emu.issues()) == sorted(
        [
            (project["a"], COUNT_TEXT, None),
            (project["a"], "BBox too large", BIG_MID),
            (project["b"], "BBox too large", BIG_MID),
        ]
    )
    assert sorted(emu.sent_back) == sorted([project["a"], project["b"]])
    assert emu.asset(project["c"])["metadata"] == {"site": "c"}  # clean: untouched

    before = len(mutations(emu))
    again = audit(kili, project["project"]).apply(
        kili, project_id=project["project"], dry_run=False
    )
    assert len(again) == 0 and again.ok
    assert len(mutations(emu)) == before
    assert "no change" in str(again)


def test_label_fixed_between_two_applies(kili: Any, emu: KiliEmulator, project: Any) -> None:
    project_id = project["project"]
    audit(kili, project_id).apply(kili, project_id=project_id, dry_run=False)
    emu.add_label(project["a"], clean())  # the labeler fixes asset a
    report = audit(kili, project_id)
    assert {row.asset_id for row in report} == {project["b"]}
    result = report.apply(kili, project_id=project_id, dry_run=False)
    assert result.count("solve_issue") == 2 and result.count("create_issue") == 0
    assert result.count("send_back") == 0
    assert [i["text"] for i in emu.issues(asset_id=project["a"], status="SOLVED")] == [
        COUNT_TEXT,
        "BBox too large",
    ]
    assert [i["text"] for i in emu.issues(status="OPEN")] == ["BBox too large"]


def test_apply_in_batches_with_policy(
    kili: Any, emu: KiliEmulator, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kili_rules.kili.apply.APPLY_BATCH", 1)
    report = audit(kili, project["project"])
    policy = ActionPolicy(on_error=("issues", "metadata", "review"))
    result = report.apply(kili, project_id=project["project"], dry_run=False, policy=policy)
    assert result.ok and mutations(emu).count("createIssues") == 2  # one per batch
    assert sorted(emu.added_to_review) == sorted([project["a"], project["b"]])
    metadata = emu.asset(project["a"])["metadata"]
    assert metadata["site"] == "a" and metadata["kili_rules_errors"] == "2"


def test_rows_only_report_is_incomplete_and_needs_a_project(
    kili: Any, emu: KiliEmulator, project: Any
) -> None:
    assets = kili.assets(project_id=project["project"], fields=FIELDS)
    report = RULES.validate_many(iter(assets))  # a generator: the items are not kept
    with pytest.raises(ValueError, match="project id"):
        report.apply(kili)
    result = report.apply(kili, project_id=project["project"])
    assert not result.complete and "not reconciled" in str(result)
    assert result.count("create_issue") == 3


def test_a_failed_batch_is_reported_and_apply_again_completes(
    kili: Any, emu: KiliEmulator, project: Any
) -> None:
    report = audit(kili, project["project"])
    emu.inject_fault("createIssues", "error", calls=1)
    first = report.apply(kili, project_id=project["project"], dry_run=False)
    assert not first.ok and "FAILED" in str(first)
    second = report.apply(kili, project_id=project["project"], dry_run=False)
    assert second.ok and len(emu.issues()) == 3


def test_validate_project_report_reconciles_fixed_labels(
    kili: Any, emu: KiliEmulator, project: Any
) -> None:
    project_id = project["project"]
    report = RULES.validate_project(kili, project_id, disable_tqdm=True)
    assert report.context.project_id == project_id
    assert sorted(report.checked or []) == sorted(
        (a["id"], a["labelIds"][-1]) for a in emu.assets(project_id)
    )
    assert report.apply(kili, dry_run=False).count("create_issue") == 3
    emu.add_label(project["a"], clean())
    fixed = RULES.validate_project(kili, project_id, disable_tqdm=True)
    result = fixed.apply(kili, dry_run=False)
    assert (result.count("solve_issue"), len(result)) == (2, 3)  # 2 solved + the ledger write
    assert [i["assetId"] for i in emu.issues(status="OPEN")] == [project["b"]]


def test_unchecked_labels_are_left_alone(kili: Any, emu: KiliEmulator, project: Any) -> None:
    project_id = project["project"]
    (blank,) = emu.add_assets(project_id, [{"labels": [None]}])  # no jsonResponse to read
    report = RULES.validate_project(kili, project_id, disable_tqdm=True)
    assert any(row.asset_id == blank and row.kind == "unchecked" for row in report)
    result = report.apply(kili, dry_run=False)
    assert [asset for asset, _why in result.skipped] == [blank]
    assert blank not in emu.sent_back and emu.issues(asset_id=blank) == []
    assert result.count("create_issue") == 3


# ---- a report from any source: the label ids are looked up where the report has none -------

UNLABELED = ["id", "externalId", "latestLabel.jsonResponse"]  # no latestLabel.id


def lookups(emu: KiliEmulator) -> int:
    return sum(1 for name in emu.requests if name == "assets")


def assert_applied(result: Any, emu: KiliEmulator, project: Any) -> None:
    assert result.ok and not result.skipped and not result.failed, str(result)
    assert (result.count("create_issue"), result.count("send_back")) == (3, 2)
    labels = {a: emu.asset(project[a])["labelIds"][-1] for a in ("a", "b")}
    assert sorted((i["assetId"], i["labelId"], i["text"]) for i in emu.issues()) == sorted(
        [
            (project["a"], labels["a"], COUNT_TEXT),
            (project["a"], labels["a"], "BBox too large"),
            (project["b"], labels["b"], "BBox too large"),
        ]
    )
    assert sorted(emu.sent_back) == sorted([project["a"], project["b"]])


def test_a_kili_export_zip_without_label_ids_is_applied(
    kili: Any, emu: KiliEmulator, project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    export = tmp_path / "export.zip"
    kili.export_labels(
        project_id=project["project"], filename=str(export), fmt="kili", with_assets=False
    )
    report = RULES.validate_export(export)
    assert len(report) == 3 and all(row.label_id is None for row in report)
    dry = report.apply(kili, project_id=project["project"])
    assert dry.ok and dry.count("create_issue") == 3 and mutations(emu) == []
    assert "no label id" not in str(dry) and "skipped" not in str(dry)
    done = report.apply(kili, project_id=project["project"], dry_run=False)
    assert_applied(done, emu, project)
    again = report.apply(kili, project_id=project["project"], dry_run=False)
    assert again.ok and len(again) == 0 and "no change" in again.headline()


def test_asset_records_without_label_ids_are_applied_with_one_lookup(
    kili: Any, emu: KiliEmulator, project: Any
) -> None:
    records = kili.assets(project_id=project["project"], fields=UNLABELED, disable_tqdm=True)
    assert all("id" not in record["latestLabel"] for record in records)
    report = RULES.validate_many(records)
    before = lookups(emu)
    done = report.apply(kili, project_id=project["project"], dry_run=False)
    assert_applied(done, emu, project)
    # the lookup is one paged query; run_effects reads the assets once more per batch
    assert lookups(emu) - before == 2
    # asset c (clean) was looked up too: reconciled once it is fixed, as with label ids
    emu.add_label(project["a"], clean())
    fixed = RULES.validate_many(
        kili.assets(project_id=project["project"], fields=UNLABELED, disable_tqdm=True)
    )
    result = fixed.apply(kili, project_id=project["project"], dry_run=False)
    assert result.ok and result.count("solve_issue") == 2


def test_a_json_list_with_external_ids_only_is_applied(
    kili: Any, emu: KiliEmulator, project: Any, tmp_path: Path
) -> None:
    records = kili.assets(project_id=project["project"], fields=UNLABELED, disable_tqdm=True)
    for record in records:
        del record["id"]  # a list a team wrote: the external ids name the assets
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(records))
    report = RULES.validate_export(path)
    assert len(report) == 3 and all(row.asset_id is None for row in report)
    assert_applied(report.apply(kili, project_id=project["project"], dry_run=False), emu, project)


def test_an_asset_deleted_since_the_report_is_counted_and_fails(
    kili: Any, emu: KiliEmulator, project: Any
) -> None:
    report = audit(kili, project["project"])  # with label ids
    emu.delete_assets([project["b"]])
    result = report.apply(kili, project_id=project["project"], dry_run=False)
    assert not result.ok and result.not_applied == 1
    assert result.skipped == (
        (project["b"], "not found in the project (deleted since the report?)"),
    )
    head = result.headline()
    assert "NOT APPLIED to 1 asset(s): 1 not found in the project" in head
    assert "no change" not in str(result)
    # asset a, in the same batch, was applied all the same
    assert result.count("create_issue") == 2 and emu.sent_back == [project["a"]]
    again = report.apply(kili, project_id=project["project"], dry_run=False)
    assert not again.ok and len(again) == 0 and "nothing applied" in again.headline()


def test_a_relabeled_asset_is_not_given_the_new_labels_issues(
    kili: Any, emu: KiliEmulator, project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    export = tmp_path / "export.zip"
    kili.export_labels(
        project_id=project["project"], filename=str(export), fmt="kili", with_assets=False
    )
    report = RULES.validate_export(export)
    emu.add_label(project["b"], clean())  # b relabeled (and fixed) after the export
    result = report.apply(kili, project_id=project["project"], dry_run=False)
    assert not result.ok and [a for a, _why in result.skipped] == [project["b"]]
    assert "relabeled since the report" in result.headline()
    assert emu.issues(asset_id=project["b"]) == [] and project["b"] not in emu.sent_back


def test_audit_apply_exits_2_when_an_asset_cannot_be_applied(
    emu: KiliEmulator, project: Any, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    (blank,) = emu.add_assets(project["project"], [{"labels": [None]}])  # nothing to check
    env = {**os.environ, "KILI_SDK_SKIP_CHECKS": "1", "APPLY_KEY": emu.api_key}
    argv = [
        "audit",
        "--project",
        project["project"],
        "--rules",
        str(ROOT / "examples" / "rules.toml"),
    ]
    argv += ["--api-key-env", "APPLY_KEY", "--api-endpoint", emu.endpoint, "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *argv, "--apply", "-o", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("kili-rules: error: apply:")]
    assert "NOT APPLIED to 1 asset(s)" in line and "no change" not in done.stderr
    assert len(emu.issues(project["project"])) == 3 and emu.issues(asset_id=blank) == []


def cli(*args: str, env: dict[str, str]) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_apply_command_pushes_a_saved_export_report_and_fails_on_a_deleted_asset(
    kili: Any, emu: KiliEmulator, project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    env = {**os.environ, "KILI_SDK_SKIP_CHECKS": "1", "APPLY_KEY": emu.api_key}
    export, saved = tmp_path / "export.zip", tmp_path / "report.json"
    kili.export_labels(
        project_id=project["project"], filename=str(export), fmt="kili", with_assets=False
    )
    rules = str(ROOT / "examples" / "rules.toml")
    check = cli("check", str(export), "--rules", rules, "--project", project["project"],
                "-o", str(saved), env=env)  # fmt: skip
    assert check.returncode == 1, check.stderr  # violations
    key = ("--api-key-env", "APPLY_KEY", "--api-endpoint", emu.endpoint)

    dry = cli("apply", str(saved), "--rules", rules, "--dry-run", *key, env=env)
    assert dry.returncode == 0, dry.stderr
    pid = project["project"]
    assert f"dry run: 3 create_issue, 2 send_back, 2 metadata on project {pid}" in dry.stderr
    assert mutations(emu) == []

    emu.delete_assets([project["b"]])  # deleted between the check and the apply
    done = cli("apply", str(saved), "--rules", rules, *key, env=env)
    assert done.returncode == 2, done.stderr
    assert "NOT APPLIED to 1 asset(s): 1 not found in the project" in done.stderr
    assert "no change" not in done.stderr
    assert sorted(i["text"] for i in emu.issues()) == sorted([COUNT_TEXT, "BBox too large"])
    assert emu.sent_back == [project["a"]]

    again = cli("apply", str(saved), *key, env=env)
    assert again.returncode == 2 and "nothing applied" in again.stderr

    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": [{"rule": "r", "kind": "k", "severity": "fatal", "text": "t"}]}')
    refused = cli("apply", str(bad), "--project", project["project"], *key, env=env)
    assert refused.returncode == 2
    assert f"{bad}: rows[0].severity: expected error or warning" in refused.stderr
