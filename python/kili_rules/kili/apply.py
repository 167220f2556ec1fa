"""``Report.apply``: push a batch report's findings back to Kili, with the plugin's effects.

The same implementation as the plugin and the webhook (:func:`kili_rules.kili.effects.run_effects`),
in bulk: per batch of assets, one issues read, one assets read, one ``create_issues`` call (the
SDK splits it per 100 issues), one metadata write and one call per asset action. An issue
already open on the asset with the same text and mid is not created again; issues kili-rules
created earlier that no longer fire are solved, also on the checked labels that have no row
any more (a label fixed since the last apply); the rules' actions are performed. A dry run
(the default) lists the changes and writes nothing; a second apply changes nothing.

A report from any source: the assets are first looked up in Kili (one paged query), for the
latest label of those the report gives no label id (an export) or no asset id (external ids
only), and to leave alone the ones deleted since. What cannot be applied is counted by reason
in the headline, and the result is not ``ok``. :func:`read_report` reads a report saved as
JSON back (``kili-rules apply REPORT``).

Creations are verified: after each batch, the issues ``createIssues`` answered as created are
read back from Kili; one it does not hold makes the batch fail, with the counts (an answer
that says saved is not taken for proof). Applying again creates only the missing ones (the
open issues are read first, and those found are kept).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from kili_rules.kili.effects import Change, Effects, KiliCallFailed, Target, run_effects
from kili_rules.report import UNCHECKED_KIND, progress_bar
from kili_rules.verdict import ActionPolicy, Verdict

if TYPE_CHECKING:
    from kili_rules.report import Report

__all__ = ["APPLY_BATCH", "ApplyResult", "apply_report", "checked_labels", "verify_created"]

LOGGER = logging.getLogger("kili_rules.kili")
APPLY_BATCH = 100  # assets per batch of Kili calls
PROGRESS_DESC = "kili-rules apply"  # the label of apply's one progress bar


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
        """Everything the report asked was applied: no failed batch, no asset left alone."""
        return not self.failed and not self.skipped

    @property
    def not_applied(self) -> int:
        """How many assets (or rows naming no asset) were not applied: skipped or failed."""
        return len(
            {key for key, _why in self.skipped} | {a for ids, _m in self.failed for a in ids}
        )

    def headline(self) -> str:
        """One line: the changes counted by kind, and how many assets were not applied and
        why (never "no change" when something could not be applied)."""
        counts = {a: self.count(a) for a in dict.fromkeys(c.action for c in self.changes)}
        done = ", ".join(f"{n} {a}" for a, n in counts.items())
        head = "dry run: " if self.dry_run else ""
        missed = self.not_applied
        if not missed:
            return f"{head}{done or 'no change'} on project {self.project_id}"
        why: dict[str, set[str]] = {}
        for key, reason in self.skipped:
            why.setdefault(reason, set()).add(key)
        if self.failed:
            why["Kili calls failed (apply again to resume)"] = {
                a for ids, _m in self.failed for a in ids
            }
        reasons = "; ".join(f"{len(keys)} {reason}" for reason, keys in why.items())
        return (
            f"{head}{done or 'nothing applied'} on project {self.project_id}; "
            f"NOT APPLIED to {missed} asset(s): {reasons}"
        )

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
        lines = [self.headline()]
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
            "ok": self.ok,
            "not_applied": self.not_applied,
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


LOOKUP_PAGE = 500  # asset ids (or external ids) per page of the label-id lookup
LOOKUP_SELECTION = "id externalId latestLabel { id createdAt }"
# why an asset was left alone; the headline counts them (no id in the text: they group)
GONE = "not found in the project (deleted since the report?)"
NO_LABEL = "the asset has no label in Kili"
RELABELED = "relabeled since the report: the label checked is no longer the asset's latest"
NO_SUCH_EXTERNAL = "no asset of the project has this external id"
MANY_EXTERNAL = "several assets of the project have this external id"
NO_IDS = "the row names no asset (no asset id, no external id)"


@dataclass(frozen=True)
class _Latest:
    asset_id: str
    external_id: str | None
    label_id: str | None
    created_at: str | None


def lookup_latest_labels(
    kili: Any, project_id: str, *, asset_ids: Sequence[str] = (), external_ids: Sequence[str] = ()
) -> list[_Latest]:
    """The assets of ``project_id`` with these ids or external ids, each with its latest label
    (id, createdAt): one paged ``assets`` query (``idIn`` / ``externalIdStrictlyIn``, at most
    :data:`LOOKUP_PAGE` per page), through the scan's poster (its retries and rate limit).
    An asset the project does not hold is not in the answer. Raises ProjectError."""
    from kili_rules.kili.project import ASSETS_QUERY, GraphQLPoster, ProjectError

    try:
        poster = GraphQLPoster.of(getattr(kili, "legacy_client", kili))
    except TypeError as error:
        raise ProjectError(f"cannot read the latest label ids: {error}") from None
    query = ASSETS_QUERY % LOOKUP_SELECTION
    found: dict[str, _Latest] = {}
    for key, ids in (("idIn", list(asset_ids)), ("externalIdStrictlyIn", list(external_ids))):
        for start in range(0, len(ids), LOOKUP_PAGE):
            where = {"project": {"id": project_id}, key: ids[start : start + LOOKUP_PAGE]}
            skip = 0
            while True:  # several assets may share an external id: page until a short page
                what = f"assets of project {project_id} ({key}, skip={skip}): latest label ids"
                variables = {"where": where, "first": LOOKUP_PAGE, "skip": skip}
                page = poster.post(query, variables, what)
                if not isinstance(page, list):
                    raise ProjectError(f"{what}: expected a list, got {type(page).__name__}")
                for asset in page:
                    if isinstance(asset, Mapping) and isinstance(asset.get("id"), str):
                        found[asset["id"]] = _latest(asset)
                skip += len(page)
                if len(page) < LOOKUP_PAGE:
                    break
    return list(found.values())


def _latest(asset: Mapping[str, Any]) -> _Latest:
    label = asset.get("latestLabel")
    label = label if isinstance(label, Mapping) else {}
    ext, label_id, created = asset.get("externalId"), label.get("id"), label.get("createdAt")
    return _Latest(
        str(asset["id"]),
        ext if isinstance(ext, str) else None,
        label_id if isinstance(label_id, str) and label_id else None,
        created if isinstance(created, str) else None,
    )


def _same_time(a: str, b: str) -> bool:
    from kili_rules.kili.project import kili_timestamp

    try:
        return kili_timestamp(a) == kili_timestamp(b)
    except ValueError:
        return a == b


def unlabeled_assets(items: Iterable[object]) -> list[str]:
    """Ids of the asset records in ``validate_many`` items that carry no label id (their
    labels were fetched without ``latestLabel.id``): clean ones are reconciled too once
    their latest label is known."""
    found: dict[str, None] = {}
    for item in items:
        if not isinstance(item, Mapping) or "jsonResponse" in item:
            continue
        asset = item.get("id")
        if isinstance(asset, str) and asset and not checked_labels([item]):
            found[asset] = None
    return list(found)


def apply_report(
    report: Report,
    kili: Any,
    *,
    project_id: str | None = None,
    dry_run: bool = True,
    reconcile: bool = True,
    policy: ActionPolicy | None = None,
    logger: logging.Logger | None = None,
    progress: bool | None = None,
) -> ApplyResult:
    """See :meth:`kili_rules.report.Report.apply`.

    A report from any source is applied: where it lacks a label id (a Kili export has none,
    nor asset records fetched without ``latestLabel.id``) or an asset id (a JSON list with
    external ids only), the assets' latest labels are read from Kili first, in one paged
    query that also tells which assets are gone. What still cannot be applied is counted in
    ``skipped`` (or ``failed``), and the result is not ``ok``.

    ``progress``: one bar on stderr over the assets acted on, advanced per batch (default:
    when stderr is a terminal). The SDK's own bars are never drawn: every SDK call here
    passes ``disable_tqdm=True`` or goes through the GraphQL executor.
    """
    from kili_rules.kili.project import ProjectError

    log = logger or LOGGER
    project = project_id or report.context.project_id
    if not project:
        raise ValueError(
            "Report.apply needs the project id: pass project_id=... (the report does not name one)"
        )
    actions = policy if policy is not None else ActionPolicy()
    checked: Sequence[tuple[str, str]] | None = getattr(report, "checked", None)
    clean_unlabeled: list[str] = []
    if checked is None and report.items is not None:
        checked = checked_labels(report.items)
        clean_unlabeled = unlabeled_assets(report.items)
    complete = checked is not None

    rows_by_asset: dict[str, list[Any]] = {}
    rows_by_external: dict[str, list[Any]] = {}
    labels_by_asset: dict[str, list[str]] = {}
    skipped: list[tuple[str, str]] = []
    failed: list[tuple[tuple[str, ...], str]] = []
    # a label that could not be read (not a finding): its asset's findings are not all known,
    # so the asset is left alone. A rule the label could not be judged by (an unchecked row with
    # that rule's id) leaves the other findings to act on; the verdict makes nothing of it.
    unchecked = {row.asset_id for row in report if _label_unchecked(row) and row.asset_id}
    for asset_id, label_id in checked or ():
        labels_by_asset.setdefault(asset_id, [])
        if label_id not in labels_by_asset[asset_id]:
            labels_by_asset[asset_id].append(label_id)
    for asset_id in clean_unlabeled:
        labels_by_asset.setdefault(asset_id, [])
    for row in report:
        if not row.asset_id:
            if _label_unchecked(row):
                skipped.append((row.external_id or row.source or "?", row.text))
            elif row.external_id:
                rows_by_external.setdefault(row.external_id, []).append(row)
            else:
                skipped.append((row.source or "?", NO_IDS))
            continue
        if row.asset_id in unchecked:
            if _label_unchecked(row):
                skipped.append((row.asset_id, row.text))
            continue
        rows_by_asset.setdefault(row.asset_id, []).append(row)
        labels = labels_by_asset.setdefault(row.asset_id, [])
        if row.label_id and row.label_id not in labels:
            labels.append(row.label_id)

    # every asset to act on is looked up: the latest label of those the report gives none,
    # and whether each still exists (a deleted asset would fail its whole batch)
    wanted = [a for a in labels_by_asset if a not in unchecked]
    try:
        latest = (
            lookup_latest_labels(
                kili, project, asset_ids=wanted, external_ids=list(rows_by_external)
            )
            if wanted or rows_by_external
            else []
        )
    except ProjectError as error:
        log.error("kili-rules apply: %s", error)
        failed.append(
            (
                tuple(wanted) + tuple(rows_by_external),
                f"the assets could not be looked up in Kili ({error}); apply again",
            )
        )
        latest, wanted, rows_by_external = [], [], {}
    by_id = {entry.asset_id: entry for entry in latest}
    for external_id, rows in rows_by_external.items():
        owners = [entry for entry in latest if entry.external_id == external_id]
        if len(owners) != 1:
            skipped.append((external_id, MANY_EXTERNAL if owners else NO_SUCH_EXTERNAL))
            continue
        asset_id = owners[0].asset_id
        if asset_id in unchecked:
            continue
        if asset_id not in labels_by_asset:
            wanted.append(asset_id)
        rows_by_asset.setdefault(asset_id, []).extend(rows)
        labels = labels_by_asset.setdefault(asset_id, [])
        labels.extend(r.label_id for r in rows if r.label_id and r.label_id not in labels)

    targets: list[Target] = []
    for asset_id in dict.fromkeys(wanted):
        rows = rows_by_asset.get(asset_id, [])
        labels = labels_by_asset.get(asset_id, [])
        entry = by_id.get(asset_id)
        if entry is None:
            if rows:  # a clean asset that is gone has nothing left to apply
                skipped.append((asset_id, GONE))
            continue
        if not labels:
            if entry.label_id is None:
                if rows:
                    skipped.append((asset_id, NO_LABEL))
                continue
            judged = {r.created_at for r in rows if getattr(r, "created_at", None)}
            if entry.created_at and any(not _same_time(t, entry.created_at) for t in judged):
                skipped.append((asset_id, RELABELED))
                continue
            labels = [entry.label_id]
        verdict = Verdict.decide(rows, actions)
        # an issue goes on the label its row came from; the last label is the default
        # the policy: a finding a reviewer waived is left out and the rest decided again
        targets.append(Target(asset_id, labels[-1], verdict, policy=actions))

    effects: list[Effects] = []
    show = sys.stderr.isatty() if progress is None else progress
    with progress_bar(
        len(targets), disable=not (show and targets), desc=PROGRESS_DESC, unit="asset", leave=True
    ) as bar:
        for start in range(0, len(targets), APPLY_BATCH):
            batch = targets[start : start + APPLY_BATCH]
            try:
                done = run_effects(
                    kili, project, batch, reconcile=reconcile, dry_run=dry_run, logger=log
                )
            except KiliCallFailed as exc:
                log.error("kili-rules apply: a batch of %d asset(s) failed: %s", len(batch), exc)
                failed.append((tuple(t.asset_id for t in batch), str(exc)))
                bar.update(len(batch))
                continue
            effects.extend(done)
            shortfall = None if dry_run else verify_created(kili, project, done)
            if shortfall is not None:
                log.error("kili-rules apply: %s", shortfall[1])
                failed.append(shortfall)
            bar.update(len(batch))
    result = ApplyResult(project, dry_run, tuple(effects), tuple(failed), tuple(skipped), complete)
    log.info("kili-rules apply: %s", result.headline())
    return result


@dataclass(frozen=True)
class SavedRow:
    """One row of a report read back from its JSON (``Report.to_json``): what ``apply`` needs
    of a :class:`kili_rules.Row`, with the same attribute names."""

    rule: str
    kind: str
    severity: str
    text: str
    asset_id: str | None = None
    external_id: str | None = None
    label_id: str | None = None
    mid: str | None = None
    source: str | None = None
    job: str | None = None
    category: str | None = None
    frame: int | None = None
    value: float | None = None
    limit: float | None = None
    author: str | None = None
    label_type: str | None = None
    created_at: str | None = None
    asset_status: str | None = None


_TEXT_FIELDS = ("rule", "kind", "severity", "text")
_OPTIONAL_TEXT = (
    "asset_id",
    "external_id",
    "label_id",
    "mid",
    "source",
    "job",
    "category",
    "author",
    "label_type",
    "created_at",
    "asset_status",
)


def read_report(path: str) -> Report:
    """A report saved as JSON (``kili-rules check/audit --format json``), to apply it.

    ValueError names the file and, for a bad row, its index and field."""
    from pathlib import Path

    from kili_rules.report import Report
    from kili_rules.report.context import Context

    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error})") from None
    rows_in = document.get("rows") if isinstance(document, Mapping) else None
    if not isinstance(rows_in, list):
        raise ValueError(
            f"{path}: not a kili-rules JSON report (expected an object with a 'rows' list: "
            "write one with --format json)"
        )
    rows: list[SavedRow] = []
    for index, raw in enumerate(rows_in):
        where = f"{path}: rows[{index}]"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: expected an object, got {type(raw).__name__}")
        fields: dict[str, Any] = {}
        for name in _TEXT_FIELDS:
            value = raw.get(name)
            if not isinstance(value, str):
                raise ValueError(f"{where}.{name}: expected a string, got {value!r}")
            fields[name] = value
        if fields["severity"] not in ("error", "warning"):
            raise ValueError(
                f"{where}.severity: expected error or warning, not {fields['severity']!r}"
            )
        for name in _OPTIONAL_TEXT:
            value = raw.get(name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{where}.{name}: expected a string or null, got {value!r}")
            fields[name] = value
        rows.append(SavedRow(**fields))
    checked = document.get("checked")
    checked = checked if isinstance(checked, Mapping) else {}
    summary = document.get("summary")
    summary = summary if isinstance(summary, Mapping) else {}
    project = checked.get("project_id")
    context = Context(
        inputs=(path,),
        project_id=project if isinstance(project, str) and project else None,
    )

    def count(key: str) -> int:
        value = summary.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Report(
        cast("list[Any]", rows),
        labels=count("labels"),
        assets=count("assets"),
        invalid=count("invalid"),
        unchecked=count("unchecked"),
        context=context,
    )


def _label_unchecked(row: Any) -> bool:
    """A row standing for a whole label with nothing read (not for one unchecked rule)."""
    return bool(row.kind == UNCHECKED_KIND and row.rule == UNCHECKED_KIND)
