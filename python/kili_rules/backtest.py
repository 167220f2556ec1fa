"""What a rulebook would have done to past labels (``kili-rules backtest``).

For each rule: how many labels it flags, the bounce rate its errors cause (labels sent back /
labels judged) and, where the records hold the history (a label with ``isSentBackToQueue``, or
issues reviewers created on the asset, the ``issues`` field), how many of those it would have
caught. The label judged is the one that was sent back when there is one (that is the label a
reviewer rejected), else the latest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from kili_rules.ruleset import RuleSet

__all__ = ["Backtest", "RuleOutcome", "backtest"]


@dataclass
class RuleOutcome:
    rule: str
    kind: str
    severity: str
    flagged: int = 0
    bounced: int = 0
    caught: int = 0


@dataclass
class Backtest:
    labels: int
    #: labels the history says were rejected (None: the records hold no history)
    rejected: int | None
    bounced: int = 0
    caught: int = 0
    rules: list[RuleOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bounce_rate"] = self.bounced / self.labels if self.labels else 0.0
        for entry in out["rules"]:
            entry["bounce_rate"] = entry["bounced"] / self.labels if self.labels else 0.0
        return out

    def table(self) -> str:
        history = self.rejected is not None
        head = ["rule", "kind", "severity", "flagged", "bounce rate"] + (["caught"] * history)
        rows = [head]
        for r in self.rules:
            row = [r.rule, r.kind, r.severity, str(r.flagged), _pct(r.bounced, self.labels)]
            rows.append(row + ([f"{r.caught}/{self.rejected}"] * history))
        total = ["all rules", "", "", "", _pct(self.bounced, self.labels)]
        rows.append(total + ([f"{self.caught}/{self.rejected}"] * history))
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        tail = f"{self.labels} labels judged; " + (
            f"{self.rejected} were sent back or got reviewer issues"
            if history
            else "the records hold no history (no isSentBackToQueue, no issues)"
        )
        return "\n".join([*lines, tail])


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _judged(record: Mapping[str, Any], n: int) -> tuple[Any, bool | None]:
    """The label to judge and whether it was rejected (None when the record has no history)."""
    labels = record.get("labels")
    marked = [
        lab
        for lab in (labels if isinstance(labels, list) else [])
        if isinstance(lab, Mapping) and "isSentBackToQueue" in lab
    ]
    sent_back = [lab for lab in marked if lab.get("isSentBackToQueue") is True]
    issues = record.get("issues")
    history = bool(marked) or isinstance(issues, list)
    rejected = bool(sent_back) or (isinstance(issues, list) and len(issues) > 0)
    verdict = rejected if history else None
    if sent_back:
        return sent_back[-1], verdict
    if "jsonResponse" in record:
        return record, verdict
    latest = record.get("latestLabel")
    if isinstance(latest, Mapping):
        return latest, verdict
    if isinstance(labels, list) and labels:
        return labels[-1], verdict
    raise ValueError(f"record {n}: no label (jsonResponse, latestLabel or labels)")


def backtest(rules: RuleSet, records: Iterable[Any]) -> Backtest:
    outcomes = {
        str(r["id"]): RuleOutcome(str(r["id"]), str(r["kind"]), str(r.get("severity", "error")))
        for r in rules.rules
    }
    labels = bounced = caught = 0
    rejected: int | None = None
    for n, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(f"record {n}: expected an object, got {type(record).__name__}")
        label, was_rejected = _judged(record, n)
        try:
            issues = rules.validate(label)
        except ValueError as error:
            raise ValueError(f"record {n}: {error}") from error
        labels += 1
        if was_rejected is not None:
            rejected = (rejected or 0) + was_rejected
        flagged = {i.rule for i in issues}
        errors = {i.rule for i in issues if i.severity == "error"}
        for rid in flagged:
            outcome = outcomes.setdefault(rid, RuleOutcome(rid, "python", "error"))
            outcome.flagged += 1
            outcome.bounced += rid in errors
            outcome.caught += bool(was_rejected)
        bounced += bool(errors)
        caught += bool(was_rejected) and bool(flagged)
    return Backtest(labels, rejected, bounced, caught, list(outcomes.values()))
