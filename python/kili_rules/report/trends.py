"""Each rule's rate against an earlier JSON report (``check --baseline previous.json``).

A rule's rate is the share of the labels checked that it flags (distinct assets with an issue
of that rule / labels checked), read from the ``rows`` and ``summary.labels`` of the JSON report
``check --format json`` writes; the current run is measured from its own JSON the same way, so
both sides are computed alike. A change is flagged when the rate moves by more than the
threshold, in absolute points (0.02: from 3% to more than 5% or less than 1%).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_THRESHOLD", "compare", "rates", "read_baseline"]

DEFAULT_THRESHOLD = 0.02


def rates(document: Mapping[str, Any], where: str = "the report") -> dict[str, float]:
    summary = document.get("summary")
    rows = document.get("rows")
    labels = summary.get("labels") if isinstance(summary, Mapping) else None
    if not isinstance(labels, int) or isinstance(labels, bool) or not isinstance(rows, list):
        raise ValueError(f"{where}: not a kili-rules JSON report (no summary.labels or rows)")
    flagged: dict[str, set[Any]] = {}
    for row in rows:
        if isinstance(row, Mapping) and isinstance(row.get("rule"), str):
            key = row.get("asset_id") or row.get("external_id") or row.get("label_id")
            flagged.setdefault(row["rule"], set()).add(key)
    by_rule = summary.get("by_rule") if isinstance(summary, Mapping) else None
    for entry in by_rule if isinstance(by_rule, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("rule"), str):
            flagged.setdefault(entry["rule"], set())
    return {rule: len(keys) / labels if labels else 0.0 for rule, keys in flagged.items()}


def read_baseline(path: Path) -> dict[str, float]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"--baseline {path}: not JSON ({error})") from error
    if not isinstance(document, Mapping):
        raise ValueError(f"--baseline {path}: not a kili-rules JSON report")
    return rates(document, f"--baseline {path}")


def compare(
    current: Mapping[str, float], baseline: Mapping[str, float], threshold: float
) -> list[dict[str, Any]]:
    """One entry per rule seen in either run: before, after, change and whether it passes the
    threshold. A rule absent from one side has rate 0 there."""
    out = []
    for rule in sorted(set(current) | set(baseline)):
        before, after = baseline.get(rule, 0.0), current.get(rule, 0.0)
        change = after - before
        out.append(
            {
                "rule": rule,
                "before": before,
                "after": after,
                "change": change,
                "flagged": abs(change) > threshold,
            }
        )
    return out
