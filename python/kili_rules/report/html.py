"""HTML views of a report: a notebook fragment (``_repr_html_``) and a standalone page.

Everything that comes from labels or rules (ids, categories, messages) is escaped: an export is
data written by annotators, and a report page is opened in a browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from kili_rules.report.text import headline

if TYPE_CHECKING:
    from kili_rules._native import Row
    from kili_rules.report import Report, Summary

_ROW_COLUMNS = (
    "asset",
    "label",
    "rule",
    "severity",
    "job",
    "category",
    "mid",
    "frame",
    "value",
    "limit",
    "text",
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table.kili-rules { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
table.kili-rules th, table.kili-rules td { border: 1px solid #ccc; padding: 0.25em 0.6em;
  text-align: left; vertical-align: top; white-space: pre-wrap; }
table.kili-rules th { background: #f2f2f2; }
table.kili-rules td.num { text-align: right; }
.kili-rules-error { color: #b00020; font-weight: 600; }
.kili-rules-warning { color: #a15c00; }
.kili-rules-ok { color: #1b7f3b; font-weight: 600; }
"""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int]) -> str:
    """``rows`` hold cells that are already escaped."""
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = []
    for cells in rows:
        tds = "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(cells)
        )
        body.append(f"<tr>{tds}</tr>")
    return (
        f'<table class="kili-rules"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _severity(severity: str) -> str:
    css = "kili-rules-error" if severity == "error" else "kili-rules-warning"
    return f'<span class="{css}">{escape(severity)}</span>'


def summary_table(summary: Summary) -> str:
    if not summary:
        return "<p>No issues.</p>"
    header = ("rule", "kind", "severity", "job", "category", "issues", "assets")
    rows = [
        (
            _cell(r.rule),
            _cell(r.kind),
            _severity(r.severity),
            _cell(r.job),
            _cell(r.category),
            str(r.issues),
            str(r.assets),
        )
        for r in summary
    ]
    return _table(header, rows, numeric=frozenset({5, 6}))


def issues_table(rows: Sequence[Row]) -> str:
    cells = [
        (
            _cell(row.external_id or row.asset_id or row.source),
            _cell(row.label_id),
            _cell(row.rule),
            _severity(row.severity),
            _cell(row.job),
            _cell(row.category),
            _cell(row.mid),
            _cell(row.frame),
            _cell(row.value),
            _cell(row.limit),
            _cell(row.text),
        )
        for row in rows
    ]
    return _table(_ROW_COLUMNS, cells, numeric=frozenset({7, 8, 9}))


def _verdict(report: Report) -> str:
    css = "kili-rules-ok" if report.ok else "kili-rules-error"
    counts = (
        f"{report.labels} labels in {report.assets} assets checked, {report.invalid} unreadable"
    )
    return f'<p><span class="{css}">{escape(headline(report))}</span> — {escape(counts)}</p>'


def render_fragment(report: Report, *, max_rows: int) -> str:
    """Notebook view: verdict, the complete per-rule summary, the first ``max_rows`` issues."""
    parts = [f'<div class="kili-rules-report"><style>{_STYLE}</style>', _verdict(report)]
    if len(report):
        parts += ["<h4>Issues by rule</h4>", summary_table(report.summary())]
        parts += [f"<h4>Issues ({len(report)})</h4>", issues_table(report[:max_rows])]
        if len(report) > max_rows:
            parts.append(
                f"<p>First {max_rows} of {len(report)} issues shown; "
                "use <code>report.to_pandas()</code> or <code>report.to_html()</code> "
                "for all.</p>"
            )
    parts.append("</div>")
    return "".join(parts)


def render_page(report: Report, *, title: str) -> str:
    """A complete HTML document with every issue."""
    fingerprint = (
        f"<p>Rules fingerprint: <code>{escape(report.fingerprint)}</code></p>"
        if report.fingerprint
        else ""
    )
    body = [
        f"<h1>{escape(title)}</h1>",
        _verdict(report),
        fingerprint,
        "<h2>Issues by rule</h2>",
        summary_table(report.summary()),
    ]
    if len(report):
        body += [f"<h2>Issues ({len(report)})</h2>", issues_table(report.rows)]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{''.join(body)}\n</body></html>\n"
    )
