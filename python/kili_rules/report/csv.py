"""CSV view of a report: one line per issue, the columns of ``COLUMNS``.

The file is made to be opened in a spreadsheet, and its text comes from annotators (ids,
categories, authors, messages quoting label data). So, following OWASP's advice on CSV
injection, a text cell that a spreadsheet would take for a formula (one starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) is written with a leading ``'``, which every
spreadsheet reads as "this is text" and does not show. Numbers (frame, value, limit) are
numbers and are written as they are. Records end with CRLF (RFC 4180): the csv module then
quotes every cell holding a CR or an LF, so a bare CR in a label cannot split a record.
"""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kili_rules.report import Report

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(report: Report) -> str:
    from kili_rules.report import COLUMNS

    out = io.StringIO()
    # QUOTE_MINIMAL quotes a cell holding the delimiter, the quote or a character of the line
    # terminator: with "\r\n" that is any CR or LF (with "\n" alone a bare CR went unquoted).
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for row in report:
        writer.writerow([_cell(getattr(row, name, None)) for name in COLUMNS])
    return out.getvalue()
