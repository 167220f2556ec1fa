"""Charts of a report as inline SVG, drawn here: no plotting library, no script, no network, so
the page works offline from a file and in a notebook.

Labels in the charts come from label data: every text goes through :func:`html.escape`, cut
to a bound (:mod:`kili_rules.report.clip`).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Iterable, Sequence
from html import escape

from kili_rules.report import clip

_BAR = "#4a6fa5"
_ERROR = "#b00020"


def _label(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    title: str, counts: Sequence[tuple[str, int]], *, max_bars: int = 12, css_class: str = ""
) -> str:
    """Horizontal bars, largest first; what does not fit is one "other (n)" bar."""
    items = sorted(counts, key=lambda kv: (-kv[1], kv[0]))
    if len(items) > max_bars:
        rest = items[max_bars - 1 :]
        items = [*items[: max_bars - 1], (f"{len(rest)} others", sum(n for _, n in rest))]
    width, label_w, bar_h, gap, top = 420, 150, 18, 6, 26
    height = top + len(items) * (bar_h + gap) + 4
    peak = max((n for _, n in items), default=0) or 1
    parts = [
        f'<svg class="kr-chart {css_class}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    if not items:
        parts.append('<text x="0" y="44" font-size="12" fill="#666">no data</text>')
    for i, (name, n) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = max(1.0, (width - label_w - 60) * n / peak)
        parts.append(
            f'<g class="kr-bar"><title>{escape(clip.cut(name, clip.KEEP))}: {n}</title>'
            f'<text x="{label_w - 6}" y="{y + 13}" font-size="12" text-anchor="end">'
            f"{escape(_label(name))}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{_BAR}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="12">{n}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _day(value: str) -> _dt.date | None:
    try:
        return _dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def timeline(title: str, dates: Iterable[str | None]) -> str:
    """Issues per label date: a column per day, or per week (Mondays) past 90 days."""
    days: Counter[_dt.date] = Counter()
    undated = 0
    for value in dates:
        day = _day(value) if value else None
        if day is None:
            undated += 1
        else:
            days[day] += 1
    width, left, top, bottom = 420, 40, 26, 36
    height = 170 if days else 60  # no dates: a line of text, not an empty plot
    parts = [
        f'<svg class="kr-chart kr-timeline" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    if not days:
        parts.append(
            f'<text x="0" y="44" font-size="12" fill="#666">no label date reads as a date '
            f"({undated} issue{'s' * (undated != 1)} undated)</text></svg>"
        )
        return "".join(parts)
    first, last = min(days), max(days)
    weekly = (last - first).days > 90
    if weekly:
        bins: Counter[_dt.date] = Counter()
        for day, n in days.items():
            bins[day - _dt.timedelta(days=day.weekday())] += n
        step = _dt.timedelta(days=7)
        first = first - _dt.timedelta(days=first.weekday())
    else:
        bins, step = days, _dt.timedelta(days=1)
    slots = []
    day = first
    while day <= last:
        slots.append((day, bins.get(day, 0)))
        day += step
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = max(n for _, n in slots) or 1
    col = plot_w / len(slots)
    parts.append(
        f'<text x="{left - 4}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        'stroke="#999"/>'
    )
    for i, (day, n) in enumerate(slots):
        h = plot_h * n / peak
        x = left + i * col
        parts.append(
            f'<rect class="kr-day" x="{x + col * 0.1:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{max(col * 0.8, 0.5):.1f}" height="{h:.1f}" fill="{_ERROR}">'
            f"<title>{'week of ' if weekly else ''}{day.isoformat()}: {n}</title></rect>"
        )
    y = top + plot_h + 14
    parts.append(f'<text x="{left}" y="{y}" font-size="11">{first.isoformat()}</text>')
    if len(slots) > 1:
        parts.append(
            f'<text x="{width - 8}" y="{y}" font-size="11" text-anchor="end">'
            f"{slots[-1][0].isoformat()}</text>"
        )
    unit = "per week" if weekly else "per day"
    note = f"issues {unit}" + (f"; {undated} undated" if undated else "")
    parts.append(f'<text x="{left}" y="{y + 16}" font-size="11" fill="#666">{note}</text></svg>')
    return "".join(parts)
