"""Carry out a Verdict against Kili: issues (reconciled), QA metadata, send-back, review, moves.

One implementation, used by ``RulesPlugin`` (in memory), the webhook workers (with a
journal-backed :class:`StepLog`) and ``Report.apply`` (in bulk, through :func:`run_effects`).

How one label's effects run, each step recorded in the StepLog once done, so a retry resumes
after the last completed step and never repeats a write:

1. read the asset's OPEN issues (one ``kili.issues`` call) and, when needed, its metadata and
   status (one ``kili.assets`` call);
2. ``plan``: the asset actions to perform, after the bounce cap (once ``max_bounces``
   send-backs were done by kili-rules on the asset, ``send_back`` becomes ``review`` and
   ``invalidate`` becomes ``next_step``) and without the ones whose end state the asset is
   already in (no send-back of an asset already in the queue, no review of one already
   TO_REVIEW: a second run changes nothing);
3. ``issues``: an open issue with the same text and object mid as a finding is kept, never
   created again (this also covers a ``createIssues`` that Kili saved but whose answer was
   lost: the retry reads it back); issues kili-rules created earlier that no longer fire are
   solved (``update_issue_status(..., "SOLVED")``) when ``reconcile`` is on; the rest are
   created in one ``create_issues`` call, with object mids;
4. each asset action in order (``send_back``, ``review``, ``invalidate``, ``next_step``);
5. ``metadata``: one merged write of the keys kili-rules owns (other keys are kept): the QA
   figures when the ``metadata`` action applies, the bounce count, and the issue ledger. It
   comes after the moves so that bookkeeping never holds up enforcement.

Which issues did kili-rules create? The asset's metadata key ``<prefix>issue_ids`` (prefix
``kili_rules_`` by default) lists the ids of the open issues kili-rules created or kept on
the asset (an open issue whose text and mid are exactly those of a current finding is adopted
into it). Only those are ever solved: an issue a reviewer opened is left alone, issue texts
stay exactly the rules' messages, and an issue of a rule since removed from the rules file is
still solved. The bounce count is ``<prefix>bounces``.

Failures raise :class:`KiliCallFailed` after the steps done so far were recorded.
``retryable`` is True for GraphQL errors, timeouts, refused or reset connections and 5xx
answers, False for a 4xx-like refusal or a wrong call. A dry run reads, logs and returns the
changes it would make, and writes nothing (not even to the StepLog).
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kili_rules import deep_json
from kili_rules.kili import waivers
from kili_rules.kili.finding_text import fingerprint, issue_text
from kili_rules.verdict import ActionPolicy, Verdict

__all__ = [
    "Change",
    "Effects",
    "KiliCallFailed",
    "MemorySteps",
    "StepLog",
    "Target",
    "act",
    "run_effects",
]

LOGGER = logging.getLogger("kili_rules.kili")

LEDGER_KEY = "issue_ids"
BOUNCES_KEY = "bounces"
# every status is read: the open ones are reconciled, the cancelled ones may be waivers
ISSUE_FIELDS = ["id", "objectMid", "comments.text", "assetId", "status"]
# "status" is the legacy workflow's; workflow v2 and v3 projects have a current step instead
# (the SDK warns when "status" is asked of one), named within its step group in V3 (the
# multi-group workflow: step names are unique per group only). These are the SDK's own
# default fields for each version.
ASSET_FIELDS = {
    "V1": ["id", "jsonMetadata", "status"],
    "V2": ["id", "jsonMetadata", "currentStep.name", "currentStep.status"],
    "V3": [
        "id",
        "jsonMetadata",
        "currentStep.stepGroupName",
        "currentStep.name",
        "currentStep.status",
    ],
}
# what the workflow read asks of a project: its version, and each step's type (DEFAULT for a
# labeling step, REVIEW) with its group (V3), to tell where an asset's current step is
PROJECT_FIELDS = [
    "id",
    "workflowVersion",
    "steps.name",
    "steps.type",
    "steps.stepGroupId",
    "stepGroups.id",
    "stepGroups.name",
]
# Workflows v2/v3: step statuses in which an asset is (back) with a labeler, in a labeling
# step; and those in which it waits for (or is in) a review, in a review step. REDO is
# REWORK's former name.
TO_LABEL = ("TO_DO", "DOING")
SENT_BACK = ("REWORK", "REDO")
IN_REVIEW = ("TO_DO", "DOING", "PARTIALLY_DONE")
# asked in the same asset read when a label's freshness is checked (``latest_only``): an
# event for a label a newer one of the same type has replaced must not act
LABEL_FIELDS = ["labels.id", "labels.labelType", "labels.createdAt"]
# Asset actions: the SDK method that performs it, and the (legacy workflow) asset statuses in
# which it is a no-op. Workflows v2/v3 tell it by the current step (``_Runner.already``).
MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "send_back": ("send_back_to_queue", ("TODO", "ONGOING")),
    "review": ("add_to_review", ("TO_REVIEW",)),
    "invalidate": ("send_back_to_queue", ("TODO", "ONGOING")),
    "next_step": ("add_to_review", ("TO_REVIEW",)),
}
# the document the SDK's update_properties_in_assets sends
UPDATE_PROPERTIES_IN_ASSETS = """
mutation($whereArray: [AssetWhere!]!, $dataArray: [AssetData!]!) {
  data: updatePropertiesInAssets(where: $whereArray, data: $dataArray) { id }
}
"""
# the document the SDK's create_issues sends
CREATE_ISSUES = """
mutation createIssues($issues: [IssueToCreate!]!, $where: AssetWhere!) {
  data: createIssues(issues: $issues, where: $where) { id }
}
"""
BOUNCE_INSTEAD = {"send_back": "review", "invalidate": "next_step"}
READ_BATCH = 100  # assets per issues / assets read in bulk
# client -> project id -> its workflow (a project keeps its version)
_WORKFLOWS: weakref.WeakKeyDictionary[Any, dict[str, _Workflow]] = weakref.WeakKeyDictionary()


class StepLog(Protocol):
    """Where completed steps are remembered (the journal, or memory)."""

    def get(self, step: str) -> Any | None:
        """The JSON-able result of a done step, or None."""

    def put(self, step: str, result: Any) -> None:
        """Record a done step (durably, for the journal)."""

    def hold(self) -> None:
        """Called right before a Kili write: raise if this work may no longer be done here
        (the journal's lease was lost to another worker), so two workers never both write."""


class MemorySteps:
    """A dict-backed StepLog (the plugin's: one handler call, no durability)."""

    def __init__(self) -> None:
        self._done: dict[str, Any] = {}

    def get(self, step: str) -> Any | None:
        return self._done.get(step)

    def put(self, step: str, result: Any) -> None:
        self._done[step] = result

    def hold(self) -> None:
        """One handler call owns its steps: nothing to check."""

    def done(self) -> dict[str, Any]:
        """A copy of the steps recorded so far."""
        return dict(self._done)


class KiliCallFailed(Exception):
    """A Kili call failed; the steps before ``step`` are recorded in the StepLog."""

    def __init__(self, message: str, *, retryable: bool, step: str) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.step = step
        # what handle_label had decided when the call failed (a kili.plugin.Decision)
        self.decision: Any = None
        # run_effects: each target's Effects so far (actions done before the failure)
        self.effects: list[Effects] = []


@dataclass(frozen=True)
class Change:
    """One write to Kili, done (or, in a dry run, that would be done)."""

    # create_issue | solve_issue | metadata | send_back | review | invalidate | next_step
    action: str
    asset_id: str
    label_id: str | None = None
    text: str | None = None
    mid: str | None = None
    issue_id: str | None = None
    metadata: Mapping[str, str] | None = None

    def describe(self) -> str:
        where = f"asset {self.asset_id}"
        if self.action == "create_issue":
            mid = f" on object {self.mid}" if self.mid else ""
            return f"create issue{mid} of label {self.label_id}: {self.text}"
        if self.action == "solve_issue":
            return f"solve issue {self.issue_id} ({self.text}) on {where}"
        if self.action == "metadata":
            keys = ", ".join(f"{k}={v}" for k, v in (self.metadata or {}).items())
            return f"merge metadata into {where}: {keys}"
        return f"{self.action.replace('_', ' ')}: {where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "asset_id": self.asset_id,
            "label_id": self.label_id,
            "text": self.text,
            "mid": self.mid,
            "issue_id": self.issue_id,
            "metadata": dict(self.metadata) if self.metadata is not None else None,
        }


