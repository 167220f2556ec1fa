"""HTML views of a report: a notebook fragment (``_repr_html_``) and a standalone page.

The page works offline from a file: styles, charts (SVG), drawings (SVG) and a small script are
inline; nothing is fetched. The issues table holds at most ``max_rows`` issues as compact JSON
and the script shows them a page at a time, with filter and sort, so a run with hundreds of
thousands of issues is still a page a browser opens in seconds; the full data stays in the JSON,
JSON Lines and CSV outputs. Without script the first page of issues is there as plain HTML.

Everything that comes from labels or rules (ids, categories, messages) is escaped: an export is
data written by annotators, and a report page is opened in a browser. The script writes cells
with ``textContent`` only. Every such field is also cut (:mod:`kili_rules.report.clip`): a cell
shows the start of a long field and the rest on demand, up to a bound, so what a label holds
cannot make a page large or slow.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from html import escape
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from kili_rules.report import charts, clip, drawings
from kili_rules.report.text import headline

if TYPE_CHECKING:
    from kili_rules._native import Row
    from kili_rules.report import Report, Summary

#: Issues per page of the table.
PAGE_SIZE = 100


def _opt(row: Row, name: str) -> Any:
    return getattr(row, name, None)  # label columns: absent from rows of an older core


# (header, Row attribute, numeric) for every column the table can show; "asset" is the external
# id, else the asset id, else the source.
# The message comes fourth, after what identifies the finding: the table is wider than a
# screen, and the message is what a reader came for (at the end it sat off-screen at 1400 px).
_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("asset", "", False),
    ("rule", "rule", False),
    ("severity", "severity", False),
    ("message", "text", False),
    ("job", "job", False),
    ("category", "category", False),
    ("mid", "mid", False),
    ("frame", "frame", True),
    ("value", "value", True),
    ("limit", "limit", True),
    ("labeler", "author", False),
    ("label type", "label_type", False),
    ("label date", "created_at", False),
    ("asset status", "asset_status", False),
    ("label", "label_id", False),
)
# Shown even when empty: the table would not say much without them.
_ALWAYS = {"asset", "rule", "severity", "message"}
MESSAGE = "message"

_STYLE = (
    """
