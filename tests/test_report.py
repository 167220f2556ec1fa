"""Report views, built from real batch runs of the native core on small hand-made labels."""

from __future__ import annotations

import copy
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import kili_rules
import pytest
from kili_rules import Row, RuleSet
from kili_rules.report import COLUMNS, Report, progress_bar, row_to_dict

SEED = Path(__file__).parent / "data" / "seed"

TUTORIAL_RULES: dict[str, Any] = {
    "rule": [
        {
            "id": "too-many-object-a",
            "kind": "count",
            "job": "JOB_0",
            "category": "OBJECT_A",
            "max": 1,
            "message": "There are too many BBox ({count}) - Only 1 BBox of Object A accepted",
        },
        {
            "id": "bbox-too-large",
            "kind": "area",
            "job": "JOB_0",
            "max": 0.33,
            "message": "BBox too large",
        },
    ]
}
HOSTILE = "<script>alert(1)</script>"


def seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEED / name).read_text())
    return data


def small_box_response(category: str = "OBJECT_A") -> dict[str, Any]:
    """One 10% x 10% rectangle: passes both tutorial rules."""
    response = seed("json_response_one_box.json")
    annotation = copy.deepcopy(response["JOB_0"]["annotations"][0])
    annotation["boundingPoly"][0]["normalizedVertices"] = [
        {"x": 0.1, "y": 0.2},
        {"x": 0.1, "y": 0.1},
        {"x": 0.2, "y": 0.1},
        {"x": 0.2, "y": 0.2},
    ]
    annotation["categories"] = [{"name": category}]
    annotation["mid"] = "small-box"
    return {"JOB_0": {"annotations": [annotation]}}


def asset(asset_id: str, json_response: object, external_id: str | None = None) -> dict[str, Any]:
    return {
        "id": asset_id,
        "externalId": external_id if external_id is not None else f"{asset_id}.jpg",
        "latestLabel": {"jsonResponse": json_response},
    }


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet.from_dict(TUTORIAL_RULES)


@pytest.fixture(scope="module")
def report(rules: RuleSet) -> Report:
    """a1: three boxes (count + area issues), a2: one large box (area), a3: clean."""
    items = [
        asset("a1", seed("json_response_three_boxes.json")),
        asset("a2", seed("json_response_one_box.json")),
        asset("a3", small_box_response()),
    ]
    return rules.validate_many(items, progress=False)


def test_rows_counts_and_sequence_protocol(report: Report) -> None:
    assert isinstance(report, Report) and kili_rules.Report is Report
    assert len(report) == 3
    assert (report.labels, report.assets, report.invalid) == (3, 3, 0)
    assert (report.errors, report.warnings, report.assets_with_issues) == (3, 0, 2)
    assert all(isinstance(row, Row) for row in report)
    assert list(report) == report.rows == report[:]
    assert report[-1] == report.rows[-1]
    by_asset = sorted((row.asset_id, row.rule, row.mid) for row in report)
    assert by_asset == [
        ("a1", "bbox-too-large", "20221124161451411-13314"),
        ("a1", "too-many-object-a", None),
        ("a2", "bbox-too-large", "20221124161451411-13314"),
    ]
    count_row = next(row for row in report if row.kind == "count")
    assert count_row.external_id == "a1.jpg"
    assert count_row.text == "There are too many BBox (3) - Only 1 BBox of Object A accepted"
    assert (count_row.value, count_row.limit) == (3, 1)
    assert "3 issues" in repr(report)


def test_summary_counts_issues_and_distinct_assets(report: Report) -> None:
    summary = report.summary()
    per_rule: dict[str, list[int]] = {}
    for line in summary:
        issues_assets = per_rule.setdefault(line.rule, [0, 0])
        issues_assets[0] += line.issues
        issues_assets[1] += line.assets
    assert per_rule == {"bbox-too-large": [2, 2], "too-many-object-a": [1, 1]}
    assert summary[0].rule == "bbox-too-large"  # most frequent first
    assert summary.to_dicts()[0]["issues"] == 2
    text = str(summary)
    assert text.splitlines()[0].split() == [
        "RULE", "KIND", "SEVERITY", "JOB", "CATEGORY", "ISSUES", "ASSETS"
    ]  # fmt: skip
    assert "too-many-object-a" in text and "OBJECT_A" in text


def test_exit_codes_follow_fail_on(rules: RuleSet, report: Report) -> None:
    assert not report.ok
    assert [report.exit_code(level) for level in ("error", "warning", "never")] == [1, 1, 0]
    clean = rules.validate_many([asset("c", small_box_response())], progress=False)
    assert clean.ok and len(clean) == 0 and clean.labels == 1
    assert [clean.exit_code(level) for level in ("error", "warning", "never")] == [0, 0, 0]
    with pytest.raises(ValueError, match="fail_on"):
        report.exit_code("critical")


def test_warnings_pass_unless_fail_on_warning() -> None:
    rules = RuleSet.from_dict({"rule": [dict(TUTORIAL_RULES["rule"][1], severity="warning")]})
    report = rules.validate_many([asset("a2", seed("json_response_one_box.json"))], progress=False)
    assert (report.errors, report.warnings) == (0, 1)
    assert report.ok
    assert report.exit_code("error") == 0
    assert report.exit_code("warning") == 1
    assert "OK: 1 issue (0 errors, 1 warning)" in report.to_text()