@dataclass(frozen=True)
class Effects:
    """What ``act`` did (or would do, in a dry run) for one label."""

    project_id: str
    asset_id: str
    label_id: str | None
    dry_run: bool
    changes: tuple[Change, ...] = ()
    created: tuple[str, ...] = ()  # ids of the issues created (none in a dry run)
    solved: tuple[str, ...] = ()  # ids of the issues solved
    kept: tuple[str, ...] = ()  # open issues that still fire: not created again
    actions: tuple[str, ...] = ()  # asset actions performed, after the bounce cap
    declined: tuple[str, ...] = ()  # asset actions Kili declined
    resumed: tuple[str, ...] = ()  # steps found done in the StepLog, not redone
    bounced_to_review: bool = False  # the bounce cap turned a send-back into a review
    # the id of the newer label of the same type that replaced this one: nothing was done
    superseded_by: str | None = None
    # findings a reviewer's cancelled issue waived (rule, mid), and the outcome left
    waived: tuple[tuple[str, str | None], ...] = ()
    outcome: str | None = None


@dataclass
class Target:
    """One label to act on (``run_effects`` takes many)."""

    asset_id: str
    label_id: str | None
    verdict: Verdict
    steps: StepLog = field(default_factory=MemorySteps)
    # waivers (kili.waivers): the label's jsonResponse (None: read from Kili when needed) and
    # the actions policy to decide the findings left again (None: no waiver applies)
    label: Any = None
    policy: ActionPolicy | None = None


@dataclass(frozen=True)
class _Workflow:
    """A project's workflow version and, in V2/V3, each step's type by (group, name)."""

    version: str
    step_types: Mapping[tuple[str | None, str], str] = field(default_factory=dict)

    def step_type(self, step: tuple[str | None, str | None, str | None]) -> str | None:
        group, name, _status = step
        if name is None:
            return None
        return self.step_types.get((group if self.version == "V3" else None, name))


@dataclass
class _OpenIssue:
    id: str
    text: str | None
    mid: str | None


@dataclass
class _Work:
    target: Target
    open_issues: list[_OpenIssue] | None = None
    metadata: dict[str, Any] | None = None
    status: str | None = None
    # workflows v2/v3: the asset's current step, as (group name (V3), step name, status)
    step: tuple[str | None, str | None, str | None] | None = None
    changes: list[Change] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    issues: dict[str, Any] | None = None
    # the asset's newer label of the judged label's type, when the asset read found one
    newer: str | None = None
    # the asset's cancelled issues; the verdict once waivers applied, and the keys waived
    cancelled: list[_OpenIssue] = field(default_factory=list)
    waived_verdict: Verdict | None = None
    waived: list[waivers.Key] = field(default_factory=list)
    # the ids of every issue of the asset Kili holds (any status), when they were read
    known: set[str] = field(default_factory=set)

    @property
    def verdict(self) -> Verdict:
        return self.waived_verdict or self.target.verdict

    @property
    def asset_id(self) -> str:
        return self.target.asset_id

    def key(self, name: str) -> str:
        return self.verdict.metadata_prefix + name

    def wants_issues(self) -> bool:
        return "issues" in self.verdict.actions and bool(self.verdict.issues)