.kili-rules-report, body.kili-rules-page { font-family: system-ui, sans-serif; color: #222; }
body.kili-rules-page { margin: 2em; }
table.kili-rules { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
table.kili-rules th, table.kili-rules td { border: 1px solid #ccc; padding: 0.25em 0.6em;
  text-align: left; vertical-align: top; white-space: pre-wrap; }
table.kili-rules th { background: #f2f2f2; }
table.kili-rules th button { all: unset; cursor: pointer; }
table.kili-rules td.num { text-align: right; }
/* The issues table: one line per cell but the message, which wraps; wider than the page, it
   scrolls sideways rather than squeezing ids and rule names into columns of syllables. */
.kr-wide { overflow-x: auto; max-width: 100%; }
.kr-wide table.kili-rules td { white-space: nowrap; }
.kr-wide table.kili-rules td.kr-msg { white-space: pre-wrap; min-width: 16em; max-width: 32em; }
/* A long field: its start, the rest on demand (kili_rules.report.clip). */
details.kr-more summary { cursor: pointer; }
details.kr-more[open] { white-space: pre-wrap; overflow-wrap: anywhere; min-width: 24em;
  max-width: 48em; max-height: 24em; overflow: auto; }
dl.kr-checked { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em;
  font-size: 0.9em; }
dl.kr-checked dt { color: #555; } dl.kr-checked dd { margin: 0; overflow-wrap: anywhere; }
.kr-charts { display: flex; flex-wrap: wrap; gap: 1.5em; margin: 0.5em 0 1em; }
.kr-controls { display: flex; flex-wrap: wrap; gap: 0.6em; align-items: center; }
.kr-note { color: #555; font-size: 0.9em; }
.kili-rules-error { color: #b00020; font-weight: 600; }
.kili-rules-warning { color: #a15c00; }
.kili-rules-ok { color: #1b7f3b; font-weight: 600; }
"""
    + drawings.DRAWING_STYLE
)


def _cell(value: object, show: int = clip.SHOW) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return clip.cell(str(value), show)


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: frozenset[int],
    *,
    attrs: str = "",
    message: int = -1,
) -> str:
    """``rows`` hold cells that are already escaped; column ``message`` wraps."""
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = []
    for cells in rows:
        tds = "".join(
            f'<td class="num">{cell}</td>'
            if i in numeric
            else f'<td class="kr-msg">{cell}</td>'
            if i == message
            else f"<td>{cell}</td>"
            for i, cell in enumerate(cells)
        )
        body.append(f"<tr>{tds}</tr>")
    return (
        f'<table class="kili-rules"{attrs}><thead><tr>{head}</tr></thead>'
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


def trends_table(trends: Sequence[dict[str, Any]]) -> str:
    if not trends:
        return "<p>No rule flagged labels in either run.</p>"
    header = ("rule", "before", "now", "change", "trend")
    rows = [
        (
            _cell(t["rule"]),
            f"{100 * t['before']:.1f}%",
            f"{100 * t['after']:.1f}%",
            f"{100 * t['change']:+.1f} pts",
            ("up" if t["change"] > 0 else "down") + " beyond the threshold"
            if t["flagged"]
            else "steady",
        )
        for t in trends
    ]
    return _table(header, rows, numeric=frozenset({1, 2, 3}))


# Kili's dates are UTC to the millisecond ("2024-03-03T09:08:17.046Z"); the table shows them to
# the minute. Other forms are shown as they are. JSON, JSON Lines and CSV keep the exact value.
_UTC = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?Z")


def _short_dates(values: list[Any]) -> list[Any]:
    shown: dict[Any, Any] = {}  # a few distinct dates repeat over many issues: convert each once
    for value in values:
        if value not in shown:
            match = _UTC.fullmatch(value) if isinstance(value, str) else None
            shown[value] = f"{match[1]} {match[2]} UTC" if match else value
    return [shown[value] for value in values]


def _columns(rows: Sequence[Row]) -> list[tuple[str, list[Any], bool]]:
    """The table's columns for these rows, as (header, values, numeric); a column that is empty
    in every row is left out (no labeler column for an input without authors)."""
    out = []
    for name, attribute, numeric in _COLUMNS:
        if not attribute:
            values = [row.external_id or row.asset_id or row.source for row in rows]
        elif rows and not hasattr(rows[0], attribute):
            values = [None] * len(rows)  # rows of an older core: no label columns
        else:
            try:
                values = list(map(attrgetter(attribute), rows))
            except AttributeError:  # rows of several makers, one without the column
                values = [getattr(row, attribute, None) for row in rows]
            if attribute == "created_at":
                values = _short_dates(values)
        if name in _ALWAYS or any(value is not None for value in values):
            out.append((name, values, numeric))
    return out


def issues_table(report: Report, rows: Sequence[Row], *, attrs: str = "") -> str:
    columns = _columns(rows)
    cells: list[list[str]] = [[] for _ in rows]
    for name, values, _ in columns:
        for i, value in enumerate(values):
            row = rows[i]
            if name == "severity":
                cells[i].append(_severity(row.severity))
            elif name == "asset" and (link := report.context.link(row.asset_id)):
                shown = escape(clip.cut(str(value), clip.SHOW))  # no <details> inside a link
                cells[i].append(f'<a href="{escape(link, quote=True)}">{shown}</a>')
            else:
                cells[i].append(_cell(value, clip.SHOW_MESSAGE if name == MESSAGE else clip.SHOW))
    numeric = frozenset(i for i, column in enumerate(columns) if column[2])
    names = [c[0] for c in columns]
    table = _table(names, cells, numeric=numeric, attrs=attrs, message=names.index(MESSAGE))
    return f'<div class="kr-wide">{table}</div>'


def _verdict(report: Report) -> str:
    css = "kili-rules-ok" if report.ok else "kili-rules-error"
    counts = (
        f"{report.labels} labels in {report.assets} assets checked, {report.invalid} unreadable"
        f", {report.unchecked} unchecked (no jsonResponse)"
    )
    verdict = f'<p><span class="{css}">{escape(headline(report))}</span> — {escape(counts)}</p>'
    return verdict + _pass_rates(report)


def _percent(passed: int, labels: int) -> str:
    return f"{100 * passed / labels:.1f}% ({passed} of {labels})" if labels else "n/a"


def _pass_rates(report: Report) -> str:
    """Labels that pass, overall and per labeler (when the report knows each one's labels)."""
    rates = report.pass_rates()
    if not rates["labels"]:
        return ""
    out = (
        f'<p class="kr-pass">Pass rate: <b>{_percent(rates["passed"], rates["labels"])}</b> '
        f"labels without an issue at severity {escape(report.fail_on)}</p>"
    )
    if any(entry["labeler"] for entry in rates["by_labeler"]):  # no table of "(unknown)" alone
        rows = [
            (
                clip.cell(entry["labeler"] or "(unknown)"),
                _percent(entry["passed"], entry["labels"]),
            )
            for entry in rates["by_labeler"]
        ]
        table = _table(("per labeler", "pass rate"), rows, numeric=frozenset({1}))
        out += f'<div class="kr-pass-labelers">{table}</div>'
    elif any(_opt(row, "author") for row in report):
        out += (
            '<p class="kr-note">Per-labeler pass rates need the labels each labeler made; '
            "this input gives only the labels with issues (see issues per labeler below).</p>"
        )
    return out


def _checked(report: Report) -> str:
    """What was checked: inputs, rules file and fingerprint, version, time, project."""
    context = report.context
    items: list[tuple[str, str]] = []
    if context.inputs:
        shown = (clip.cell(i, clip.SHOW_MESSAGE) for i in context.inputs)
        items.append(("inputs", "<br>".join(shown)))
    if context.rules_file:
        items.append(("rules file", clip.cell(context.rules_file, clip.SHOW_MESSAGE)))
    if report.fingerprint:
        items.append(("rules fingerprint", f"<code>{escape(report.fingerprint)}</code>"))
    items.append(("kili-rules", escape(context.version)))
    items.append(("checked at", escape(context.checked_at)))
    if context.project_id:
        items.append(("Kili project", clip.cell(context.project_id)))
    body = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in items)
    return f'<dl class="kr-checked">{body}</dl>'


def _charts(report: Report) -> str:
    """Issues per rule and category; per labeler and by label date when the input has them (an
    input without authors or dates gets a one-line note, not two empty charts)."""
    rules = Counter(row.rule for row in report)
    categories = Counter(row.category or row.job or "(none)" for row in report)
    authors = [_opt(row, "author") for row in report]
    dates = [_opt(row, "created_at") for row in report]
    parts = [
        charts.bar_chart("Issues per rule", list(rules.items()), css_class="kr-per-rule"),
        charts.bar_chart(
            "Issues per category", list(categories.items()), css_class="kr-per-category"
        ),
    ]
    missing = []
    if any(authors):
        # Rows without an author (an unreadable label, an input mixing sources) stay visible.
        labelers = Counter(author or "(unknown)" for author in authors)
        parts.append(
            charts.bar_chart(
                "Issues per labeler", list(labelers.items()), css_class="kr-per-labeler"
            )
        )
    else:
        missing.append("labeler")
    if any(dates):
        parts.append(charts.timeline("Issues by label date", dates))
    else:
        missing.append("label date")
    note = ""
    if missing:
        which = "that chart is" if len(missing) == 1 else "those charts are"
        note = f'<p class="kr-note">The input has no {" or ".join(missing)}: {which} left out.</p>'
    return f'<div class="kr-charts">{"".join(parts)}</div>{note}'


def _drawings(report: Report, *, per_rule: int, images: bool | Sequence[str], box: int) -> str:
    if per_rule <= 0 or not len(report):
        return ""
    items, total = drawings.sketches(report, per_rule=per_rule, images=images)
    if not items:
        return ""
    if all(item.note == drawings.NOT_FOUND for item in items):
        return (
            '<p class="kr-note">No drawings: the labels cannot be read again (they were given '
            "as an iterator, not a list or an export file).</p>"
        )
    note = (
        f"{len(items)} of {total} labels with findings drawn (the first {per_rule} per rule). "
        if len(items) < total
        else f"All {total} labels with findings drawn. "
    )
    note += "Objects a finding points at are in red; the others are faint."
    return f'<p class="kr-note">{escape(note)}</p>' + drawings.figures(items, box=box)


def render_fragment(report: Report, *, max_rows: int) -> str:
    """Notebook view, compact: verdict, charts, per-rule summary, a few drawings, the first
    ``max_rows`` issues."""
    parts = [f'<div class="kili-rules-report"><style>{_STYLE}</style>', _verdict(report)]
    if len(report):
        parts += [_charts(report), "<h4>Issues by rule</h4>", summary_table(report.summary())]
        parts.append(_drawings(report, per_rule=2, images=False, box=180))
        parts += [f"<h4>Issues ({len(report)})</h4>", issues_table(report, report[:max_rows])]
        if len(report) > max_rows:
            parts.append(
                f"<p>First {max_rows} of {len(report)} issues shown; "
                "use <code>report.to_pandas()</code> or <code>report.to_html()</code> "
                "for all.</p>"
            )
    parts.append("</div>")
    return "".join(parts)


def _number(value: float | int | None) -> float | int | str | None:
    if value is None or isinstance(value, int):
        return value
    if value - value == 0:  # finite (inf - inf and nan - nan are nan)
        return float(f"{value:.6g}")  # what the page shows; the exact value is in JSON / CSV
    return str(value)  # "inf", "-inf", "nan": JSON has no such numbers


def _data(report: Report, rows: Sequence[Row]) -> str:
    """The table's rows as compact JSON: strings interned in one list, numbers as numbers.

    Built column by column (a few list comprehensions rather than a call per cell): this is
    the part of a 200,000-issue page that takes time in Python.
    """
    columns = _columns(rows)
    strings: dict[str, int] = {}
    intern = strings.setdefault
    encoded: list[list[Any]] = [[] for _ in range(len(columns) + 1)]
    # Columns with few distinct values first, so that their strings get short indices.
    many = {"asset", "label", "mid"}
    order = sorted(range(len(columns)), key=lambda i: columns[i][0] in many)
    for i in order:
        _, values, numeric = columns[i]
        if numeric:
            numbers: dict[Any, Any] = {}  # measures repeat (limits, counts): convert each once
            encoded[i] = [
                numbers[v] if v in numbers else numbers.setdefault(v, _number(v)) for v in values
            ]
        else:
            # What the page holds of a field is bounded (clip.KEEP): the script shows the
            # start and the rest on demand.
            encoded[i] = [
                -1 if v is None else intern(clip.kept(str(v)), len(strings)) for v in values
            ]
    ids = [row.asset_id for row in rows]
    # An id too long to be Kili's gets no link (and is not held twice).
    encoded[-1] = [
        -1 if v is None or len(v) > clip.MAX_ID else intern(v, len(strings)) for v in ids
    ]
    document = {
        "columns": [c[0] for c in columns],
        "numeric": [c[2] for c in columns],
        "show": [clip.SHOW_MESSAGE if c[0] == MESSAGE else clip.SHOW for c in columns],
        "strings": list(strings),
        "rows": [list(line) for line in zip(*encoded, strict=True)] if rows else [],
        "link": report.context.link("@ASSET@"),
        "page": PAGE_SIZE,
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # Inside <script>, "</script>" or "<!--" in label data would end or break the element.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_SCRIPT = r"""
(function () {
  var data = JSON.parse(document.getElementById("kr-data").textContent);
  var S = data.strings, cols = data.columns, numeric = data.numeric, n = cols.length;
  var lower = S.map(function (s) { return s.toLowerCase(); });
  var sevCol = cols.indexOf("severity"), msgCol = cols.indexOf("message");
  var all = data.rows, view = all, page = 0, sortCol = -1, sortDir = 1;
  var table = document.getElementById("kr-issues"), tbody = table.tBodies[0];
  var q = document.getElementById("kr-q"), pager = document.getElementById("kr-pager");
  function text(row, c) {
    var v = row[c];
    if (numeric[c]) return v === null ? "" : (typeof v === "number" ? +v.toPrecision(6) + "" : v);
    return v < 0 ? "" : S[v];
  }
  function fill(select, col) {
    if (col < 0) { select.style.display = "none"; return; }
    var seen = {};
    all.forEach(function (r) { if (r[col] >= 0) seen[r[col]] = 1; });
    Object.keys(seen).map(Number).sort(function (a, b) { return S[a] < S[b] ? -1 : 1; })
      .forEach(function (i) {
        var o = document.createElement("option"); o.value = i; o.textContent = S[i];
        select.appendChild(o);
      });
  }
  // One select per column with few values; a column the page lacks hides its select.
  // [select, column, key in the address]
  var selects = [["kr-sev", "severity", "severity"], ["kr-rule", "rule", "rule"],
                 ["kr-labeler", "labeler", "labeler"], ["kr-status", "asset status", "status"]]
    .map(function (spec) {
      var el = document.getElementById(spec[0]), col = cols.indexOf(spec[1]);
      fill(el, col); return [el, col, spec[2]];
    });
  function apply() {
    var needle = q.value.trim().toLowerCase();
    var chosen = selects.filter(function (s) { return s[1] >= 0 && s[0].value !== ""; })
      .map(function (s) { return [s[1], +s[0].value]; });
    view = all.filter(function (row) {
      for (var k = 0; k < chosen.length; k++) {
        if (row[chosen[k][0]] !== chosen[k][1]) return false;
      }
      if (!needle) return true;
      for (var c = 0; c < n; c++) {
        var v = row[c];
        if (numeric[c] ? (v !== null && String(v).indexOf(needle) >= 0)
                       : (v >= 0 && lower[v].indexOf(needle) >= 0)) return true;
      }
      return false;
    });
    if (sortCol >= 0) {
      var c = sortCol, num = numeric[c];
      view.sort(function (a, b) {
        var x = a[c], y = b[c];
        if (num) { x = x === null ? -Infinity : +x; y = y === null ? -Infinity : +y; }
        else { x = x < 0 ? "" : S[x]; y = y < 0 ? "" : S[y]; }
        return x < y ? -sortDir : x > y ? sortDir : 0;
      });
    }
    page = 0; draw();
  }
  function draw() {
    var pages = Math.max(1, Math.ceil(view.length / data.page));
    if (page >= pages) page = pages - 1;
    var rows = view.slice(page * data.page, (page + 1) * data.page);
    var frag = document.createDocumentFragment();
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      for (var c = 0; c < n; c++) {
        var td = document.createElement("td"), value = text(row, c);
        if (numeric[c]) td.className = "num";
        if (c === msgCol) td.className = "kr-msg";
        if (c === sevCol) {
          td.className = value === "error" ? "kili-rules-error" : "kili-rules-warning";
        }
        if (c === 0 && data.link && row[n] >= 0) {
          var a = document.createElement("a");
          a.href = data.link.replace("@ASSET@", encodeURIComponent(S[row[n]]));
          a.textContent = value.length > data.show[c] ? value.slice(0, data.show[c]) + "\u2026"
            : value;
          td.appendChild(a);
        } else if (value.length > data.show[c]) {
          // A long field: its start, the rest on demand (what the page holds is bounded).
          var more = document.createElement("details"), head = document.createElement("summary");
          more.className = "kr-more"; head.textContent = value.slice(0, data.show[c]) + "\u2026";
          more.appendChild(head); more.appendChild(document.createTextNode(value));
          td.appendChild(more);
        } else { td.textContent = value; }
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    });
    tbody.replaceChildren(frag);
    var first = view.length ? page * data.page + 1 : 0;
    document.getElementById("kr-range").textContent =
      first + "–" + (page * data.page + rows.length) + " of " + view.length +
      " issues (page " + (page + 1) + " of " + pages + ")";
    document.getElementById("kr-prev").disabled = page === 0;
    document.getElementById("kr-next").disabled = page >= pages - 1;
  }
  q.addEventListener("input", apply);
  selects.forEach(function (s) { s[0].addEventListener("change", apply); });
  document.getElementById("kr-prev").addEventListener("click", function () { page--; draw(); });
  document.getElementById("kr-next").addEventListener("click", function () { page++; draw(); });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, c) {
    var b = document.createElement("button"); b.textContent = th.textContent;
    b.title = "sort"; th.textContent = ""; th.appendChild(b);
    b.addEventListener("click", function () {
      sortDir = sortCol === c ? -sortDir : 1; sortCol = c; apply();
    });
  });
  pager.hidden = false;
  // A filter in the address opens the page filtered, a link to share: report.html#q=street_003,
  // #labeler=ann@example.com&status=TO_REVIEW (severity, rule, labeler, status: exact values).
  function fromAddress() {
    var params = new URLSearchParams(location.hash.slice(1));
    q.value = params.get("q") || "";
    selects.forEach(function (s) {
      var want = params.get(s[2]); s[0].value = "";
      if (want === null || s[1] < 0) return;
      var hit = Array.prototype.filter.call(s[0].options, function (o) {
        return o.value !== "" && o.textContent === want;
      })[0];
      if (!hit) {  // a value no issue has: shown as chosen, and it matches no row
        hit = document.createElement("option"); hit.value = "-3"; hit.textContent = want;
        s[0].appendChild(hit);
      }
      s[0].value = hit.value;
    });
  }
  if (location.hash.length > 1) { fromAddress(); apply(); } else { draw(); }
  window.addEventListener("hashchange", function () { fromAddress(); apply(); });
  document.body.setAttribute("data-kr-ready", String(all.length));
  document.body.setAttribute("data-kr-ms", String(Math.round(performance.now())));
})();
"""


def _issues_section(report: Report, max_rows: int) -> str:
    rows = report[:max_rows]
    note = ""
    if len(rows) < len(report):
        note = (
            f'<p class="kr-note">This page holds the first {len(rows)} of {len(report)} issues; '
            "the charts and counts above cover all of them. Every issue is in the JSON, JSON "
            "Lines and CSV outputs (<code>kili-rules check --format csv</code>).</p>"
        )
    controls = (
        '<div class="kr-controls" id="kr-pager" hidden>'
        '<input id="kr-q" type="search" placeholder="filter: any text" size="28">'
        '<select id="kr-sev"><option value="">all severities</option></select>'
        '<select id="kr-rule"><option value="">all rules</option></select>'
        '<select id="kr-labeler"><option value="">all labelers</option></select>'
        '<select id="kr-status"><option value="">all asset statuses</option></select>'
        '<button id="kr-prev" type="button">‹ previous</button>'
        '<span id="kr-range"></span>'
        '<button id="kr-next" type="button">next ›</button></div>'
    )
    first_page = issues_table(report, rows[:PAGE_SIZE], attrs=' id="kr-issues"')
    return (
        f"<h2>Issues ({len(report)})</h2>{note}{controls}{first_page}"
        f'<script type="application/json" id="kr-data">{_data(report, rows)}</script>'
        f"<script>{_SCRIPT}</script>"
    )


def _outcomes(report: Report) -> list[str]:
    """What reviewers made of the issues kili-rules created (``Report.issue_outcomes``)."""
    if report.issue_outcomes is None:
        return []
    rows = [
        (
            escape(str(e["rule"])),
            escape(str(e["labeler"] if e["labeler"] is not None else "(unknown)")),
            escape(str(e["category"] or "")),
            str(e["solved"]),
            str(e["cancelled"]),
            str(e["open"]),
            f"{e['precision']:.0%}" if e["precision"] is not None else "-",
        )
        for e in report.issue_outcomes
    ]
    header = ("Rule", "Labeler", "Category", "Solved", "Cancelled", "Open", "Precision")
    return [
        '<h2 id="kr-outcomes">Issues kili-rules created, as reviewers closed them</h2>',
        _table(header, rows, frozenset({3, 4, 5, 6})),
    ]


def render_page(
    report: Report,
    *,
    title: str,
    max_rows: int,
    drawings_per_rule: int,
    images: bool | Sequence[str],
) -> str:
    """A complete HTML document: what was checked, charts, drawings, the issues."""
    drawings.image_origins(images)  # a bad prefix is an error even when nothing gets drawn
    body = [
        f"<h1>{escape(title)}</h1>",
        _verdict(report),
        "<h2>What was checked</h2>",
        _checked(report),
    ]
    if len(report):
        body += ["<h2>Charts</h2>", _charts(report)]
    body += ["<h2>Issues by rule</h2>", summary_table(report.summary())]
    if report.trends is not None:
        body += ["<h2>Trends against the baseline</h2>", trends_table(report.trends)]
    body += _outcomes(report)
    if len(report):
        pictures = _drawings(report, per_rule=drawings_per_rule, images=images, box=260)
        if pictures:
            body += ['<h2 id="kr-figures">Labels with findings</h2>', pictures]
        body.append(_issues_section(report, max_rows))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f'<body class="kili-rules-page">\n{"".join(body)}\n</body></html>\n'
    )
