"""``handle_label`` for many labels at once: the batched path of ``kili-rules serve``.

The SDK holds a process to 500 API calls a minute, and one label costs about five to seven
calls on its own (its fetch, the open-issues read, the asset read, ``createIssues``, the
send-back, the metadata write). :func:`handle_labels` pays those calls once per batch:

1. one ``kili.assets`` read for the labels to fetch and the resolutions pixel rules need
   (only when some label must be fetched or a rule needs the resolution);
2. each label is validated and decided on its own, exactly as :func:`handle_label` does
   (an unreadable label becomes one error finding on it; a label Kili does not hold is
   reported and nothing is written for it);
3. :func:`kili_rules.kili.effects.run_effects` over every target: one open-issues read, one
   asset read, one ``createIssues`` (per 100 issues), one call per asset action, one
   metadata write, each label's steps recorded in its own StepLog (the same exactly-once
   rules as one label: a retry resumes after each label's last recorded step).

A failure of a shared call fails the batch (``KiliCallFailed``, after the steps done so far
were recorded): the caller retries the labels, batched or one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kili_rules import LabelError, RuleSet
from kili_rules.kili.effects import KiliCallFailed, StepLog, Target, is_retryable, run_effects
from kili_rules.kili.finding_text import unreadable_text
from kili_rules.kili.plugin import (
    LABEL_FIELDS,
    Decision,
    _decide,
    _Finding,
    _label_id,
    _policy,
    _usable,
)
from kili_rules.verdict import Verdict

__all__ = ["LabelJob", "handle_labels"]

LOGGER = logging.getLogger("kili_rules.kili")
RESOLUTION_FIELDS = ["resolution.width", "resolution.height"]
PREFETCH_BATCH = 100  # assets per read


@dataclass(frozen=True)
class LabelJob:
    """One label to check: the event's asset, its label payload, its own StepLog."""

    asset_id: str
    label: object
    steps: StepLog
    handler: str = "check"


@dataclass
class _Prepared:
    base: dict[str, Any]
    verdict: Verdict | None = None  # None: nothing to act on (``decision`` says why)
    decision: Decision | None = None
    # the label's jsonResponse, for waivers (a reviewer's cancelled issue on an unchanged object)
    label: Any = None


def handle_labels(
    kili: Any,
    ruleset: RuleSet,
    project_id: str,
    jobs: Sequence[LabelJob],
    *,
    fetch_label: bool = False,
    dry_run: bool = False,
    reconcile: bool = True,
    logger: logging.Logger | None = None,
) -> list[Decision]:
    """:func:`kili_rules.kili.plugin.handle_label` for each job, with the Kili calls shared
    (see the module docstring); one Decision per job, in order.

    Each asset may appear once (``run_effects``' rule): give a second label of an asset in
    a later batch. A failed shared call raises :class:`KiliCallFailed` (``retryable``,
    ``step``); its ``effects`` list what each target had done.
    """
    log = logger or LOGGER
    assets = [job.asset_id for job in jobs]
    if len(set(assets)) != len(assets):
        raise ValueError("handle_labels: one label per asset in a batch")
    bases = [
        {
            "handler": job.handler,
            "project_id": project_id,
            "asset_id": job.asset_id,
            "label_id": _label_id(job.label),
            "dry_run": dry_run,
        }
        for job in jobs
    ]
    to_fetch = [
        i
        for i, job in enumerate(jobs)
        if isinstance(job.label, Mapping)
        and bases[i]["label_id"] is not None
        and (fetch_label or not _usable(job.label.get("jsonResponse")))
    ]
    rows = _prefetch(
        kili,
        project_id,
        [assets[i] for i in to_fetch] if not ruleset.needs_resolution else assets,
        labels=bool(to_fetch),
        resolution=ruleset.needs_resolution,
    )
    fetched = set(to_fetch)
    prepared: list[_Prepared] = []
    for i, job in enumerate(jobs):
        prepared.append(
            _prepare(kili, ruleset, project_id, job, bases[i], i in fetched, fetch_label, rows, log)
        )

    acting = [(i, p) for i, p in enumerate(prepared) if p.verdict is not None]
    policy = _policy(ruleset)
    targets = [
        Target(jobs[i].asset_id, p.base["label_id"], p.verdict, jobs[i].steps, p.label, policy)
        for i, p in acting
        if p.verdict is not None
    ]
    effects = run_effects(
        kili, project_id, targets, reconcile=reconcile, dry_run=dry_run, logger=log,
        latest_only=True,
    )  # fmt: skip
    for (_i, p), done in zip(acting, effects, strict=True):
        assert p.verdict is not None
        p.decision = _decision(p, p.verdict, done, log)
    return [p.decision for p in prepared if p.decision is not None]