def act(
    kili: Any,
    *,
    project_id: str,
    asset_id: str,
    label_id: str | None,
    verdict: Verdict,
    steps: StepLog,
    reconcile: bool = True,
    dry_run: bool = False,
    logger: logging.Logger | None = None,
    latest_only: bool = True,
    label: Any = None,
    policy: ActionPolicy | None = None,
) -> Effects:
    """Carry out ``verdict`` for one label of ``asset_id`` (see the module docstring).

    With ``latest_only`` (the plugin's and the webhook's), a label that a newer label of the
    same type has replaced on the asset does nothing (``Effects.superseded_by``).
    ``label`` (the label's jsonResponse) and ``policy`` (the actions) let a reviewer's
    cancelled issue waive its finding on an unchanged object (``kili.waivers``).
    """
    target = Target(asset_id, label_id, verdict, steps, label, policy)
    return run_effects(
        kili,
        project_id,
        [target],
        reconcile=reconcile,
        dry_run=dry_run,
        logger=logger,
        latest_only=latest_only,
    )[0]


def run_effects(
    kili: Any,
    project_id: str,
    targets: Sequence[Target],
    *,
    reconcile: bool = True,
    dry_run: bool = False,
    logger: logging.Logger | None = None,
    latest_only: bool = False,
) -> list[Effects]:
    """``act`` over many labels at once: reads in bulk, one ``create_issues`` call (the SDK
    splits it per 100 issues), one metadata write, one call per asset action.

    ``latest_only``: the asset read also fetches the asset's labels (same call, three more
    fields); a target whose label is no longer the asset's latest of its type (a newer one
    was created after it) is superseded: logged at INFO, recorded in its StepLog's plan, and
    nothing is written for it. A label the asset does not list is acted on as before.

    Several targets on one asset are not supported (the last one's findings would solve the
    others'): pass one label per asset.
    """
    log = logger or LOGGER
    runner = _Runner(kili, project_id, reconcile, dry_run, log, latest_only)
    works = [_Work(t) for t in targets]
    seen: set[str] = set()
    for work in works:
        if work.asset_id in seen:
            raise ValueError(f"run_effects: asset {work.asset_id} is given twice")
        seen.add(work.asset_id)
    try:
        runner.run(works)
    except KiliCallFailed as exc:
        # what was done before the failure (a send-back made before a failed metadata write)
        exc.effects = [runner.effects(w) for w in works]
        raise
    return [runner.effects(w) for w in works]


