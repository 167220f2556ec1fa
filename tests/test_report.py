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
    assert "a49.jpg" in html and "a50.jpg" not in html
    # Compact but complete in kind: the charts (no labeler or date in these labels: two charts
    # and a note, tests/test_report_label_info.py has all four) and a couple of drawings.
    assert html.count('<svg class="kr-chart') == 2
    assert "The input has no labeler or label date" in html
    assert html.count('<svg class="kr-drawing"') == 2
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


# -- CSV, what was checked, links -----------------------------------------------------------------


def test_csv_has_every_row_and_column(report: Report) -> None:
    import csv
    import io

    lines = list(csv.reader(io.StringIO(report.to_csv())))
    assert lines[0] == list(COLUMNS)
    assert len(lines) == 1 + len(report)
    expected = [["" if v is None else str(v) for v in row_to_dict(row).values()] for row in report]
    assert lines[1:] == expected
    assert Report().to_csv() == ",".join(COLUMNS) + "\r\n"  # RFC 4180 record ends


def test_context_links_and_json_header(report: Report) -> None:
    from kili_rules.report import Context

    assert Context().link("a1") is None  # no project id: no link
    context = Context(project_id="p 1", kili_url="https://kili.example.org/")
    assert context.link("a/1") == "https://kili.example.org/label/projects/p%201/labeling/a%2F1"
    assert context.link(None) is None
    custom = context.with_(asset_url="{kili_url}/app/{project_id}/asset/{asset_id}")
    assert custom.link("a1") == "https://kili.example.org/app/p%201/asset/a1"
    linked = Report(report.rows, labels=3, assets=3, context=context.with_(inputs=("x.zip",)))
    page = linked.to_html()
    assert 'href="https://kili.example.org/label/projects/p%201/labeling/a1"' in page
    checked = json.loads(linked.to_json())["checked"]
    assert checked["inputs"] == ["x.zip"] and checked["project_id"] == "p 1"
    assert checked["version"] == kili_rules.__version__ and checked["checked_at"]


def test_page_says_what_was_checked(rules: RuleSet, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([asset("a2", seed("json_response_one_box.json"))]))
    report = rules.validate_export(path)
    assert report.context.inputs == (str(path),)
    page = report.to_html()
    assert str(path) in page and rules.fingerprint in page and kili_rules.__version__ in page
    assert f"inputs: {path}" in report.to_text()


# -- drawings -------------------------------------------------------------------------------------


def two_objects(large: str = "OBJECT_A", small: str = "OBJECT_B") -> dict[str, Any]:
    """A large box (breaks the area rule) and a small one (breaks nothing)."""
    response = seed("json_response_one_box.json")
    large_box = copy.deepcopy(response["JOB_0"]["annotations"][0])
    large_box["categories"] = [{"name": large}]
    small_box = small_box_response(small)["JOB_0"]["annotations"][0]
    return {"JOB_0": {"annotations": [large_box, small_box]}}


def drawing_of(page: str) -> str:
    start = page.index('<svg class="kr-drawing"')
    return page[start : page.index("</svg>", start)]


def test_drawing_highlights_the_offending_object(rules: RuleSet) -> None:
    item = asset("d1", two_objects())
    item["resolution"] = {"width": 1000, "height": 500}
    report = rules.validate_many([item], progress=False)
    assert [row.rule for row in report] == ["bbox-too-large"]
    svg = drawing_of(report.to_html())
    assert svg.count('class="kr-hit"') == 1 and svg.count('class="kr-faint"') == 1
    assert 'width="260" height="130"' in svg  # the asset's 2:1 aspect ratio
    assert "<image" not in svg  # no image unless allowed


def test_drawing_images_only_when_allowed(rules: RuleSet, tmp_path: Path) -> None:
    picture = tmp_path / "d1.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    local = asset("d1", two_objects())
    local["content"] = str(picture)
    remote = asset("d2", two_objects())
    remote["content"] = 'https://cdn.example.com/d2.jpg?"><script>'
    report = rules.validate_many([local, remote], progress=False)
    assert "<image" not in report.to_html()
    page = report.to_html(images=True)  # local files only
    assert picture.resolve().as_uri() in page and "cdn.example.com" not in page
    page = report.to_html(images=["https://cdn.example.com/"])
    assert 'href="https://cdn.example.com/d2.jpg?&quot;&gt;&lt;script&gt;"' in page
    assert '<script>"' not in page and picture.resolve().as_uri() not in page
    page = report.to_html(images=["local", "https://cdn.example.com/"])
    assert picture.resolve().as_uri() in page and "cdn.example.com/d2.jpg" in page
    assert "cdn.example.com/d2.jpg" not in report.to_html(images=["https://cdn.other/"])


def test_drawings_are_capped_per_rule_with_a_note(rules: RuleSet) -> None:
    items = [asset(f"c{i}", two_objects()) for i in range(10)]
    report = rules.validate_many(items, progress=False)
    page = report.to_html(drawings_per_rule=3)
    assert page.count('<svg class="kr-drawing"') == 3
    assert "3 of 10 labels with findings drawn (the first 3 per rule)" in page
    assert '<svg class="kr-drawing"' not in report.to_html(drawings_per_rule=0)


def test_label_level_finding_highlights_its_category(rules: RuleSet) -> None:
    # The count rule points at no mid: every OBJECT_A is what it is about, OBJECT_B is not.
    response = seed("json_response_three_boxes.json")
    response["JOB_0"]["annotations"] += small_box_response("OBJECT_B")["JOB_0"]["annotations"]
    report = rules.validate_many([asset("k", response)], progress=False)
    svg = drawing_of(report.to_html())
    assert svg.count('class="kr-hit"') == 3 and svg.count('class="kr-faint"') == 1


def test_drawings_read_every_export_shape_again(rules: RuleSet, tmp_path: Path) -> None:
    items = [asset("a1", seed("json_response_three_boxes.json")), asset("a2", small_box_response())]
    folder = tmp_path / "folder" / "labels"
    folder.mkdir(parents=True)
    for item in items:
        (folder / f"{item['id']}.json").write_text(json.dumps(item))
    (tmp_path / "list.json").write_text(json.dumps(items))
    (tmp_path / "lines.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    for path in (tmp_path / "folder", tmp_path / "list.json", tmp_path / "lines.jsonl"):
        page = rules.validate_export(path).to_html()
        svg = drawing_of(page)
        assert svg.count('class="kr-hit"') == 3, path
        assert "label not found again" not in page, path
    # A generator is not kept: the page says why there is no drawing.
    page = rules.validate_many(iter(items), progress=False).to_html()
    assert "No drawings: the labels cannot be read again" in page
    assert '<svg class="kr-drawing"' not in page


def test_charts_over_time() -> None:
    from kili_rules.report import charts

    daily = charts.timeline(
        "t", ["2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", "2024-03-03", None]
    )
    assert daily.count('class="kr-day"') == 3  # 1, 2 and 3 March (an empty day is a column)
    assert "2024-03-01: 2</title>" in daily and "1 undated" in daily
    weekly = charts.timeline("t", ["2024-01-01", "2024-06-30", "bad date"])
    assert "issues per week" in weekly and "week of 2024-01-01: 1" in weekly
    assert "no label date reads as a date (2 issues undated)" in charts.timeline("t", [None, None])
    bars = charts.bar_chart("r", [(f"rule{i}", i + 1) for i in range(20)], max_bars=5)
    assert bars.count('class="kr-bar"') == 5 and "16 others" in bars
    assert "&lt;b&gt;" in charts.bar_chart("<b>", [("<b>", 1)])
