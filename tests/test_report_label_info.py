"""The label's origin in every report view: labeler (author), label type, label date and the
asset's status, from the bundled example export (whose labels carry them) and from inputs
without them (no empty columns or charts then)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.kili.project import UncheckedRow
from kili_rules.report import COLUMNS, Report

EXAMPLES = Path(__file__).parent.parent / "examples"
EXPORT = EXAMPLES / "export" / "example_export.zip"
RULES = EXAMPLES / "rules.toml"
HEADERS = (
    "<th>labeler</th>",
    "<th>label type</th>",
    "<th>label date</th>",
    "<th>asset status</th>",
)
LABELER = "labeler@example.com"


@pytest.fixture(scope="module")
def example() -> Report:
    # The example export: 12 assets, all LABELED, each latest label a DEFAULT label by
    # labeler@example.com, created on 2024-03-01 .. 2024-03-12 (one asset a day, in order).
    # Six issues: street_003, _006, _008, _010 one each, tutorial_three_boxes two.
    return RuleSet.from_file(RULES).validate_export(EXPORT, progress=False)


def street_003(report: Report) -> Any:
    (row,) = [row for row in report if row.external_id == "street_003.jpg"]
    return row


def test_example_rows_carry_the_label_origin(example: Report) -> None:
    row = street_003(example)
    assert (row.author, row.label_type, row.asset_status) == (LABELER, "DEFAULT", "LABELED")
    assert row.created_at.startswith("2024-03-03")
    assert len(example) == 6 and {r.author for r in example} == {LABELER}


def test_example_page_has_label_columns_and_charts(example: Report) -> None:
    page = example.to_html()
    for header in HEADERS:
        assert page.count(header) == 1, header
    # The first page as plain HTML (before the script runs) has the values in the row.
    # The date to the minute (the exact value is in JSON and CSV).
    assert "<td>DEFAULT</td><td>2024-03-03 09:08 UTC</td><td>LABELED</td>" in page
    assert f"{LABELER}: 6</title>" in page  # the per-labeler chart: one bar, all 6 issues
    # The label-date chart: a column per day from the first to the last dated issue.
    days = re.findall(r'class="kr-day"[^>]*><title>([\d-]+): (\d+)</title>', page)
    assert len(days) == page.count('class="kr-day"') == 10  # 2024-03-03 .. 2024-03-12
    assert {day: int(n) for day, n in days if n != "0"} == {
        "2024-03-03": 1,
        "2024-03-06": 1,
        "2024-03-08": 1,
        "2024-03-10": 1,
        "2024-03-12": 2,
    }
    assert "The input has no" not in page
    # The table's data (drawn by the script) has the columns, and the asset status filter.
    data = json.loads(re.search(r'id="kr-data">(.*?)</script>', page).group(1))  # type: ignore[union-attr]
    assert {"labeler", "label type", "label date", "asset status"} <= set(data["columns"])
    assert 'id="kr-labeler"' in page and 'id="kr-status"' in page


def test_example_notebook_view_has_label_columns_and_four_charts(example: Report) -> None:
    html = example._repr_html_()
    for header in HEADERS:
        assert header in html, header
    assert html.count('<svg class="kr-chart') == 4
    assert f"{LABELER}: 6</title>" in html and html.count('class="kr-day"') == 10


def test_example_csv_json_jsonl_and_text_carry_the_label_origin(example: Report) -> None:
    expected = {
        "author": LABELER,
        "label_type": "DEFAULT",
        "asset_status": "LABELED",
        "created_at": street_003(example).created_at,
    }
    lines = list(csv.DictReader(io.StringIO(example.to_csv())))
    (line,) = [line for line in lines if line["external_id"] == "street_003.jpg"]
    assert {key: line[key] for key in expected} == expected
    document = json.loads(example.to_json())
    (row,) = [row for row in document["rows"] if row["external_id"] == "street_003.jpg"]
    assert {key: row[key] for key in expected} == expected
    assert document["summary"]["by_labeler"] == [
        {"labeler": LABELER, "issues": 6, "errors": 6, "warnings": 0, "assets": 5}
    ]
    jsonl = [json.loads(x) for x in example.to_jsonl().splitlines()]
    assert [
        {key: r[key] for key in expected} for r in jsonl if r["external_id"] == "street_003.jpg"
    ] == [expected]
    text = example.to_text()
    assert "Issues by labeler" in text
    assert re.search(rf"{re.escape(LABELER)}\s+6\s+6\s+0\s+5\n", text)
    frame = example.to_pandas()
    assert set(frame["author"]) == {LABELER}


def item(asset_id: str, boxes: int, **label: Any) -> dict[str, Any]:
    """An asset whose label has ``boxes`` large boxes of OBJECT_A (each an area issue)."""
    box = [{"x": 0.0, "y": 0.9}, {"x": 0.0, "y": 0.0}, {"x": 0.9, "y": 0.0}, {"x": 0.9, "y": 0.9}]
    annotations = [
        {
            "mid": f"{asset_id}-{i}",
            "type": "rectangle",
            "categories": [{"name": "OBJECT_A"}],
            "boundingPoly": [{"normalizedVertices": box}],
        }
        for i in range(boxes)
    ]
    return {
        "id": asset_id,
        "externalId": f"{asset_id}.jpg",
        "latestLabel": {"jsonResponse": {"JOB_0": {"annotations": annotations}}, **label},
    }


def area_rules() -> RuleSet:
    return RuleSet.from_dict({"rule": [{"id": "big", "kind": "area", "job": "JOB_0", "max": 0.5}]})


def test_without_label_info_no_empty_columns_or_charts() -> None:
    report = area_rules().validate_many([item("a1", 2), item("a2", 1)], progress=False)
    assert len(report) == 3 and all(row.author is None for row in report)
    for html in (report.to_html(), report._repr_html_()):
        for header in HEADERS:
            assert header not in html, header
        assert "kr-per-labeler" not in html and "kr-timeline" not in html
        assert "(unknown)" not in html
        assert html.count('<svg class="kr-chart') == 2  # per rule, per category
        assert "The input has no labeler or label date: those charts are left out." in html
    assert "Issues by labeler" not in report.to_text()
    assert report.by_labeler() == [] and json.loads(report.to_json())["summary"]["by_labeler"] == []
    lines = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert list(lines[0]) == list(COLUMNS)  # the CSV keeps its columns, empty
    assert {line["author"] for line in lines} == {""}


def test_some_labelers_without_dates_and_unknown_authors() -> None:
    items = [
        item("a1", 2, author={"email": "ann@example.com"}),
        item("a2", 1, author={"email": "bob@example.com"}, labelType="REVIEW"),
        item("a3", 1),  # no author
        {"id": "a4", "latestLabel": {"jsonResponse": "{not json"}},  # unreadable: a row
    ]
    report = area_rules().validate_many(items, progress=False)
    assert [row.author for row in report] == [
        "ann@example.com",
        "ann@example.com",
        "bob@example.com",
        None,
        None,
    ]
    page = report.to_html()
    assert "<th>labeler</th>" in page and "<th>label type</th>" in page
    assert "<th>label date</th>" not in page and "<th>asset status</th>" not in page
    for entry in ("ann@example.com: 2", "(unknown): 2", "bob@example.com: 1"):
        assert f"{entry}</title>" in page, entry
    assert "kr-timeline" not in page
    assert "The input has no label date: that chart is left out." in page
    assert report.by_labeler() == [
        {"labeler": "ann@example.com", "issues": 2, "errors": 2, "warnings": 0, "assets": 1},
        {"labeler": None, "issues": 2, "errors": 2, "warnings": 0, "assets": 2},
        {"labeler": "bob@example.com", "issues": 1, "errors": 1, "warnings": 0, "assets": 1},
    ]
    text = report.to_text()
    assert re.search(r"\(unknown\)\s+2\s+2\s+0\s+2\n", text)


@dataclass(frozen=True)
class FutureRow:
    """A row of a kind this version of the report does not know, with a severity it does not
    know either: every view must still show it."""

    asset_id: str | None = "f1"
    external_id: str | None = "f1.jpg"
    label_id: str | None = None
    rule: str = "future-rule"
    kind: str = "some_new_kind"
    severity: str = "notice"
    job: str | None = None
    category: str | None = None
    mid: str | None = None
    frame: int | None = None
    value: float | None = None
    limit: float | None = None
    text: str = "a finding of a new kind"
    source: str | None = None
    author: str | None = "carol@example.com"
    label_type: str | None = None
    created_at: str | None = "2024-05-01T10:00:00Z"
    asset_status: str | None = "TO_REVIEW"


def test_rows_of_unknown_kinds_render_in_every_view(example: Report) -> None:
    unchecked = UncheckedRow("u1", "u1.jpg", "l1", "no jsonResponse: not checked")
    report = Report([*example.rows, unchecked, FutureRow()], labels=14, assets=14)
    report.context = example.context
    page = report.to_html()
    assert "a finding of a new kind" in page and "u1.jpg" in page
    assert "carol@example.com: 1</title>" in page and "(unknown): 1</title>" in page
    assert "2024-05-01: 1</title>" in page  # 2024-03-03 .. 2024-05-01: still a column a day
    assert "<td>2024-05-01 10:00 UTC</td>" in page
    assert "a finding of a new kind" in report._repr_html_()
    odd = Report([FutureRow(created_at="1 May 2024")], labels=1, assets=1)
    assert "<td>1 May 2024</td>" in odd.to_html()  # not a Kili date: shown as it is
    assert "(1 issue undated)" in odd.to_html()  # and counted as undated in the chart
    text = report.to_text()
    assert "future-rule" in text and "a finding of a new kind" in text
    assert len(list(csv.DictReader(io.StringIO(report.to_csv())))) == 8
    assert len(json.loads(report.to_json())["rows"]) == 8
    assert len(report.to_jsonl().splitlines()) == 8
    assert "a finding of a new kind" in report.to_junit()
    labelers = {e["labeler"]: e["issues"] for e in report.by_labeler()}
    assert labelers == {LABELER: 6, "carol@example.com": 1, None: 1}