class _Runner:
    def __init__(
        self,
        sdk: Any,
        project_id: str,
        reconcile: bool,
        dry_run: bool,
        log: logging.Logger,
        latest_only: bool = False,
    ) -> None:
        self.sdk = sdk
        self.project_id = project_id
        self.reconcile = reconcile
        self.dry_run = dry_run
        self.log = log
        self.latest_only = latest_only

    # ---- bookkeeping ---------------------------------------------------------------------

    def done(self, work: _Work, step: str) -> Any | None:
        result = work.target.steps.get(step)
        if result is not None and step not in work.resumed:
            work.resumed.append(step)
        return result

    def hold(self, works: Iterable[_Work]) -> None:
        """Fence a Kili write: every work must still be ours (see StepLog.hold)."""
        if not self.dry_run:
            for work in works:
                work.target.steps.hold()

    def record(self, work: _Work, step: str, result: Any) -> None:
        if not self.dry_run:
            work.target.steps.put(step, result)

    def call(self, step: str, method: str, **kwargs: Any) -> Any:
        """Call an SDK method; any failure becomes KiliCallFailed naming the step.

        In a dry run a failed read is logged and answered with None (the changes are then
        listed as if the asset had no open issue and no metadata).
        """
        try:
            return getattr(_legacy(self.sdk), method)(**kwargs)
        except Exception as exc:
            if self.dry_run and step == "read":
                self.log.warning(
                    "kili-rules dry run: cannot read from Kili (%s: %s); "
                    "changes listed without reconciliation",
                    type(exc).__name__,
                    exc,
                )
                return None
            raise KiliCallFailed(
                f"{step}: kili.{method} failed ({type(exc).__name__}: {exc})",
                retryable=is_retryable(exc),
                step=step,
            ) from exc

    def note(self, work: _Work, change: Change) -> None:
        work.changes.append(change)
        verb = "would " if self.dry_run else ""
        self.log.info("kili-rules: %s%s", verb, change.describe())

    # ---- the flow --------------------------------------------------------------------------

    def run(self, works: list[_Work]) -> None:
        for work in works:
            work.plan = self.done(work, "plan")
            work.issues = self.done(work, "issues")
        self.read_issues([w for w in works if w.issues is None and self.issues_needed(w)])
        self.read_assets([w for w in works if self.asset_needed(w)])
        self.waive([w for w in works if w.plan is None])
        for work in works:
            if work.plan is None:
                work.plan = self.plan(work)
                self.record(work, "plan", work.plan)
            else:
                self.settle_moves(work)
                resumed = [tuple(k) for k in work.plan.get("waived") or []]
                if resumed:
                    work.waived_verdict = waivers.without(
                        work.target.verdict, work.target.policy, resumed
                    )
        # a superseded label's plan says so (a retry resumes to the same nothing)
        live = [w for w in works if not (w.plan or {}).get("superseded_by")]
        self.do_issues([w for w in live if w.issues is None])
        # the moves enforce, the metadata is bookkeeping: a failed metadata write never stops
        # a send-back (a retry with the StepLog resumes at the metadata)
        for action in MOVES:
            self.do_move(action, [w for w in live if action in self.moves(w)])
        self.do_metadata([w for w in live if self.done(w, "metadata") is None])

    def issues_needed(self, work: _Work) -> bool:
        return self.reconcile or work.wants_issues()

    def asset_needed(self, work: _Work) -> bool:
        if work.plan is None and any(a in MOVES for a in work.verdict.actions):
            return True
        if work.plan is not None and self.open_moves(work):
            return True  # its status says whether a move was applied but not recorded
        if work.target.steps.get("metadata") is not None:
            return False
        if "metadata" in work.verdict.actions:
            return True
        # the ledger: needed when there are issues to create, keep or solve
        if work.issues is not None:
            return bool(work.issues["created"] or work.issues["solved"] or work.issues["kept"])
        return bool(work.open_issues) or work.wants_issues()

    def moves(self, work: _Work) -> list[str]:
        return list((work.plan or {}).get("moves", []))

    def already(self, work: _Work, action: str) -> bool:
        """Whether the asset is where the move would take it already.

        Legacy workflow: its status (TODO/ONGOING for a send-back, TO_REVIEW for a review).
        Workflows v2/v3: its current step; a send-back or invalidate is made when the asset
        is being reworked, or to be labeled in a labeling step; a review or next step when
        it waits for (or is in) a review step. A step whose type is unknown proves nothing:
        Kili's own decline is relied on.
        """
        if work.step is not None:
            kind = self.workflow_info().step_type(work.step)
            status = work.step[2]
            if action in ("send_back", "invalidate"):
                made = status in SENT_BACK or (kind == "DEFAULT" and status in TO_LABEL)
            else:
                made = kind == "REVIEW" and status in IN_REVIEW
            if made:
                group = f"{work.step[0]}/" if work.step[0] else ""
                self.log.info(
                    "kili-rules: asset %s is in step %s%s (%s) already: no %s",
                    work.asset_id,
                    group,
                    work.step[1],
                    status,
                    action,
                )
            return made
        if work.status is None or work.status not in MOVES[action][1]:
            return False
        self.log.info(
            "kili-rules: asset %s is %s already: no %s", work.asset_id, work.status, action
        )
        return True

    def open_moves(self, work: _Work) -> list[str]:
        """Planned moves not recorded as done."""
        return [a for a in self.moves(work) if work.target.steps.get(a) is None]

    def settle_moves(self, work: _Work) -> None:
        """A resumed plan: a move Kili applied before the last worker could record it (killed,
        or the answer lost) shows in the asset's status, read just now; it is not made twice.

        In workflows v2/v3 the plan holds the step the asset was in (``at``): an asset no
        longer in that step (or not with that status) when no move was recorded yet was
        moved by the first of them (a next step into the next group's labeling step, say,
        which the step-type check alone would not tell)."""
        at_value = (work.plan or {}).get("at")
        at = list(at_value) if isinstance(at_value, list) else None
        first = not any(work.target.steps.get(a) for a in self.moves(work))
        for action in self.open_moves(work):
            moved = first and at is not None and work.step is not None and list(work.step) != at
            first = False
            if moved:
                self.log.info(
                    "kili-rules: asset %s left step %s since the plan: %s made already",
                    work.asset_id,
                    "/".join(str(part) for part in at or () if part),
                    action,
                )
            if moved or self.already(work, action):
                self.record(work, action, "already")

    # ---- reads -------------------------------------------------------------------------------

    def read_issues(self, works: list[_Work]) -> None:
        for chunk in _chunks(works, READ_BATCH):
            ids = [w.asset_id for w in chunk]
            where: dict[str, Any] = {"asset_id": ids[0]} if len(ids) == 1 else {"asset_id_in": ids}
            rows = self.call(
                "read",
                "issues",
                project_id=self.project_id,
                fields=ISSUE_FIELDS,
                issue_type="ISSUE",
                disable_tqdm=True,
                **where,
            )
            by_asset: dict[str, list[_OpenIssue]] = {i: [] for i in ids}
            cancelled: dict[str, list[_OpenIssue]] = {i: [] for i in ids}
            known: dict[str, set[str]] = {i: set() for i in ids}
            for row in rows or []:
                owner = row.get("assetId") if len(ids) > 1 else ids[0]
                if owner in known:
                    known[owner].add(str(row.get("id")))
                status = row.get("status", "OPEN")
                if owner in by_asset and status in ("OPEN", "CANCELLED"):
                    (by_asset if status == "OPEN" else cancelled)[owner].append(_open_issue(row))
            for work in chunk:
                work.open_issues = by_asset[work.asset_id]
                work.cancelled = cancelled[work.asset_id]
                work.known = known[work.asset_id]

    def workflow(self) -> str:
        """The project's workflow version, "V1", "V2" or "V3" (read once per project)."""
        return self.workflow_info().version

    def workflow_info(self) -> _Workflow:
        """The project's workflow: version and step types (read once per project)."""
        try:
            known = _WORKFLOWS.setdefault(self.sdk, {})
        except TypeError:  # a client that cannot be weakly referenced: no cache
            known = {}
        workflow = known.get(self.project_id)
        if workflow is None:
            rows = self.call(
                "read",
                "projects",
                project_id=self.project_id,
                fields=PROJECT_FIELDS,
                disable_tqdm=True,
            )
            workflow = _workflow_of(rows[0] if rows else None)
            if rows:
                known[self.project_id] = workflow
        return workflow

    def read_assets(self, works: list[_Work]) -> None:
        fields = ASSET_FIELDS[self.workflow()] if works else []
        if self.latest_only and any(w.target.label_id for w in works):
            fields = [*fields, *LABEL_FIELDS]
        for chunk in _chunks(works, READ_BATCH):
            ids = [w.asset_id for w in chunk]
            rows = self.call(
                "read",
                "assets",
                project_id=self.project_id,
                asset_id_in=ids,
                fields=fields,
                disable_tqdm=True,
            )
            found = {row.get("id"): row for row in rows or []}
            for work in chunk:
                row = found.get(work.asset_id)
                if row is None and rows is None:
                    work.metadata = {}
                    continue
                if row is None:
                    raise KiliCallFailed(
                        f"read: asset {work.asset_id} not found in project {self.project_id}",
                        retryable=False,
                        step="read",
                    )
                metadata = row.get("jsonMetadata")
                work.metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
                status = row.get("status")
                work.status = status if isinstance(status, str) else None
                work.step = _current_step(row.get("currentStep"))
                if self.latest_only:
                    work.newer = _newer_label(work.target.label_id, row.get("labels"))

    # ---- waivers --------------------------------------------------------------------------

    def waive(self, works: list[_Work]) -> None:
        """Leave out the findings a cancelled issue of kili-rules waives (kili.waivers)."""
        found: list[tuple[_Work, list[tuple[_OpenIssue, waivers.Mark]]]] = []
        for work in works:
            if work.target.policy is None or not work.cancelled or not work.verdict.issues:
                continue
            marks = waivers.read_marks(work.metadata, work.verdict.metadata_prefix)
            pairs = [
                (c, marks[c.id])
                for c in work.cancelled
                if c.id in marks and waivers.matters(work.verdict, marks[c.id])
            ]
            if pairs:
                found.append((work, pairs))
        if not found:
            return
        # the labels whose JSON is not at hand: the judged one, and the cancelled issues' own
        # labels when their mark has no fingerprint (created without the label at hand)
        wanted = [w.target.label_id for w, _p in found if w.target.label is None]
        wanted += [m[3] for _w, pairs in found for _c, m in pairs if m[2] is None]
        try:
            fetched = waivers.fetch_labels(
                _legacy(self.sdk), self.project_id, [i for i in wanted if i]
            )
        except Exception as exc:
            if self.dry_run:
                self.log.warning("kili-rules dry run: cannot read labels for waivers (%s)", exc)
                return
            raise KiliCallFailed(
                f"read: reading labels for waivers failed ({type(exc).__name__}: {exc})",
                retryable=is_retryable(exc),
                step="read",
            ) from exc
        for work, pairs in found:
            label = work.target.label
            if label is None:
                label = fetched.get(work.target.label_id or "")
            keys: list[waivers.Key] = []
            for _issue, (rule, mid, printed, made_on, _category) in pairs:
                if printed is None:
                    printed = waivers.fingerprint(fetched.get(made_on or ""), mid)
                if printed is not None:
                    keys.append((rule, mid, printed))
            verdict, waived = waivers.waive(work.verdict, work.target.policy, label, keys)
            if waived:
                work.waived_verdict, work.waived = verdict, waived
                for rule, mid, _p in waived:
                    self.log.info(
                        "kili-rules: rule %s on object %s of asset %s is waived (a reviewer "
                        "cancelled its issue; the object is unchanged)",
                        rule,
                        mid,
                        work.asset_id,
                    )

    # ---- plan -----------------------------------------------------------------------------

    def plan(self, work: _Work) -> dict[str, Any]:
        if work.newer is not None:
            self.log.info(
                "kili-rules: label %s on asset %s is superseded by label %s: nothing done",
                work.target.label_id,
                work.asset_id,
                work.newer,
            )
            return {"moves": [], "bounces": None, "bounced": False, "superseded_by": work.newer}
        verdict = work.verdict
        metadata = work.metadata or {}
        done_bounces = _int(metadata.get(work.key(BOUNCES_KEY)))
        moves: list[str] = []
        bounces: int | None = None
        bounced = False
        for action in verdict.actions:
            if action not in MOVES:
                continue
            is_bounce = action in BOUNCE_INSTEAD and verdict.max_bounces > 0
            if is_bounce and done_bounces >= verdict.max_bounces:
                self.log.warning(
                    "kili-rules: asset %s was sent back %d time(s) (max_bounces %d): %s instead",
                    work.asset_id,
                    done_bounces,
                    verdict.max_bounces,
                    BOUNCE_INSTEAD[action],
                )
                action, is_bounce, bounced = BOUNCE_INSTEAD[action], False, True
            if self.already(work, action):
                continue
            if is_bounce and bounces is None:
                bounces = done_bounces + 1
            if action not in moves:
                moves.append(action)
        plan: dict[str, Any] = {"moves": moves, "bounces": bounces, "bounced": bounced}
        if work.waived:
            plan["waived"] = [list(key) for key in work.waived]
        if work.step is not None:
            plan["at"] = list(work.step)  # where the asset was: a resume tells a move made
        return plan

    # ---- issues ---------------------------------------------------------------------------

    def do_issues(self, works: list[_Work]) -> None:
        # (work, label id, text, mid): a finding carrying a label id (a report row) goes on
        # its own label, others on the target's
        to_create: list[tuple[_Work, str | None, str, str | None]] = []
        marks: list[waivers.Mark | None] = []  # each created issue's (kili.waivers)
        results: dict[int, dict[str, Any]] = {}
        for work in works:
            verdict = work.verdict
            ledger = set(_split(work.metadata.get(work.key(LEDGER_KEY)) if work.metadata else None))
            # one text and one fingerprint per finding on every path (see finding_text)
            wanted: Counter[tuple[str, str | None]] = Counter(
                fingerprint(issue_text(issue), issue.mid) for issue in verdict.issues
            )
            # an issue's identity is its rule and object, not its wording: an open issue
            # kili-rules marked (kili.waivers) stands for its rule's finding on that object
            # even when the text changed (a reworded message, a value that moved), so a new
            # version does not create it again; issues without a mark (made before marks
            # were kept) are recognised by their text, as before
            marks_of = waivers.read_marks(work.metadata, verdict.metadata_prefix)
            # the findings still without an issue: (text key, (rule, mid) or None)
            pending: list[tuple[tuple[str, str | None], tuple[str, str | None] | None]] = [
                (
                    fingerprint(issue_text(issue), issue.mid),
                    (issue.rule, issue.mid)
                    if isinstance(getattr(issue, "rule", None), str)
                    else None,
                )
                for issue in verdict.issues
            ]
            kept: list[str] = []
            solve: list[_OpenIssue] = []
            unmatched: list[_OpenIssue] = []
            for current in work.open_issues or []:
                key = fingerprint(current.text, current.mid)
                at = next((i for i, p in enumerate(pending) if p[0] == key), None)
                if at is None:
                    unmatched.append(current)
                    continue
                wanted[pending.pop(at)[0]] -= 1
                kept.append(current.id)
            for current in unmatched:
                mark = marks_of.get(current.id)
                rule_key = (mark[0], mark[1] or None) if mark is not None else None
                at = next((i for i, p in enumerate(pending) if rule_key and p[1] == rule_key), None)
                if at is not None:
                    # the same finding worded otherwise: kept, not created again
                    wanted[pending.pop(at)[0]] -= 1
                    kept.append(current.id)
                elif self.reconcile and current.id in ledger:
                    solve.append(current)
            if work.wants_issues():
                for finding in verdict.issues:
                    text = issue_text(finding)
                    if wanted[fingerprint(text, finding.mid)] > 0:
                        wanted[fingerprint(text, finding.mid)] -= 1
                        label = getattr(finding, "label_id", None) or work.target.label_id
                        to_create.append((work, label, text, finding.mid))
                        marks.append(waivers.mark_of(finding, work.target.label, label))
            for stale in solve:
                change = Change("solve_issue", work.asset_id, text=stale.text, issue_id=stale.id)
                if not self.dry_run:
                    self.hold([work])
                    self.call("issues", "update_issue_status", issue_id=stale.id, status="SOLVED")
                self.note(work, change)
            results[id(work)] = {"created": [], "solved": [s.id for s in solve], "kept": kept}
        for work, label, text, mid in to_create:
            self.note(work, Change("create_issue", work.asset_id, label, text, mid))
        if to_create and not self.dry_run:
            missing = [w.asset_id for w, label, _t, _m in to_create if label is None]
            if missing:
                raise KiliCallFailed(
                    f"issues: no label id to attach issues to on asset {missing[0]}",
                    retryable=False,
                    step="issues",
                )
            self.hold(w for w, _l, _t, _m in to_create)
            created = self.create_issues(
                [label for _w, label, _t, _m in to_create],
                [text for _w, _l, text, _m in to_create],
                [mid for _w, _l, _t, mid in to_create],
            )
            if not isinstance(created, list) or len(created) != len(to_create):
                raise KiliCallFailed(
                    f"issues: create_issues answered {created!r} for {len(to_create)} issue(s)",
                    retryable=True,
                    step="issues",
                )
            for (work, _l, _t, _m), row, mark in zip(to_create, created, marks, strict=True):
                results[id(work)]["created"].append(str(row.get("id")))
                if mark is not None:
                    results[id(work)].setdefault("marks", {})[str(row.get("id"))] = list(mark)
        for work in works:
            work.issues = results[id(work)]
            self.record(work, "issues", work.issues)

    def create_issues(
        self, labels: list[str | None], texts: list[str], mids: list[str | None]
    ) -> Any:
        """Kili's ``createIssues``, per 100 issues, answering ``[{"id": ...}]``.

        Sent through the client's GraphQL executor (the SDK's document, retries and rate
        limit) because ``create_issues`` draws a tqdm "Creating issues" bar on stderr that no
        argument or client setting turns off: a plugin or a batch apply stays quiet.
        """
        client: Any = getattr(_legacy(self.sdk), "graphql_client", None)
        if not callable(getattr(client, "execute", None)):
            return self.call(
                "issues",
                "create_issues",
                project_id=self.project_id,
                label_id_array=labels,
                text_array=texts,
                object_mid_array=mids,
            )
        created: list[dict[str, Any]] = []
        for start in range(0, len(labels), READ_BATCH):
            end = start + READ_BATCH
            variables = {
                "issues": [
                    {"labelID": label, "objectMid": mid, "type": "ISSUE", "text": text}
                    for label, text, mid in zip(
                        labels[start:end], texts[start:end], mids[start:end], strict=True
                    )
                ],
                "where": {"project": {"id": self.project_id}},
            }
            try:
                if _replays_posts(client):
                    answer = {"data": _post_once(client, CREATE_ISSUES, variables)}
                else:
                    answer = client.execute(CREATE_ISSUES, variables)
            except Exception as exc:
                raise KiliCallFailed(
                    f"issues: createIssues failed ({type(exc).__name__}: {exc})",
                    retryable=is_retryable(exc),
                    step="issues",
                ) from exc
            rows = answer.get("data") if isinstance(answer, Mapping) else None
            if not isinstance(rows, list):
                raise KiliCallFailed(
                    f"issues: createIssues answered {answer!r}", retryable=True, step="issues"
                )
            created.extend(row for row in rows if isinstance(row, dict))
        return created

    # ---- metadata -------------------------------------------------------------------------

    def do_metadata(self, works: list[_Work]) -> None:
        writes: list[tuple[_Work, dict[str, Any]]] = []
        for work in works:
            changed = self.metadata_changes(work)
            if changed:
                self.note(work, Change("metadata", work.asset_id, metadata=changed))
                writes.append((work, changed))
            else:
                self.record(work, "metadata", {})
        if writes and not self.dry_run:
            self.hold(w for w, _c in writes)
            self.write_metadata(
                [w.asset_id for w, _c in writes],
                [{**(w.metadata or {}), **c} for w, c in writes],
            )
        for work, changed in writes:
            self.record(work, "metadata", changed)

    def metadata_changes(self, work: _Work) -> dict[str, str]:
        """The keys kili-rules owns whose value changes (others are never touched)."""
        metadata = work.metadata or {}
        wanted: dict[str, str] = {}
        issues = work.issues or {"created": [], "kept": []}
        ledger = [*issues["kept"], *issues["created"]]
        old_ledger = metadata.get(work.key(LEDGER_KEY))
        if ledger or old_ledger:
            ledger_ids = set(_split(old_ledger if isinstance(old_ledger, str) else None))
            if ledger_ids != set(ledger):
                wanted[work.key(LEDGER_KEY)] = ",".join(ledger)
        marks = self.marks(work, ledger)
        if marks is not None:
            wanted[work.key(waivers.MARKS_KEY)] = marks
        if "metadata" in work.verdict.actions:
            wanted.update(work.verdict.metadata)
        bounces = (work.plan or {}).get("bounces")
        if bounces is not None:
            wanted[work.key(BOUNCES_KEY)] = str(bounces)
        changed = {k: v for k, v in wanted.items() if metadata.get(k) != v}
        if self.dry_run:
            # the ledger is bookkeeping (its new ids are not known before the issues exist)
            changed.pop(work.key(LEDGER_KEY), None)
            changed.pop(work.key(waivers.MARKS_KEY), None)
        return changed

    def marks(self, work: _Work, ledger: list[str]) -> str | None:
        """The new value of the issue marks (kili.waivers), None when there are none: kept
        for the issues Kili still holds (open, solved: the reports count them; cancelled: the
        waivers), dropped for deleted ones, added for the issues just created."""
        old = waivers.read_marks(work.metadata, work.verdict.metadata_prefix)
        keep = set(ledger) | work.known
        # not read this run (a resumed issues step): nothing known to be gone, keep them all
        read = work.open_issues is not None
        marks = {k: v for k, v in old.items() if k in keep or not read}
        for issue_id, mark in ((work.issues or {}).get("marks") or {}).items():
            category = mark[4] if len(mark) > 4 else None
            marks[issue_id] = (mark[0], mark[1], mark[2], mark[3], category)
        if not marks and not old:
            return None
        return waivers.marks_value(marks)

    def write_metadata(self, asset_ids: list[str], metadatas: list[dict[str, Any]]) -> None:
        """Kili's ``updatePropertiesInAssets`` with each asset's whole (merged) metadata.

        Sent through the client's GraphQL executor (same document, retries and rate limit as
        ``update_properties_in_assets``) because that SDK method sleeps 1 s after every call
        for the backend to settle: it would cap a webhook worker at one label a second.
        """
        client: Any = getattr(_legacy(self.sdk), "graphql_client", None)
        if not callable(getattr(client, "execute", None)):
            self.call(
                "metadata",
                "update_properties_in_assets",
                asset_ids=asset_ids,
                json_metadatas=metadatas,
            )
            return
        for start in range(0, len(asset_ids), READ_BATCH):
            variables = {
                "whereArray": [{"id": a} for a in asset_ids[start : start + READ_BATCH]],
                "dataArray": [
                    {"jsonMetadata": deep_json.dumps(m)}
                    for m in metadatas[start : start + READ_BATCH]
                ],
            }
            try:
                client.execute(UPDATE_PROPERTIES_IN_ASSETS, variables)
            except Exception as exc:
                raise KiliCallFailed(
                    f"metadata: updatePropertiesInAssets failed ({type(exc).__name__}: {exc})",
                    retryable=is_retryable(exc),
                    step="metadata",
                ) from exc

    # ---- asset actions --------------------------------------------------------------------

    def do_move(self, action: str, works: list[_Work]) -> None:
        pending = [w for w in works if self.done(w, action) is None]
        if not pending:
            return
        for work in pending:
            self.note(work, Change(action, work.asset_id))
        if self.dry_run:
            return
        method = MOVES[action][0]
        self.hold(pending)
        outcome = self.move(action, method, [w.asset_id for w in pending])
        declined = _asset_ids(outcome, "declined")
        failed = _asset_ids(outcome, "failed")
        failures = []
        for work in pending:
            if work.asset_id in failed:
                failures.append(work.asset_id)
                continue
            if work.asset_id in declined:
                self.log.warning("kili-rules: Kili declined %s of asset %s", action, work.asset_id)
                work.declined.append(action)
                self.record(work, action, "declined")
            else:
                self.record(work, action, "done")
        if failures:
            raise KiliCallFailed(
                f"{action}: Kili failed it on asset(s) {', '.join(failures)}",
                retryable=True,
                step=action,
            )

    def move(self, action: str, method: str, asset_ids: list[str]) -> Any:
        """The SDK's asset action; sent once per 100 assets with the SDK's own document when
        the client's transport replays a POST whose answer was lost (kili 26.2.1): a replayed
        ``addAssetsToReview`` would move the asset one step further (past its review, in
        workflows v2/v3). A lost answer then raises, and the retry reads where the asset is."""
        client: Any = getattr(_legacy(self.sdk), "graphql_client", None)
        if not callable(getattr(client, "execute", None)) or not _replays_posts(client):
            return self.call(action, method, asset_ids=asset_ids)
        from kili.entrypoints.mutations.asset import queries  # type: ignore[import-untyped]

        document = (
            queries.GQL_SEND_ASSETS_BACK_TO_QUEUE
            if method == "send_back_to_queue"
            else queries.GQL_ADD_ASSETS_TO_REVIEW
        )
        outcome: dict[str, list[Any]] = {"succeeded": [], "declined": [], "failed": []}
        for start in range(0, len(asset_ids), READ_BATCH):
            chunk = asset_ids[start : start + READ_BATCH]
            try:
                answer = _post_once(client, document, {"where": {"idIn": chunk}})
            except Exception as exc:
                raise KiliCallFailed(
                    f"{action}: kili.{method} failed ({type(exc).__name__}: {exc})",
                    retryable=is_retryable(exc),
                    step=action,
                ) from exc
            if not isinstance(answer, Mapping):
                raise KiliCallFailed(
                    f"{action}: kili.{method} answered {answer!r}", retryable=True, step=action
                )
            for key, rows in outcome.items():
                found = answer.get(key)
                rows.extend(found if isinstance(found, list) else [])
        return outcome

    # ---- result ---------------------------------------------------------------------------

    def made(self, work: _Work, action: str) -> bool:
        """A planned move counts as made once recorded (not declined); a dry run records
        nothing and lists every move it would make."""
        if action in work.declined:
            return False
        return self.dry_run or work.target.steps.get(action) not in (None, "declined")

    def effects(self, work: _Work) -> Effects:
        issues = work.issues or {"created": [], "solved": [], "kept": []}
        plan = work.plan or {}
        return Effects(
            project_id=self.project_id,
            asset_id=work.asset_id,
            label_id=work.target.label_id,
            dry_run=self.dry_run,
            changes=tuple(work.changes),
            created=tuple(issues["created"]),
            solved=tuple(issues["solved"]),
            kept=tuple(issues["kept"]),
            actions=tuple(a for a in plan.get("moves", []) if self.made(work, a)),
            declined=tuple(work.declined),
            resumed=tuple(work.resumed),
            bounced_to_review=bool(plan.get("bounced")),
            superseded_by=plan.get("superseded_by"),
            waived=tuple((str(k[0]), k[1]) for k in plan.get("waived") or []),
            outcome=work.verdict.outcome,
        )


