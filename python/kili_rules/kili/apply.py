"""``Report.apply``: push a batch report's findings back to Kili, with the plugin's effects.

The same implementation as the plugin and the webhook (:func:`kili_rules.kili.effects.run_effects`),
in bulk: per batch of assets, one issues read, one assets read, one ``create_issues`` call (the
SDK splits it per 100 issues), one metadata write and one call per asset action. An issue
already open on the asset with the same text and mid is not created again; issues kili-rules
created earlier that no longer fire are solved, also on the checked labels that have no row
any more (a label fixed since the last apply); the rules' actions are performed. A dry run
(the default) lists the changes and writes nothing; a second apply changes nothing.

Creations are verified: after each batch, the issues ``createIssues`` answered as created are
read back from Kili; one it does not hold makes the batch fail, with the counts (an answer
that says saved is not taken for proof). Applying again creates only the missing ones (the
open issues are read first, and those found are kept).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kili_rules.kili.effects import Change, Effects, KiliCallFailed, Target, run_effects
from kili_rules.report import UNCHECKED_KIND
from kili_rules.verdict import ActionPolicy, Verdict

if TYPE_CHECKING:
    from kili_rules.report import Report

__all__ = ["APPLY_BATCH", "ApplyResult", "apply_report", "checked_labels", "verify_created"]

LOGGER = logging.getLogger("kili_rules.kili")
APPLY_BATCH = 100  # assets per batch of Kili calls


@dataclass(frozen=True)
class ApplyResult:
    """What ``Report.apply`` changed in Kili (or would change, in a dry run).

    ``str(result)`` lists the changes, one per line, then a summary. ``failed`` holds the
    batches whose Kili calls failed (``(asset ids, message)``): applying again is safe, it
    resumes from what Kili holds. ``skipped``: assets left alone, and why.
    """

    project_id: str
    dry_run: bool
    effects: tuple[Effects, ...] = ()
    failed: tuple[tuple[tuple[str, ...], str], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    complete: bool = True  # False: the checked labels were unknown, clean ones not reconciled

    @property
    def changes(self) -> list[Change]:
        return [change for effects in self.effects for change in effects.changes]

    def __len__(self) -> int:
        return len(self.changes)

    def count(self, action: str) -> int:
        """How many changes of one kind (``create_issue``, ``solve_issue``, ``send_back``...)."""
        return sum(1 for change in self.changes if change.action == action)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        verb = "would " if self.dry_run else ""
        lines = [f"{verb}{change.describe()}" for change in self.changes]
        lines += self._summary_lines(every_skip=True)
        return "\n".join(lines)

    def summary(self) -> str:
        """The headline (counts per kind of change), failures, and skipped assets counted by
        reason: what a person reads after an ``apply`` of thousands of assets."""
        return "\n".join(self._summary_lines(every_skip=False))

    def _summary_lines(self, *, every_skip: bool) -> list[str]:
        counts = {a: self.count(a) for a in dict.fromkeys(c.action for c in self.changes)}
        summary = ", ".join(f"{n} {a}" for a, n in counts.items()) or "no change"
        head = "dry run: " if self.dry_run else ""
        lines = [f"{head}{summary} on project {self.project_id}"]
        for ids, message in self.failed:
            lines.append(f"FAILED for {len(ids)} asset(s) ({', '.join(ids[:5])}...): {message}")
        if every_skip:
            lines += [f"skipped asset {a}: {reason}" for a, reason in self.skipped]
        else:
            by_reason: dict[str, list[str]] = {}
            for asset_id, reason in self.skipped:
                by_reason.setdefault(reason, []).append(asset_id)
            for reason, assets in by_reason.items():
                more = ", ..." if len(assets) > 5 else ""
                shown = ", ".join(assets[:5])
                lines.append(f"skipped {len(assets)} asset(s) ({shown}{more}): {reason}")
        if not self.complete:
            lines.append(
                "note: the report does not say which labels were checked; issues on labels "
                "without a row were not reconciled"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "dry_run": self.dry_run,
            "changes": [change.to_dict() for change in self.changes],
            "failed": [{"asset_ids": list(ids), "error": msg} for ids, msg in self.failed],
            "skipped": [{"asset_id": a, "reason": r} for a, r in self.skipped],
            "complete": self.complete,
        }


def verify_created(
    kili: Any, project_id: str, effects: Sequence[Effects]
) -> tuple[tuple[str, ...], str] | None:
    """Read back the issues a batch created; ``(asset ids, message)`` when Kili does not hold
    them all (or they cannot be read), None when it does."""
    created = {issue: e.asset_id for e in effects for issue in e.created}
    if not created:
        return None
    assets = list(dict.fromkeys(created.values()))
    held: set[str] = set()
    try:
        for start in range(0, len(assets), APPLY_BATCH):
            chunk = assets[start : start + APPLY_BATCH]
            where: dict[str, Any] = (
                {"asset_id": chunk[0]} if len(chunk) == 1 else {"asset_id_in": chunk}
            )
            rows = kili.issues(project_id=project_id, fields=["id"], disable_tqdm=True, **where)
            held.update(str(row.get("id")) for row in rows or [] if isinstance(row, Mapping))
    except Exception as exc:  # the SDK's errors are many: any failure leaves it unproven
        return (
            tuple(assets),
            f"issues: {len(created)} issue(s) answered as created could not be read back "
            f"to verify them ({type(exc).__name__}: {exc}); apply again to check",
        )
    missing = [issue for issue in created if issue not in held]
    if not missing:
        return None
    owners = tuple(dict.fromkeys(created[issue] for issue in missing))
    return (
        owners,
        f"issues: createIssues answered {len(created)} issue(s) as created, Kili holds "
        f"{len(created) - len(missing)}; {len(missing)} missing ({', '.join(missing[:5])}): "
        "apply again to create them",
    )


def checked_labels(items: Iterable[object]) -> list[tuple[str, str]]:
    """``(asset id, label id)`` of each label in ``validate_many`` items (asset records with
    ``latestLabel`` / ``latestLabels`` / ``labels``, or label dicts with ``labelOf.id`` or
    ``assetId``); items without both ids are left out."""
    found: dict[tuple[str, str], None] = {}
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if "jsonResponse" in item:  # a label
            owner = item.get("labelOf")
            asset = owner.get("id") if isinstance(owner, Mapping) else item.get("assetId")
            _add(found, asset, item.get("id"))
            continue
        labels: list[object] = [item.get("latestLabel")]
        for key in ("latestLabels", "labels"):
            value = item.get(key)
            if isinstance(value, list):
                labels.extend(value)
        for label in labels:
            if isinstance(label, Mapping):
                _add(found, item.get("id"), label.get("id"))
    return list(found)


def _add(found: dict[tuple[str, str], None], asset: object, label: object) -> None:
    if isinstance(asset, str) and asset and isinstance(label, str) and label:
        found[(asset, label)] = None


def apply_report(
    report: Report,
    kili: Any,
    *,
    project_id: str | None = None,
    dry_run: bool = True,
    reconcile: bool = True,
    policy: ActionPolicy | None = None,
    logger: logging.Logger | None = None,
) -> ApplyResult:
    """See :meth:`kili_rules.report.Report.apply`."""
    log = logger or LOGGER
    project = project_id or report.context.project_id
    if not project:
        raise ValueError(
            "Report.apply needs the project id: pass project_id=... (the report does not name one)"
        )
    actions = policy if policy is not None else ActionPolicy()
    checked: Sequence[tuple[str, str]] | None = getattr(report, "checked", None)
    if checked is None and report.items is not None:
        checked = checked_labels(report.items)
    complete = checked is not None

    rows_by_asset: dict[str, list[Any]] = {}
    labels_by_asset: dict[str, list[str]] = {}
    skipped: list[tuple[str, str]] = []
    # a label that could not be read (not a finding): its asset's findings are not all known,
    # so the asset is left alone
    unchecked = {row.asset_id for row in report if row.kind == UNCHECKED_KIND and row.asset_id}
    for asset_id, label_id in checked or ():
        labels_by_asset.setdefault(asset_id, [])
        if label_id not in labels_by_asset[asset_id]:
            labels_by_asset[asset_id].append(label_id)
    for row in report:
        if not row.asset_id:
            skipped.append((row.external_id or row.source or "?", "the row has no asset id"))
            continue
        if row.asset_id in unchecked:
            if row.kind == UNCHECKED_KIND:
                skipped.append((row.asset_id, row.text))
            continue
        rows_by_asset.setdefault(row.asset_id, []).append(row)
        labels = labels_by_asset.setdefault(row.asset_id, [])
        if row.label_id and row.label_id not in labels:
            labels.append(row.label_id)

    targets: list[Target] = []
    for asset_id, labels in labels_by_asset.items():
        if asset_id in unchecked:
            continue
        rows = rows_by_asset.get(asset_id, [])
        if not labels:
            skipped.append((asset_id, "no label id: nowhere to attach issues"))
            continue
        verdict = Verdict.decide(rows, actions)
        # an issue goes on the label its row came from; the last label is the default
        # the policy: a finding a reviewer waived is left out and the rest decided again
        targets.append(Target(asset_id, labels[-1], verdict, policy=actions))

    effects: list[Effects] = []
    failed: list[tuple[tuple[str, ...], str]] = []
    for start in range(0, len(targets), APPLY_BATCH):
        batch = targets[start : start + APPLY_BATCH]
        try:
            done = run_effects(
                kili, project, batch, reconcile=reconcile, dry_run=dry_run, logger=log
            )
        except KiliCallFailed as exc:
            log.error("kili-rules apply: a batch of %d asset(s) failed: %s", len(batch), exc)
            failed.append((tuple(t.asset_id for t in batch), str(exc)))
            continue
        effects.extend(done)
        shortfall = None if dry_run else verify_created(kili, project, done)
        if shortfall is not None:
            log.error("kili-rules apply: %s", shortfall[1])
            failed.append(shortfall)
    result = ApplyResult(project, dry_run, tuple(effects), tuple(failed), tuple(skipped), complete)
    log.info("kili-rules apply: %s", str(result).splitlines()[-1])
    return result
