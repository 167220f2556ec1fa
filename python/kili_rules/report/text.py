"""Plain-text views of a report, for terminals and logs (``Report.to_text``, ``str(summary)``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kili_rules.report import Report, Summary

# Label data comes from annotators: a category name or an id must not be able to move the cursor,
# clear the screen or fake extra lines in a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_CELL = 40


def clean(value: object, limit: int | None = _MAX_CELL) -> str:
    """A value as one printable line, cut to ``limit`` characters."""
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = []
    for cells in (header, *rows):
        parts = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1 and i not in right:
                parts.append(cell)
            elif i in right:
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def summary_table(summary: Summary) -> str:
    if not summary:
        return "no issues"
    header = ("RULE", "KIND", "SEVERITY", "JOB", "CATEGORY", "ISSUES", "ASSETS")
    rows = [
        (
            clean(r.rule),
            clean(r.kind),
            clean(r.severity),
            clean(r.job),
            clean(r.category),
            str(r.issues),
            str(r.assets),
        )
        for r in summary
    ]
    return table(header, rows, right=frozenset({5, 6}))


def labeler_table(entries: Sequence[dict[str, Any]]) -> str:
    """The rows of ``Report.by_labeler()`` as a table."""
    header = ("LABELER", "ISSUES", "ERRORS", "WARNINGS", "ASSETS")
    rows = [
        (
            clean(e["labeler"] if e["labeler"] is not None else "(unknown)"),
            str(e["issues"]),
            str(e["errors"]),
            str(e["warnings"]),
            str(e["assets"]),
        )
        for e in entries
    ]
    return table(header, rows, right=frozenset({1, 2, 3, 4}))


def outcome_table(report: Report) -> str:
    """``Report.issue_outcomes`` as a table (precision = solved / (solved + cancelled))."""
    entries = report.issue_outcomes or []
    if not entries:
        return "(none read from Kili)"
    header = ("RULE", "LABELER", "CATEGORY", "SOLVED", "CANCELLED", "OPEN", "PRECISION")
    rows = [
        (
            clean(e["rule"]),
            clean(e["labeler"] if e["labeler"] is not None else "(unknown)"),
            clean(e["category"] or ""),
            str(e["solved"]),
            str(e["cancelled"]),
            str(e["open"]),
            f"{e['precision']:.0%}" if e["precision"] is not None else "-",
        )
        for e in entries
    ]
    return table(header, rows, right=frozenset({3, 4, 5, 6}))


def headline(report: Report) -> str:
    """The verdict in one line, e.g. ``FAILED: 5 issues (4 errors, 1 warning) in 3 assets``."""
    if not report.labels and not len(report):
        return "NOTHING CHECKED: no label was read"
    if report.unchecked and not report.labels:
        # Every label lacked its jsonResponse: nothing was judged, whatever --fail-on says.
        return f"NOTHING CHECKED: {_unchecked(report)}"
    # The verdict follows the severity the run fails at (``--fail-on``), as the exit code does.
    verdict = "FAILED" if report.exit_code(report.fail_on) else "OK"
    if not len(report):
        return f"{verdict}: no issues"
    errors = f"{report.errors} error{'s' * (report.errors != 1)}"
    warnings = f"{report.warnings} warning{'s' * (report.warnings != 1)}"
    assets = report.assets_with_issues
    line = (
        f"{verdict}: {len(report)} issue{'s' * (len(report) != 1)} ({errors}, {warnings}) "
        f"in {assets} asset{'s' * (assets != 1)}"
    )
    line = f"{line}; {_unchecked(report)}" if report.unchecked else line
    return "; ".join([line, *tolerance_notes(report)])


def tolerance_notes(report: Report) -> list[str]:
    """``box-size: 3.1% of 1,204 labels, within the 5% tolerance`` per rule with one."""
    notes = []
    for t in report.tolerance_status():
        if t["fraction"] is None:
            notes.append(f"{t['rule']}: no label checked, tolerance {_pct(t['max_fraction'])}")
            continue
        side = "within" if t["within"] else "over"
        notes.append(
            f"{t['rule']}: {_pct(t['fraction'])} of {t['labels']:,} labels, {side} the "
            f"{_pct(t['max_fraction'])} tolerance"
        )
    return notes


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _unchecked(report: Report) -> str:
    n = report.unchecked
    return f"{n} label{'s' * (n != 1)} not checked (no jsonResponse: fetch it)"


def render_text(report: Report, *, max_rows: int | None) -> str:
    lines = [
        f"kili-rules: checked {report.labels} labels in {report.assets} assets"
        f" ({report.invalid} unreadable, {report.unchecked} unchecked)",
        headline(report),
    ]
    context = report.context
    if context.inputs:
        lines.append(f"inputs: {', '.join(clean(i, limit=None) for i in context.inputs)}")
    if context.rules_file:
        lines.append(f"rules file: {clean(context.rules_file, limit=None)}")
    lines += [f"warning: {clean(note, None)}" for note in report.notes]
    if report.fingerprint:
        lines.append(f"rules fingerprint: {report.fingerprint[:16]}")
    if report.issue_outcomes is not None:
        lines += ["", "Issues kili-rules created, as reviewers closed them", outcome_table(report)]
    if not len(report):
        return "\n".join(lines) + "\n"
    lines += ["", "Issues by rule", summary_table(report.summary())]
    labelers = report.by_labeler()
    if labelers:  # only when the input says who labeled
        lines += ["", "Issues by labeler", labeler_table(labelers)]
    lines += ["", "Issues"]
    with_frame = any(row.frame is not None for row in report)
    header = ["ASSET", "RULE", "SEVERITY", "CATEGORY", "MID"]
    header += ["FRAME"] if with_frame else []
    header += ["VALUE", "LIMIT", "TEXT"]
    shown = report[:max_rows] if max_rows is not None else report.rows
    rows = []
    for row in shown:
        cells = [
            clean(row.external_id or row.asset_id or row.source),
            clean(row.rule),
            clean(row.severity),
            clean(row.category),
            clean(row.mid),
        ]
        cells += [clean(row.frame)] if with_frame else []
        cells += [clean(row.value), clean(row.limit), clean(row.text, limit=None)]
        rows.append(cells)
    lines.append(table(header, rows, right=frozenset()))
    if len(shown) < len(report):
        lines.append(f"... and {len(report) - len(shown)} more issues")
    return "\n".join(lines) + "\n"
