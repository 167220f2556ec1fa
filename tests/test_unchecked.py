"""A label record without jsonResponse (the field was not fetched) is never a clean label: it is
an ``unchecked`` row, counted, failing the run, naming the ``fields=`` to fetch; in every entry
point (validate_many, validate_export, validate, the CLI) and every report view."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules import LabelError, RuleSet
from kili_rules.testing import KiliEmulator

ROOT = Path(__file__).resolve().parent.parent

# Both labels below break both rules.
RULES_DOC: dict[str, Any] = {
    "rule": [
        {"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1},
        {"id": "cls", "kind": "required", "job": "CLASSIFICATION_JOB"},
    ]
}
RULES = RuleSet.from_dict(RULES_DOC)
LATEST = 'fetch it with kili.assets(..., fields=[..., "latestLabel.jsonResponse"])'


def box(mid: str) -> dict[str, Any]:
    pts = [(0.1, 0.1), (0.1, 0.2), (0.2, 0.2), (0.2, 0.1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "OBJECT_A"}],
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in pts]}],
    }


BAD_LABEL = {"JOB_0": {"annotations": [box("m1"), box("m2")]}}


def records(with_response: bool) -> list[dict[str, Any]]:
    out = []
    for i in range(2):
        label: dict[str, Any] = {"id": f"l{i}"}
        if with_response:
            label["jsonResponse"] = BAD_LABEL
        out.append({"id": f"a{i}", "externalId": f"x{i}", "latestLabel": label})
    return out


def assert_unchecked(report: Any, n: int, hint: str = LATEST) -> None:
    rows = [r for r in report if r.kind == "unchecked"]
    assert len(rows) == n and report.unchecked == n
    for row in rows:
        assert (row.rule, row.severity) == ("unchecked", "error")
        assert row.text.startswith("label not checked: it has no jsonResponse"), row.text
        assert hint in row.text, row.text
    assert not report.ok and report.exit_code() == 1
    assert report.totals()["unchecked"] == n


# -- the case of the issue, with the real kili client against the emulator ------------------


@pytest.fixture(scope="module")
def emu() -> Iterator[KiliEmulator]:
    with KiliEmulator() as emulator:
        yield emulator


@pytest.fixture()
def kili(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    return emu.kili_client()


def test_assets_fetched_with_no_label_field_at_all_are_not_ok(emu: KiliEmulator, kili: Any) -> None:
    """kili.assets(fields=["id", "externalId"]): an asset record, not an empty jsonResponse."""
    project = emu.add_project()
    emu.add_assets(project, [{"external_id": f"x{i}", "labels": [BAD_LABEL]} for i in range(2)])
    assets = kili.assets(project, fields=["id", "externalId"])
    for items in (assets, [json.dumps(a) for a in assets]):
        report = RULES.validate_many(items)
        assert (report.labels, report.assets, report.unchecked) == (0, 2, 2)
        assert_unchecked(report, 2)
        assert all(LATEST in r.text for r in report)
    # a bare jsonResponse (jobs only, or an empty one) is still a label that is judged
    judged = RULES.validate_many([{"JOB_0": {"annotations": []}}, {}])
    assert (judged.labels, judged.unchecked) == (2, 0)


@pytest.mark.e2e
def test_assets_fetched_without_json_response_are_not_ok(emu: KiliEmulator, kili: Any) -> None:
    project = emu.add_project()
    emu.add_assets(project, [{"external_id": f"x{i}", "labels": [BAD_LABEL]} for i in range(2)])
    assets = kili.assets(project, fields=["id", "externalId", "latestLabel.id"])
    assert all("jsonResponse" not in a["latestLabel"] for a in assets)
    report = RULES.validate_many(assets)
    assert (report.labels, report.assets, len(report)) == (0, 2, 2)
    assert_unchecked(report, 2)
    assert "OK" not in report.to_text() and "NOTHING CHECKED" in report.to_text()
    assert sorted(r.external_id for r in report) == ["x0", "x1"]
    # pushing to Kili leaves such assets alone: their findings are not known
    applied = report.apply(kili, project_id=project, dry_run=True)
    assert sorted(asset for asset, _why in applied.skipped) == sorted(r.asset_id for r in report)
    assert applied.count("create_issue") == 0 and applied.count("send_back") == 0
    # fetched with its jsonResponse, the same assets break both rules
    fetched = kili.assets(
        project, fields=["id", "externalId", "latestLabel.id", "latestLabel.jsonResponse"]
    )
    full = RULES.validate_many(fetched)
    assert (full.labels, full.unchecked) == (2, 0)
    assert sorted(r.rule for r in full) == ["cls", "cls", "one-a", "one-a"]


@pytest.mark.e2e
def test_labels_fetched_without_json_response_name_the_labels_field(
    emu: KiliEmulator, kili: Any
) -> None:
    project = emu.add_project()
    ids = emu.add_assets(project, [{"labels": [BAD_LABEL]} for _ in range(3)])
    labels = kili.labels(project, fields=["id", "labelOf.id", "labelOf.externalId"])
    report = RULES.validate_many(labels)
    assert_unchecked(report, 3, 'kili.labels(..., fields=[..., "jsonResponse"])')
    assert sorted(r.asset_id for r in report) == sorted(ids)
    assert report.labels == 0 and report.assets == 3


@pytest.mark.e2e
def test_validate_project_counts_its_unchecked_labels_the_same_way(
    emu: KiliEmulator, kili: Any
) -> None:
    # validate_project asks for the jsonResponse; a label Kili keeps without one inline (or
    # whose URL cannot be downloaded) is the same kind of row, counted the same way.
    project = emu.add_project()
    emu.add_assets(project, [{"labels": [BAD_LABEL]}, {"labels": [None]}])
    report = RULES.validate_project(kili, project, disable_tqdm=True)
    (row,) = [r for r in report if r.kind == "unchecked"]
    assert (row.rule, row.severity) == ("unchecked", "error")
    assert row.text.startswith("label not checked: ")
    assert (report.labels, report.unchecked) == (1, 1)
    assert report.totals()["unchecked"] == 1 and not report.ok
    assert "1 label not checked" in report.to_text()


# -- validate_many: dicts and JSON text alike; `{}` is an empty label, checked ---------------


@pytest.mark.parametrize("as_json", [False, True])
def test_validate_many_dicts_and_json(as_json: bool) -> None:
    items: list[Any] = [
        {"id": "a", "latestLabel": {"id": "l1"}},  # not fetched
        {"id": "b", "latestLabel": {"id": "l2", "jsonResponse": {}}},  # empty: checked
        {"id": "c", "labels": [{"id": "l3"}, {"id": "l4", "jsonResponse": BAD_LABEL}]},
        {"id": "d", "latestLabels": [{"id": "l5"}]},
        {"id": "e", "latestLabel": None},  # no label at all: nothing to check, no row
    ]
    if as_json:
        items = [json.dumps(i) for i in items]
    report = RULES.validate_many(items)
    assert (report.labels, report.unchecked, report.assets) == (2, 3, 5)
    unchecked = {(r.asset_id, r.label_id): r.text for r in report if r.kind == "unchecked"}
    assert set(unchecked) == {("a", "l1"), ("c", "l3"), ("d", "l5")}
    assert '"latestLabel.jsonResponse"' in unchecked[("a", "l1")]
    assert '"labels.jsonResponse"' in unchecked[("c", "l3")]
    assert '"latestLabels.jsonResponse"' in unchecked[("d", "l5")]
    # the empty label is judged (it has no classification), the full one breaks both rules
    judged = sorted((r.label_id, r.rule) for r in report if r.kind != "unchecked")
    assert judged == [("l2", "cls"), ("l4", "cls"), ("l4", "one-a")]


def test_python_rules_do_not_run_on_unchecked_labels() -> None:
    import kili_rules
    from kili_rules import Finding, LabelView

    seen: list[str | None] = []

    @kili_rules.python_rule(id="sees")
    def sees(label: LabelView) -> list[Finding]:
        seen.append(label.label_id)
        return []

    rules = RuleSet([sees])
    report = rules.validate_many([{"id": "a", "latestLabel": {"id": "l1"}}])
    assert seen == [] and report.unchecked == 1 and not report.ok


def test_validate_one_label_raises_naming_the_field() -> None:
    with pytest.raises(LabelError, match=r"latestLabel: label not checked: .*latestLabel\.json"):
        RULES.validate({"id": "a", "latestLabel": {"id": "l1"}})
    with pytest.raises(LabelError, match=r"label not checked: .*kili\.labels"):
        RULES.decide({"id": "l1", "labelOf": {"id": "a"}})
    # an empty jsonResponse is a label, and is judged
    assert [i.rule for i in RULES.validate({"id": "l1", "jsonResponse": {}})] == ["cls"]


# -- exports and the CLI ----------------------------------------------------------------------


def write_export(kind: str, tmp_path: Path) -> Path:
    recs = records(with_response=False)
    if kind == "zip":
        path = tmp_path / "export.zip"
        with zipfile.ZipFile(path, "w") as z:
            for r in recs:
                z.writestr(f"labels/{r['externalId']}.json", json.dumps(r))
    elif kind == "folder":
        path = tmp_path / "export"
        (path / "labels").mkdir(parents=True)
        for r in recs:
            (path / "labels" / f"{r['externalId']}.json").write_text(json.dumps(r))
    elif kind == "list":
        path = tmp_path / "export.json"
        path.write_text(json.dumps(recs))
    else:
        path = tmp_path / "export.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


@pytest.mark.parametrize("kind", ["zip", "folder", "list", "jsonl"])
def test_validate_export(kind: str, tmp_path: Path) -> None:
    report = RULES.validate_export(write_export(kind, tmp_path))
    assert (report.labels, report.assets) == (0, 2)
    assert_unchecked(report, 2)
    assert all(r.source for r in report)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_check_fails_and_every_view_shows_it(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES_DOC))
    export = write_export("zip", tmp_path)

    r = run("check", export, "--rules", rules)
    assert r.returncode == 1, r  # findings, not a usage error: the labels were read
    assert "OK" not in r.stdout, r.stdout
    assert "NOTHING CHECKED: 2 labels not checked" in r.stdout
    assert "0 labels in 2 assets (0 unreadable, 2 unchecked)" in r.stdout
    assert "latestLabel.jsonResponse" in r.stdout

    r = run("check", export, "--rules", rules, "--format", "json")
    summary = json.loads(r.stdout)["summary"]
    assert (r.returncode, summary["ok"], summary["unchecked"], summary["labels"]) == (
        1,
        False,
        2,
        0,
    )

    r = run("check", export, "--rules", rules, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["kind"] for row in rows] == ["unchecked", "unchecked"]
    assert all("latestLabel.jsonResponse" in row["text"] for row in rows)

    r = run("check", export, "--rules", rules, "--format", "junit")
    suite = ET.fromstring(r.stdout).find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    assert "no jsonResponse" in r.stdout

    r = run("check", export, "--rules", rules, "--format", "html")
    assert "2 unchecked" in r.stdout
    assert '<span class="kili-rules-error">NOTHING CHECKED: 2 labels not checked' in r.stdout

    # --fail-on never is the user's call: exit 0, but the headline still does not say OK
    r = run("check", export, "--rules", rules, "--fail-on", "never")
    assert r.returncode == 0 and "OK" not in r.stdout.splitlines()[1], r.stdout


def test_mixed_run_headline_counts_unchecked(tmp_path: Path) -> None:
    recs = records(with_response=True) + records(with_response=False)[:1]
    report = RULES.validate_many(recs)
    assert (report.labels, report.unchecked) == (2, 1)
    text = report.to_text()
    assert text.splitlines()[1].startswith("FAILED: 5 issues") and "1 label not checked" in text
