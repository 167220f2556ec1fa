"""Waivers: a reviewer who CANCELS an issue kili-rules created overrules that rule on that
object, as the object was.

A waiver is the key of the cancelled issue's finding: ``(rule id, object mid, fingerprint)``,
the fingerprint being a hash of the object's geometry and answers in the label the issue was
made on (for a finding without a mid, of the whole label). A later finding with the same key
(the labeler resubmitted the object unchanged) is waived: no issue is created for it and it
does not count in the label's outcome, so it sends nothing back. Once the object changes,
its fingerprint changes and the rule judges it again.

Which issue had which key: when kili-rules creates issues it records their keys in the
asset's metadata, ``<prefix>issue_marks`` (a JSON object ``{issue id: [rule, mid,
fingerprint, label id, category]}``), next to the issue ledger. A cancelled issue read
back with the asset's issues (the same ``kili.issues`` call as the open ones) is a waiver
when its id has a mark; a mark is kept while Kili holds its issue (``audit`` counts the
solved and cancelled ones per rule), dropped once the issue is deleted. An issue cancelled
that kili-rules did not create (no mark) waives nothing.

Used by :mod:`kili_rules.kili.effects` (so by the plugin, the ``serve`` workers and
``audit --apply`` alike). The label's JSON comes with the target when the caller has it (the
plugin); otherwise it is fetched by label id, only for the labels that have a candidate
waiver (a cancelled, marked issue of the same rule and mid as a current finding).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kili_rules import deep_json
from kili_rules.verdict import ActionPolicy, Verdict

__all__ = [
    "MARKS_KEY",
    "Key",
    "Mark",
    "fingerprint",
    "issue_outcomes",
    "mark_of",
    "read_marks",
    "waive",
]

MARKS_KEY = "issue_marks"
# (rule id, object mid, fingerprint of the object)
Key = tuple[str, str | None, str]
# a mark: (rule, mid, fingerprint, label id, category); the fingerprint None when the label
# was not at hand at creation (then it is computed from the issue's label, read back by its
# id, when the mark is a candidate); the category is the finding's, for the reports
Mark = tuple[str, str | None, str | None, str | None, str | None]


def fingerprint(json_response: object, mid: str | None) -> str | None:
    """A short hash of the object ``mid``'s geometry and answers (every occurrence of it in
    the label, e.g. the frames of a video), or of the whole label when ``mid`` is None.

    None when the label is not a JSON object or has no object ``mid``: nothing to compare.
    """
    if isinstance(json_response, str):  # a jsonResponse as Kili serves it: JSON text
        try:
            json_response = deep_json.loads(json_response)  # any depth, no RecursionError
        except ValueError:
            return None
    if not isinstance(json_response, Mapping):
        return None
    if mid is None:
        subject: object = json_response
    else:
        found = list(_objects(json_response, mid))
        if not found:
            return None
        subject = found
    text = deep_json.dumps(subject, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _objects(value: object, mid: str) -> Iterable[Mapping[str, Any]]:
    """Every dict with ``"mid": mid`` in a label's JSON, at any depth (in document order,
    walked with an explicit stack: a label may nest deeper than Python recurses)."""
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if item.get("mid") == mid:
                yield item
                continue
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def read_marks(metadata: Mapping[str, Any] | None, prefix: str) -> dict[str, Mark]:
    """The issue marks kept in an asset's metadata; entries that are not well formed are left
    out (a hand-edited value never breaks enforcement: it waives nothing)."""
    raw = (metadata or {}).get(prefix + MARKS_KEY)
    try:
        parsed = deep_json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    if not isinstance(parsed, Mapping):
        return {}
    marks: dict[str, Mark] = {}
    for issue_id, mark in parsed.items():
        if (
            isinstance(mark, list)
            and len(mark) in (4, 5)
            and isinstance(mark[0], str)
            and all(part is None or isinstance(part, str) for part in mark[1:])
        ):
            category = mark[4] if len(mark) == 5 else None
            marks[str(issue_id)] = (mark[0], mark[1], mark[2], mark[3], category)
    return marks


def matters(verdict: Verdict, mark: Mark) -> bool:
    """Whether a mark's rule and mid are those of a current finding (a candidate waiver:
    its fingerprint is still to compare)."""
    return any(issue.rule == mark[0] and issue.mid == mark[1] for issue in verdict.issues)


def waive(
    verdict: Verdict,
    policy: ActionPolicy | None,
    json_response: object,
    waivers: Sequence[Key],
) -> tuple[Verdict, list[Key]]:
    """The verdict without the findings a waiver covers, decided again under ``policy`` (the
    outcome and actions follow the findings left), and the keys of the findings waived."""
    if not waivers or policy is None:
        return verdict, []
    waived_keys = set(waivers)
    kept = []
    waived: list[Key] = []
    prints: dict[str | None, str | None] = {}
    for issue in verdict.issues:
        if issue.mid not in prints:
            prints[issue.mid] = fingerprint(json_response, issue.mid)
        printed = prints[issue.mid]
        key = (issue.rule, issue.mid, printed) if printed is not None else None
        if key is not None and key in waived_keys:
            waived.append(key)
        else:
            kept.append(issue)
    if not waived:
        return verdict, []
    redone = Verdict.decide(kept, policy, objects=verdict.objects)
    return redone, waived


def mark_of(issue: Any, json_response: object, label_id: str | None) -> Mark | None:
    """The mark of an issue created for a finding (None for one that is not a rule's)."""
    rule = getattr(issue, "rule", None)
    if not isinstance(rule, str):
        return None
    category = getattr(issue, "category", None)
    return (
        rule,
        issue.mid,
        fingerprint(json_response, issue.mid),
        label_id,
        category if isinstance(category, str) else None,
    )


def without(verdict: Verdict, policy: ActionPolicy | None, waived: Iterable[Key]) -> Verdict:
    """A resumed plan's verdict: the findings it waived (by rule and mid) left out again."""
    gone = {(key[0], key[1]) for key in waived}
    if not gone or policy is None:
        return verdict
    kept = [issue for issue in verdict.issues if (issue.rule, issue.mid) not in gone]
    return Verdict.decide(kept, policy, objects=verdict.objects)


def marks_value(marks: Mapping[str, Mark]) -> str:
    """The metadata value of the marks (stable: written only when it changes)."""
    return json.dumps({k: list(v) for k, v in sorted(marks.items())}, separators=(",", ":"))


def fetch_labels(kili: Any, project_id: str, label_ids: Iterable[str]) -> dict[str, object]:
    """The jsonResponse of each label, read from Kili (one ``kili.labels`` call per label:
    only the few labels with a candidate waiver are read)."""
    found: dict[str, object] = {}
    for label_id in dict.fromkeys(label_ids):
        rows = list(
            kili.labels(
                project_id=project_id,
                label_id=label_id,
                fields=["id", "jsonResponse"],
                disable_tqdm=True,
            )
        )
        if rows:
            found[label_id] = rows[0].get("jsonResponse")
    return found


def issue_outcomes(kili: Any, project_id: str, prefix: str = "kili_rules_") -> list[dict[str, Any]]:
    """What became of the issues kili-rules created in a project, read from Kili: per rule,
    labeler (the author of the label the issue was made on) and category, how many are
    ``solved``, ``cancelled`` (a reviewer overruled the rule) and still ``open``, and the
    rule's ``precision`` = solved / (solved + cancelled) (None before any is closed).

    Reads the project's issues (every status, one paged ``kili.issues``) and, per 100 of
    their assets, the metadata marks and the labels' authors (one ``kili.assets``). Only the
    issues with a mark count (those kili-rules created since marks exist); most closed first.
    """
    rows = kili.issues(
        project_id=project_id,
        fields=["id", "status", "assetId"],
        issue_type="ISSUE",
        disable_tqdm=True,
    )
    by_asset: dict[str, list[tuple[str, str]]] = {}
    for row in rows or []:
        if isinstance(row, Mapping) and isinstance(row.get("assetId"), str):
            by_asset.setdefault(row["assetId"], []).append(
                (str(row.get("id")), str(row.get("status")))
            )
    counts: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
    assets = list(by_asset)
    for start in range(0, len(assets), 100):
        found = kili.assets(
            project_id=project_id,
            asset_id_in=assets[start : start + 100],
            fields=["id", "jsonMetadata", "labels.id", "labels.author.email"],
            disable_tqdm=True,
        )
        for asset in found or []:
            marks = read_marks(asset.get("jsonMetadata"), prefix)
            authors = {
                label.get("id"): (label.get("author") or {}).get("email")
                for label in asset.get("labels") or []
                if isinstance(label, Mapping)
            }
            for issue_id, status in by_asset.get(str(asset.get("id")), []):
                mark = marks.get(issue_id)
                if mark is None:
                    continue
                key = (mark[0], authors.get(mark[3]), mark[4])
                entry = counts.setdefault(
                    key,
                    {"rule": key[0], "labeler": key[1], "category": key[2]}
                    | {"solved": 0, "cancelled": 0, "open": 0},
                )
                name = {"SOLVED": "solved", "CANCELLED": "cancelled", "OPEN": "open"}.get(status)
                if name is not None:
                    entry[name] += 1
    for entry in counts.values():
        closed = entry["solved"] + entry["cancelled"]
        entry["precision"] = entry["solved"] / closed if closed else None
    return sorted(
        counts.values(),
        key=lambda e: (
            -(e["solved"] + e["cancelled"]),
            e["rule"],
            e["labeler"] or "",
            e["category"] or "",
        ),
    )
