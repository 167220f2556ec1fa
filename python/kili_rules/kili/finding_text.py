"""One text and one fingerprint per finding, whatever path found it.

The plugin and the webhook judge one label from its payload; ``audit`` and ``Report.apply``
judge many from a project scan, an export or asset records. The same finding must be worded
the same on every path, or reconciliation (an open issue with the same text and mid is kept;
the others kili-rules created are solved) would solve one path's issue and create a near
duplicate from the other. The rules' messages are already the same on every path (the native
core writes them); what differs is how an unreadable label's error is framed: the batch
reader names the input and the label field (``item 0: latestLabel.jsonResponse: in the
jsonResponse string: JOB_0...``), the plugin only the label (``jsonResponse.JOB_0...``).
:func:`issue_text` reduces both to one text; :func:`fingerprint` is the key reconciliation
compares, for findings and for the issues Kili holds alike.
"""

from __future__ import annotations

import re

__all__ = [
    "INVALID_LABEL_PREFIX",
    "UNREADABLE_KINDS",
    "UNREADABLE_SUFFIX",
    "fingerprint",
    "issue_text",
    "unreadable_text",
]

#: The start of the issue text of a label kili-rules could not read. The text is read by the
#: annotator the label goes back to, who cannot mend a label the editor cannot produce: it says
#: so and who can act, and keeps the reader's reason (the path and what is wrong) for them.
INVALID_LABEL_PREFIX = "This label could not be checked: "
#: The end of that text, after the reason.
UNREADABLE_SUFFIX = ". Please tell your project manager."
# the prefix earlier versions wrote: an issue they made reads as the same finding
_LEGACY_PREFIX = "kili-rules could not read this label: "
#: The kinds of the findings that stand for an unreadable label: the batch reader's row
#: (``invalid_label``) and the plugin's own finding (``unreadable_label``).
UNREADABLE_KINDS = frozenset({"invalid_label", "unreadable_label"})

# the label field an asset record holds the label in, as the batch reader names it
_LABEL_FIELD = re.compile(r"^(?:latestLabel|latestLabels\[\d+\]|labels\[\d+\])\.")
# a jsonResponse given as a JSON string: the reader says so, then the path inside it
_IN_STRING = "jsonResponse: in the jsonResponse string: "


def unreadable_text(reason: str, source: str | None = None) -> str:
    """The issue text of an unreadable label, from the reader's error message.

    ``source`` is the input the batch reader names before the message (``item 0``, a file in
    an export): it says where in a batch, not what is wrong with the label, so it is dropped,
    as is the asset record's label field. Idempotent: a text made here comes back unchanged.
    """
    text = reason.strip()
    for prefix in (INVALID_LABEL_PREFIX, _LEGACY_PREFIX):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text.endswith(UNREADABLE_SUFFIX):
        text = text[: -len(UNREADABLE_SUFFIX)]
    if source and text.startswith(f"{source}: "):
        text = text[len(source) + 2 :]
    text = _LABEL_FIELD.sub("", text, count=1)
    rest = text[len(_IN_STRING) :]
    # a path inside the string is the path inside the dict; "?" (the string is not JSON)
    # only the string path can give, so it keeps its framing
    if text.startswith(_IN_STRING) and not rest.startswith("?"):
        text = "jsonResponse." + rest
    return INVALID_LABEL_PREFIX + text.rstrip(". ") + UNREADABLE_SUFFIX


def issue_text(finding: object) -> str:
    """The text of the Kili issue for ``finding`` (an Issue, a report Row, or the plugin's
    finding): the rule's message, or for an unreadable label :func:`unreadable_text`."""
    text = str(getattr(finding, "text", "") or "")
    if getattr(finding, "kind", None) in UNREADABLE_KINDS:
        source = getattr(finding, "source", None)
        return unreadable_text(text, source if isinstance(source, str) else None)
    return text


def fingerprint(text: str | None, mid: str | None) -> tuple[str, str | None]:
    """What makes two issues the same finding: the text (surrounding blanks aside) and the
    object mid (an empty mid is no mid: Kili answers null for an issue on no object). An
    unreadable label's issue in the words of an earlier version is the same finding as today's,
    so an upgrade keeps it rather than solving it and creating its rewording."""
    key = (text or "").strip()
    if key.startswith(_LEGACY_PREFIX):
        key = unreadable_text(key)
    return (key, mid or None)