def _open_issue(row: Mapping[str, Any]) -> _OpenIssue:
    comments = row.get("comments") or []
    text = comments[0].get("text") if comments and isinstance(comments[0], Mapping) else None
    return _OpenIssue(str(row.get("id")), text, row.get("objectMid"))


def _workflow_of(row: Mapping[str, Any] | None) -> _Workflow:
    """A project row (``PROJECT_FIELDS``) as a _Workflow; V1 unless it says V2 or V3."""
    found = row.get("workflowVersion") if row else None
    version = found if found in ("V2", "V3") else "V1"
    if row is None or version == "V1":
        return _Workflow(version)
    groups = {
        g.get("id"): g.get("name")
        for g in row.get("stepGroups") or []
        if isinstance(g, Mapping) and isinstance(g.get("name"), str)
    }
    types: dict[tuple[str | None, str], str] = {}
    for step in row.get("steps") or []:
        if not isinstance(step, Mapping) or not isinstance(step.get("name"), str):
            continue
        group = groups.get(step.get("stepGroupId")) if version == "V3" else None
        kind = step.get("type")
        if isinstance(kind, str):
            types[(group, step["name"])] = kind
    return _Workflow(version, types)


def _current_step(value: object) -> tuple[str | None, str | None, str | None] | None:
    """An asset's ``currentStep`` as (group name, step name, status); None when absent."""
    if not isinstance(value, Mapping):
        return None

    def text(key: str) -> str | None:
        item = value.get(key)
        return item if isinstance(item, str) else None

    return (text("stepGroupName"), text("name"), text("status"))


