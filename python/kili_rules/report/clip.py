"""Bounds on what a report page holds of one field.

A label can hold anything: a 200,000-character transcription, a 10 MB category name. A page
that embeds such fields whole takes minutes to open, and a browser lays out every character
of a table cell. So every field a page shows from label data is cut: a table cell shows its
first :data:`SHOW` characters (:data:`SHOW_MESSAGE` for the issue message) and the rest on
demand (a ``<details>`` element), up to :data:`KEEP` characters; past that the page says how
many characters it left out and where the whole text is (JSON, JSON Lines and CSV keep every
field whole). A page's size is then bounded by its number of rows, not by what a label holds.
"""

from __future__ import annotations

from html import escape

#: Characters of a field a table cell shows (ids, names, categories).
SHOW = 64
#: Characters of the issue message a table cell shows; the message column wraps.
SHOW_MESSAGE = 300
#: Characters of one field a page holds at all (shown on demand).
KEEP = 4000
#: An asset id longer than this is no Kili id: no link is made of it.
MAX_ID = 256

ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    """``text`` to at most ``limit`` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def kept(text: str) -> str:
    """What a page holds of ``text``: all of it up to :data:`KEEP` characters, else the first
    :data:`KEEP` and how many were left out."""
    if len(text) <= KEEP:
        return text
    return (
        f"{text[:KEEP]}{ELLIPSIS} [{len(text) - KEEP:,} more characters: the whole text is in "
        "the JSON, JSON Lines and CSV outputs]"
    )


def cell(text: str, show: int = SHOW) -> str:
    """``text`` as escaped HTML: whole when short, else its first ``show`` characters with
    the rest (up to :data:`KEEP`) in a ``<details>`` element opened on demand."""
    if len(text) <= show:
        return escape(text, quote=True)
    return (
        f'<details class="kr-more"><summary>{escape(text[:show], quote=True)}{ELLIPSIS}'
        f"</summary>{escape(kept(text), quote=True)}</details>"
    )