def test_unreadable_label_is_a_row_and_fails(rules: RuleSet) -> None:
    items = [asset("bad", "{this is not json"), asset("good", small_box_response())]
    report = rules.validate_many(items, progress=False)
    assert report.invalid == 1
    (row,) = report.rows
    assert row.kind == "invalid_label"
    assert "item 0" in row.text and "jsonResponse" in row.text  # where, and what
    assert not report.ok
    assert report.exit_code("error") == 1 and report.exit_code("never") == 0
    suite = ET.fromstring(report.to_junit()).find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


def test_unreadable_label_keeps_its_asset_id(rules: RuleSet) -> None:
    report = rules.validate_many([asset("bad", "{this is not json")], progress=False)
    (row,) = report.rows
    assert (row.asset_id, row.external_id) == ("bad", "bad.jpg")


def test_json_round_trip(report: Report) -> None:
    document = json.loads(report.to_json())
    assert document["rows"] == [row_to_dict(row) for row in report]
    assert list(document["rows"][0]) == list(COLUMNS)
    summary = document["summary"]
    assert (summary["issues"], summary["errors"], summary["labels"], summary["ok"]) == (
        3,
        3,
        3,
        False,
    )
    assert summary["assets_with_issues"] == 2
    assert summary["by_rule"] == report.summary().to_dicts()


def test_jsonl_one_object_per_row(report: Report) -> None:
    text = report.to_jsonl()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert [json.loads(line) for line in lines] == report.to_dicts()
    empty = Report(labels=2, assets=2)
    assert empty.to_jsonl() == ""


def test_junit_per_asset(report: Report) -> None:
    root = ET.fromstring(report.to_junit())
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    # a1 and a2 fail; a3 is the one label without issues.
    assert [case.get("name") for case in cases] == ["a1.jpg", "a2.jpg", "1 labels without issues"]
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    assert (root.get("tests"), root.get("failures")) == ("3", "2")
    failure = cases[0].find("failure")
    assert failure is not None and failure.text is not None
    assert "There are too many BBox (3)" in failure.text
    assert "BBox too large" in failure.text
    assert cases[2].find("failure") is None


def test_junit_per_rule(report: Report) -> None:
    suite = ET.fromstring(report.to_junit(group="rule")).find("testsuite")
    assert suite is not None
    names = sorted(case.get("name") or "" for case in suite.findall("testcase"))
    assert names == ["bbox-too-large", "too-many-object-a"]
    assert suite.get("failures") == "2"


def test_clean_junit_is_a_passing_suite(rules: RuleSet) -> None:
    clean = rules.validate_many([asset("c", small_box_response())], progress=False)
    suite = ET.fromstring(clean.to_junit()).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")


@pytest.fixture(scope="module")
def hostile_report() -> Report:
    rules = RuleSet.from_dict(
        {
            "rule": [
                {"id": "no-script", "kind": "count", "job": "JOB_0", "category": HOSTILE, "max": 0}
            ]
        }
    )
    items = [asset("x1", small_box_response(category=HOSTILE), external_id=HOSTILE + "\x1b[2J\x00")]
    report = rules.validate_many(items, progress=False)
    assert len(report) == 1 and report[0].category == HOSTILE
    return report


def test_html_escapes_label_data(hostile_report: Report) -> None:
    for html in (hostile_report.to_html(), hostile_report._repr_html_()):
        assert HOSTILE not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = hostile_report.to_html(title="<b>QA</b>")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>&lt;b&gt;QA&lt;/b&gt;</title>" in page


def test_junit_and_text_survive_control_characters(hostile_report: Report) -> None:
    case = ET.fromstring(hostile_report.to_junit()).find("testsuite/testcase")
    assert case is not None
    assert (case.get("name") or "").startswith(HOSTILE)  # parsed back: escaped, not lost
    text = hostile_report.to_text()
    assert "\x1b" not in text and "\x00" not in text
    assert "\\x1b[2J" in text


def test_notebook_view_shows_summary_and_first_rows(rules: RuleSet) -> None:
    items = [asset(f"a{i}", seed("json_response_one_box.json")) for i in range(60)]
    report = rules.validate_many(items, progress=False)
    html = report._repr_html_()
    # Two header lines, one summary line, then the first html_max_rows issues only.
    assert html.count("<tr>") == 3 + Report.html_max_rows
    assert f"First {Report.html_max_rows} of 60 issues shown" in html
    assert html.count("a0.jpg") == 1 and "a59.jpg" not in html
    assert "a59.jpg" in report.to_html()  # the page has every issue


def test_concat_and_add(rules: RuleSet, report: Report) -> None:
    other = rules.validate_many([asset("z", seed("json_response_one_box.json"))], progress=False)
    merged = Report.concat([report, other])
    assert len(merged) == 4 and merged.labels == 4 and merged.assets == 4
    assert merged.rows == report.rows + other.rows
    assert len(report + other) == 4
    assert Report.concat([]).labels == 0


def test_to_pandas(report: Report) -> None:
    frame = report.to_pandas()
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 3
    assert str(frame["frame"].dtype) == "Int64"
    assert sorted(frame["rule"].value_counts().items()) == [
        ("bbox-too-large", 2),
        ("too-many-object-a", 1),
    ]


def test_to_pandas_names_the_extra_when_missing(
    report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"kili-rules\[pandas\]"):
        report.to_pandas()


def test_progress_bar(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with progress_bar(4, disable=False, desc="checking") as bar:
        bar.update(4)
    assert "checking" in capsys.readouterr().err  # tqdm draws on stderr
    with progress_bar(4, disable=True, desc="quiet") as bar:
        bar.update(4)
    assert capsys.readouterr().err == ""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # tqdm not installed
    with progress_bar(None, disable=False, desc="no tqdm") as bar:
        bar.update(1)
    assert capsys.readouterr().err == ""