def _newer_label(label_id: str | None, labels: object) -> str | None:
    """The id of the asset's latest label of ``label_id``'s type when it is another one.

    None when the label is the latest, when the asset does not list it (nothing to compare
    with: acted on as before) or when the read did not serve the asset's labels. Latest is
    the greatest ``createdAt`` (ISO-8601 UTC, compared as text); on a tie, the one listed
    last (Kili lists an asset's labels oldest first).
    """
    if label_id is None or not isinstance(labels, list):
        return None
    rows = [row for row in labels if isinstance(row, Mapping)]
    judged = next((row for row in rows if row.get("id") == label_id), None)
    if judged is None:
        return None
    same = [
        (str(row.get("createdAt") or ""), index, str(row.get("id")))
        for index, row in enumerate(rows)
        if row.get("labelType") == judged.get("labelType")
    ]
    latest = max(same)[2]
    return None if latest == label_id else latest


def _chunks(items: list[_Work], size: int) -> Iterable[list[_Work]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _split(value: object) -> list[str]:
    if not isinstance(value, str):
        return []
    return [part for part in value.split(",") if part]


def _int(value: object) -> int:
    try:
        return max(0, int(str(value)))
    except ValueError:
        return 0


def _asset_ids(outcome: object, status: str) -> set[str]:
    if not isinstance(outcome, Mapping):
        return set()
    entries = outcome.get(status)
    if not isinstance(entries, Sequence):
        return set()
    return {str(e.get("assetId")) for e in entries if isinstance(e, Mapping)}


def is_retryable(exc: BaseException) -> bool:
    """True for failures that may pass on a later attempt (see the module docstring)."""
    code = _http_status(exc)
    if code is not None:
        return code >= 500 or code in (401, 408, 429)
    import kili.exceptions  # type: ignore[import-untyped]
    import requests

    # MutationOutcomeUnknownError (kili >= 26.2.2) is a requests ConnectionError as well
    if isinstance(exc, kili.exceptions.GraphQLError):
        return True

    return isinstance(exc, requests.RequestException | TimeoutError | ConnectionError)


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an error, when there is one (gql or requests)."""
    for candidate in (exc, exc.__cause__):
        code = getattr(candidate, "code", None)
        if isinstance(code, int) and 100 <= code < 600:
            return code
        response = getattr(candidate, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _replays_posts(client: Any) -> bool:
    """Whether the client's HTTP transport resends any POST after a read timeout.

    kili 26.2.1's transport mounts urllib3 ``Retry(total=10, allowed_methods=None)``: a
    ``createIssues`` that Kili saved but whose answer was lost is sent again below the SDK,
    and the issues are created twice before kili-rules could read them back (kili >= 26.2.2
    raises MutationOutcomeUnknownError instead).
    """
    transport = getattr(client, "_gql_transport", None)
    retries = getattr(transport, "retries", 0)
    return (
        isinstance(retries, int)
        and retries > 0
        and isinstance(getattr(transport, "url", None), str)
    )


def _post_once(client: Any, document: str, variables: Mapping[str, Any]) -> Any:
    """Send one GraphQL mutation exactly once (no replay on a lost answer); its ``data``.

    Goes through the SDK's rate limiter and the transport's endpoint, headers, timeout and
    TLS setting. A lost answer raises (retryable): the caller's retry reads the asset's
    issues back before sending anything again.
    """
    import requests

    try:  # the SDK's process-wide limiter (500 calls a minute), as client.execute would
        from kili.core.graphql import graphql_client as sdk_graphql  # type: ignore[import-untyped]

        limiter = getattr(sdk_graphql, "_limiter", None)
        if limiter is not None:
            limiter.try_acquire("GraphQLClient.execute")
    except ImportError:  # pragma: no cover - every supported SDK has it
        pass
    transport = client._gql_transport
    response = requests.post(
        transport.url,
        json={"query": document, "variables": dict(variables)},
        headers=dict(transport.headers or {}),
        timeout=transport.default_timeout,
        verify=getattr(transport, "verify", True),
    )
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, Mapping):
        raise ValueError(f"the GraphQL answer is not an object: {body!r}")
    if body.get("errors"):
        import kili.exceptions

        raise kili.exceptions.GraphQLError(error=body["errors"])
    data = body.get("data")
    return data.get("data") if isinstance(data, Mapping) else None


def _legacy(kili: Any) -> Any:
    """The legacy client behind a ``kili.client_domain.Kili`` (the methods act calls)."""
    try:
        from kili.client_domain import Kili as DomainKili  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - older SDKs have no domain client
        return kili
    return kili.legacy_client if isinstance(kili, DomainKili) else kili