def _prefetch(
    kili: Any, project_id: str, asset_ids: list[str], *, labels: bool, resolution: bool
) -> dict[str, Mapping[str, Any]]:
    """One ``kili.assets`` read per 100 assets: their labels (to fetch) and resolutions."""
    if not asset_ids or not (labels or resolution):
        return {}
    fields = ["id"]
    if labels:
        fields += [f"labels.{name}" for name in LABEL_FIELDS]
    if resolution:
        fields += RESOLUTION_FIELDS
    found: dict[str, Mapping[str, Any]] = {}
    unique = list(dict.fromkeys(asset_ids))
    for start in range(0, len(unique), PREFETCH_BATCH):
        chunk = unique[start : start + PREFETCH_BATCH]
        try:
            rows = kili.assets(
                project_id=project_id, asset_id_in=chunk, fields=fields, disable_tqdm=True
            )
        except Exception as exc:
            step = "fetch_label" if labels else "fetch_asset"
            raise KiliCallFailed(
                f"{step}: reading {len(chunk)} asset(s) failed ({type(exc).__name__}: {exc})",
                retryable=is_retryable(exc),
                step=step,
            ) from exc
        for row in rows or []:
            if isinstance(row, Mapping) and isinstance(row.get("id"), str):
                found[row["id"]] = row
    return found


def _prepare(
    kili: Any,
    ruleset: RuleSet,
    project_id: str,
    job: LabelJob,
    base: dict[str, Any],
    fetch: bool,
    fetch_label: bool,
    rows: Mapping[str, Mapping[str, Any]],
    log: logging.Logger,
) -> _Prepared:
    """Validate and decide one label (``handle_label`` up to its effects)."""
    label_id = base["label_id"]
    if not isinstance(job.label, Mapping):
        reason = f"the label is not an object ({type(job.label).__name__})"
        return _unreadable(ruleset, base, reason, log)
    target: object = job.label
    if fetch:
        content = _listed_content(rows.get(job.asset_id), label_id)
        if content is None:
            # not listed on its asset (or the asset is not this one): ask for the label
            try:
                found = list(
                    kili.labels(
                        project_id=project_id,
                        label_id=label_id,
                        fields=list(LABEL_FIELDS),
                        disable_tqdm=True,
                    )
                )
            except Exception as exc:
                raise KiliCallFailed(
                    f"fetch_label: fetching label {label_id} failed: {exc}",
                    retryable=is_retryable(exc),
                    step="fetch_label",
                ) from exc
            if not found:
                invalid = f"label {label_id} was not found in project {project_id}"
                log.error("kili-rules: %s", invalid)
                return _Prepared({**base, "fetched": True}, decision=Decision(
                    **base, fetched=True, invalid=invalid
                ))  # fmt: skip
            content = (found[0].get("jsonResponse"),)
        base = {**base, "fetched": True}
        target = {"id": label_id, "jsonResponse": content[0]}
    elif label_id is None and (fetch_label or not _usable(job.label.get("jsonResponse"))):
        return _unreadable(ruleset, base, "the label has no jsonResponse and no id", log)
    resolution = _resolution(rows.get(job.asset_id)) if ruleset.needs_resolution else None
    try:
        verdict = _decide(ruleset, target, resolution)
    except LabelError as exc:
        return _unreadable(ruleset, base, str(exc), log)
    if not verdict.issues:
        log.info("kili-rules: label %s on asset %s passes", label_id, job.asset_id)
    for issue in verdict.issues:
        log.info("kili-rules: issue on label %s (mid %s): %s", label_id, issue.mid, issue.text)
    content_json = target.get("jsonResponse") if isinstance(target, Mapping) else None
    return _Prepared(base, verdict=verdict, label=content_json)


def _listed_content(row: Mapping[str, Any] | None, label_id: str) -> tuple[object] | None:
    """``(jsonResponse,)`` of ``label_id`` among the asset's labels, None when not listed."""
    labels = row.get("labels") if row is not None else None
    for label in labels if isinstance(labels, list) else []:
        if isinstance(label, Mapping) and label.get("id") == label_id:
            return (label.get("jsonResponse"),)
    return None


def _resolution(row: Mapping[str, Any] | None) -> tuple[float, float] | None:
    size = (row.get("resolution") or {}) if row is not None else {}
    width = size.get("width") if isinstance(size, Mapping) else None
    height = size.get("height") if isinstance(size, Mapping) else None
    if isinstance(width, int | float) and isinstance(height, int | float):
        return (float(width), float(height))
    return None


def _unreadable(
    ruleset: RuleSet, base: dict[str, Any], reason: str, log: logging.Logger
) -> _Prepared:
    log.error(
        "kili-rules: label %s on asset %s is unreadable: %s",
        base["label_id"],
        base["asset_id"],
        reason,
    )
    if base["label_id"] is None:  # nothing to attach an issue to: log only
        return _Prepared(base, decision=Decision(**base, invalid=reason))
    finding: Any = _Finding(unreadable_text(reason))
    return _Prepared(
        {**base, "invalid": reason}, verdict=Verdict.decide([finding], _policy(ruleset))
    )


def _decision(p: _Prepared, verdict: Verdict, effects: Any, log: logging.Logger) -> Decision:
    """The Decision ``handle_label`` returns for these effects."""
    base = p.base
    outcome = verdict.outcome if effects.superseded_by is None else "superseded"
    sent_back = any(a in ("send_back", "invalidate") for a in effects.actions)
    if sent_back and not base["dry_run"]:
        log.info("kili-rules: asset %s sent back to the queue", base["asset_id"])
    return Decision(
        **base,
        issues=tuple(i for i in verdict.issues if not isinstance(i, _Finding)),
        texts=tuple(i.text for i in verdict.issues),
        mids=tuple(i.mid for i in verdict.issues),
        outcome=outcome,
        actions=effects.actions,
        effects=effects,
        sent_back=sent_back,
        wrote=bool(effects.changes) and not base["dry_run"],
    )
