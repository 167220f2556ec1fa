"""CSV view of a report: one line per issue, the columns of ``COLUMNS``."""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kili_rules.report import Report


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    return value


def render_csv(report: Report) -> str:
    from kili_rules.report import COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report:
        writer.writerow([_cell(getattr(row, name, None)) for name in COLUMNS])
    return out.getvalue()
