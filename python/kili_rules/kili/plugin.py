"""Kili plugin shim: check a submitted label against a RuleSet and act on the verdict.

``RulesPlugin`` is a ``kili.plugins.PluginCore``: subclass it, set ``rules``, and use it as a
hosted plugin or behind a webhook (the SDK tutorial's ``PluginHandler(kili, project_id)``
pattern). ``handle_label`` is the whole flow for one label (fetch when needed, validate,
decide, act through :mod:`kili_rules.kili.effects`); the webhook workers call it with a
journal-backed StepLog, the plugin with an in-memory one.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from kili.exceptions import GraphQLError  # type: ignore[import-untyped]
    from kili.plugins import PluginCore  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kili_rules.kili.plugin needs the Kili SDK (package `kili`); "
        "install it with: pip install 'kili-rules[plugin]'"
    ) from exc

from kili_rules import Issue, LabelError, RuleSet
from kili_rules.kili.effects import (
    Effects,
    KiliCallFailed,
    MemorySteps,
    StepLog,
    act,
    is_retryable,
)
from kili_rules.kili.finding_text import INVALID_LABEL_PREFIX, unreadable_text
from kili_rules.verdict import ActionPolicy, Verdict

__all__ = ["INVALID_LABEL_PREFIX", "Decision", "RulesPlugin", "handle_label", "register_webhook"]

LOGGER = logging.getLogger("kili_rules.kili")

# The fields fetched when the payload carries no usable jsonResponse.
LABEL_FIELDS = ("id", "jsonResponse")

# RulesPlugin's logger when none is given (the SDK's default one prints each line twice: it
# has a handler and propagates to the "kili" logger, which has one too)
PLUGIN_LOGGER = "kili_rules.kili.plugin"

_rules_cache: dict[str, RuleSet] = {}
_rules_lock = threading.Lock()


@dataclass(frozen=True)
class Decision:
    """What was decided and done for one label (returned by ``handle_label``, ``on_submit``
    and ``on_review``).

    ``texts`` / ``mids`` are the label's findings in the order given to ``create_issues``
    (those already open on the asset are kept, not created again: see ``effects``).
    ``retryable``: the failure may pass on another attempt, which resumes after the steps
    already done (recorded in the StepLog given to ``handle_label``).
    ``outcome`` is ``"superseded"`` when the label is no longer the asset's latest of its
    type: nothing was written (``effects.superseded_by`` names the newer label).
    """

    handler: str
    project_id: str
    asset_id: str
    label_id: str | None
    issues: tuple[Issue, ...] = ()
    # rules this label could not be judged by (e.g. pixel rules, no asset resolution): logged
    # at WARNING, no issue and no send-back for them, the other rules enforced as usual
    unchecked: tuple[Issue, ...] = ()
    invalid: str | None = None
    texts: tuple[str, ...] = ()
    mids: tuple[str | None, ...] = ()
    sent_back: bool = False
    fetched: bool = False
    dry_run: bool = False
    error: str | None = None
    wrote: bool = False
    outcome: str = "pass"
    actions: tuple[str, ...] = ()
    effects: Effects | None = None
    failed_step: str | None = None
    can_retry: bool = False

    @property
    def retryable(self) -> bool:
        """A Kili call failed in a way another attempt may get past."""
        return self.error is not None and self.can_retry

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (used by the webhook server's log line)."""
        effects = self.effects
        return {
            "handler": self.handler,
            "project_id": self.project_id,
            "asset_id": self.asset_id,
            "label_id": self.label_id,
            "issues": len(self.texts),
            "rules": [issue.rule for issue in self.issues],
            "error_issues": sum(1 for issue in self.issues if issue.severity == "error"),
            "invalid": self.invalid,
            "outcome": self.outcome,
            "actions": list(self.actions),
            "created": len(effects.created) if effects else 0,
            "kept": len(effects.kept) if effects else 0,
            "solved": len(effects.solved) if effects else 0,
            "sent_back": self.sent_back,
            "fetched": self.fetched,
            "dry_run": self.dry_run,
            "error": self.error,
            "failed_step": self.failed_step,
            "superseded_by": effects.superseded_by if effects else None,
        }


#: The rule and kind of the finding made for a label that cannot be read.
UNREADABLE_KIND = "unreadable_label"


@dataclass(frozen=True)
class _Finding:
    """A finding made outside the rules (an unreadable label), shaped like an Issue."""

    text: str
    mid: str | None = None
    rule: str = UNREADABLE_KIND
    kind: str = UNREADABLE_KIND
    severity: str = "error"


def _load_rules(owner: type, spec: object) -> RuleSet:
    """Return the RuleSet for ``spec``; a path is read once per process and cached."""
    if isinstance(spec, RuleSet):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        key = str(path.resolve())
        with _rules_lock:
            ruleset = _rules_cache.get(key)
            if ruleset is None:
                ruleset = RuleSet.from_file(path)
                _rules_cache[key] = ruleset
        return ruleset
    if spec is None:
        raise TypeError(
            f"{owner.__name__} has no rules: set the class attribute "
            "`rules = RuleSet.from_file(...)` (or a path to a rules file), or pass rules=..."
        )
    raise TypeError(
        f"{owner.__name__}.rules must be a RuleSet or the path of a rules file, "
        f"not {type(spec).__name__}"
    )


def _usable(json_response: object) -> bool:
    """False for a jsonResponse Kili left out of the payload (missing, null, "" or {})."""
    if json_response is None:
        return False
    if isinstance(json_response, (str, bytes)):
        return json_response.strip() not in ("", b"", "{}", b"{}", "null", b"null")
    if isinstance(json_response, Mapping):
        return len(json_response) > 0
    return True  # a wrong type is the validator's to report


def _policy(ruleset: RuleSet) -> ActionPolicy:
    """The rules file's ``[actions]`` (``RuleSet.actions`` once the config carries it)."""
    policy = getattr(ruleset, "actions", None)
    return policy if isinstance(policy, ActionPolicy) else ActionPolicy()


def _decide(ruleset: RuleSet, label: object, resolution: tuple[float, float] | None) -> Verdict:
    """``RuleSet.decide`` (the rules file's actions, the label's object count for the QA
    figures) when this build has it, else the findings under the default actions."""
    decide = getattr(ruleset, "decide", None)
    if callable(decide):
        verdict = decide(label, resolution=resolution)
        if isinstance(verdict, Verdict):
            return verdict
    issues = tuple(ruleset.validate(label, resolution=resolution))
    return Verdict.decide(issues, _policy(ruleset))


def handle_label(
    kili: Any,
    ruleset: RuleSet,
    project_id: str,
    asset_id: str,
    label_payload: object,
    *,
    steps: StepLog,
    fetch_label: bool = False,
    dry_run: bool = False,
    reconcile: bool = True,
    logger: logging.Logger | None = None,
    handler: str = "check",
) -> Decision:
    """The whole flow for one label: fetch it when needed, validate, decide, act.

    The label is fetched by its id when the payload has no usable jsonResponse, or always
    with ``fetch_label`` (for untrusted networks: inline content is then ignored). An
    unreadable label becomes one error finding on it (the rules' error actions apply). A Kili
    failure raises ``KiliCallFailed`` (``retryable``, ``step``; its ``decision`` is the
    Decision with the error) after the steps done so far were recorded: a retry with the same
    ``steps`` resumes after the last completed one.
    """
    log = logger or LOGGER
    label_id = _label_id(label_payload)
    base: dict[str, Any] = {
        "handler": handler,
        "project_id": project_id,
        "asset_id": asset_id,
        "label_id": label_id,
        "dry_run": dry_run,
    }
    if not isinstance(label_payload, Mapping):
        reason = f"the label is not an object ({type(label_payload).__name__})"
        return _unreadable(kili, ruleset, base, reason, steps, reconcile, log)
    target: object = label_payload
    if fetch_label or not _usable(label_payload.get("jsonResponse")):
        if label_id is None:
            return _unreadable(
                kili,
                ruleset,
                base,
                "the label has no jsonResponse and no id",
                steps,
                reconcile,
                log,
            )
        try:
            rows = list(
                kili.labels(
                    project_id=project_id,
                    label_id=label_id,
                    fields=list(LABEL_FIELDS),
                    disable_tqdm=True,
                )
            )
        except Exception as exc:  # logged by the caller (the plugin, or the server's record)
            raise _failed(
                base, "fetch_label", f"fetching label {label_id} failed: {exc}", exc
            ) from exc
        base["fetched"] = True
        if not rows:
            # No label to attach an issue to: report, write nothing.
            invalid = f"label {label_id} was not found in project {project_id}"
            log.error("kili-rules: %s", invalid)
            return Decision(**base, invalid=invalid)
        target = {"id": label_id, "jsonResponse": rows[0].get("jsonResponse")}
    resolution: tuple[float, float] | None = None
    if ruleset.needs_resolution:
        try:
            resolution = _asset_resolution(kili, project_id, asset_id)
        except Exception as exc:
            raise _failed(
                base, "fetch_asset", f"fetching asset {asset_id} failed: {exc}", exc
            ) from exc
    try:
        verdict = _decide(ruleset, target, resolution)
    except LabelError as exc:
        return _unreadable(kili, ruleset, base, str(exc), steps, reconcile, log)
    issues = verdict.issues
    for skipped in verdict.unchecked:
        # not the labeler's to fix (no issue, no send-back), but never silent
        log.warning("kili-rules: label %s on asset %s: %s", label_id, asset_id, skipped.text)
    if not issues:
        log.info("kili-rules: label %s on asset %s passes", label_id, asset_id)
    for issue in issues:
        log.info("kili-rules: issue on label %s (mid %s): %s", label_id, issue.mid, issue.text)
    # the label's JSON and the actions: a reviewer's cancelled issue may waive a finding
    waiver = (target.get("jsonResponse") if isinstance(target, Mapping) else None, _policy(ruleset))
    return _act(kili, base, verdict, steps, reconcile, log, waiver)


def _failed(base: dict[str, Any], step: str, message: str, cause: Exception) -> KiliCallFailed:
    failure = KiliCallFailed(message, retryable=is_retryable(cause), step=step)
    failure.decision = Decision(
        **base, error=message, failed_step=step, can_retry=failure.retryable
    )
    return failure


def _unreadable(
    kili: Any,
    ruleset: RuleSet,
    base: dict[str, Any],
    reason: str,
    steps: StepLog,
    reconcile: bool,
    log: logging.Logger,
) -> Decision:
    """An unreadable label is an error: one finding naming the problem, on the label."""
    log.error(
        "kili-rules: label %s on asset %s is unreadable: %s",
        base["label_id"],
        base["asset_id"],
        reason,
    )
    if base["label_id"] is None:
        # Without a label id there is nothing to attach an issue to: log only.
        return Decision(**base, invalid=reason)
    finding: Any = _Finding(unreadable_text(reason))
    verdict = Verdict.decide([finding], _policy(ruleset))
    return _act(kili, {**base, "invalid": reason}, verdict, steps, reconcile, log)


def _act(
    kili: Any,
    base: dict[str, Any],
    verdict: Verdict,
    steps: StepLog,
    reconcile: bool,
    log: logging.Logger,
    waiver: tuple[Any, ActionPolicy] | None = None,
) -> Decision:
    plan: dict[str, Any] = {
        **base,
        "issues": tuple(i for i in verdict.issues if not isinstance(i, _Finding)),
        "unchecked": verdict.unchecked,
        "texts": tuple(i.text for i in verdict.issues),
        "mids": tuple(i.mid for i in verdict.issues),
        "outcome": verdict.outcome,
    }
    try:
        effects = act(
            kili,
            project_id=base["project_id"],
            asset_id=base["asset_id"],
            label_id=base["label_id"],
            verdict=verdict,
            steps=steps,
            reconcile=reconcile,
            dry_run=base["dry_run"],
            logger=log,
            label=waiver[0] if waiver else None,
            policy=waiver[1] if waiver else None,
        )
    except KiliCallFailed as exc:  # logged by the caller (the plugin, or the server's record)
        done = exc.effects[0] if exc.effects else None
        exc.decision = Decision(
            **plan,
            actions=done.actions if done is not None else (),
            effects=done,
            sent_back=done is not None
            and any(a in ("send_back", "invalidate") for a in done.actions),
            error=str(exc),
            failed_step=exc.step,
            can_retry=exc.retryable,
            wrote=exc.step not in ("read", "plan", "issues"),
        )
        raise
    if base["dry_run"]:
        log.info(
            "kili-rules dry run: would create %d issue(s) on label %s; %d change(s) in all",
            sum(1 for c in effects.changes if c.action == "create_issue"),
            base["label_id"],
            len(effects.changes),
        )
    sent_back = any(a in ("send_back", "invalidate") for a in effects.actions)
    if sent_back and not base["dry_run"]:
        log.info("kili-rules: asset %s sent back to the queue", base["asset_id"])
    if effects.waived and effects.outcome is not None:
        plan["outcome"] = effects.outcome  # what is left once the waived findings are out
    if effects.superseded_by is not None:
        # judged, but a newer label replaced it: the verdict stays visible, nothing acted
        plan["outcome"] = "superseded"
    return Decision(
        **plan,
        actions=effects.actions,
        effects=effects,
        sent_back=sent_back,
        wrote=bool(effects.changes) and not base["dry_run"],
    )


def _asset_resolution(kili: Any, project_id: str, asset_id: str) -> tuple[float, float] | None:
    """The asset's (width, height) in pixels, for pixel-unit rules (payloads carry none)."""
    rows = list(
        kili.assets(
            project_id=project_id,
            asset_id=asset_id,
            fields=["id", "resolution.width", "resolution.height"],
            disable_tqdm=True,
        )
    )
    size = (rows[0].get("resolution") or {}) if rows else {}
    width, height = size.get("width"), size.get("height")
    if isinstance(width, int | float) and isinstance(height, int | float):
        return (float(width), float(height))
    return None


class RulesPlugin(PluginCore):  # type: ignore[misc]
    """A PluginCore whose ``on_submit`` / ``on_review`` enforce a RuleSet.

    Set ``rules`` on the subclass (a RuleSet, or the path of a rules file, loaded once). Each
    handler validates the label and carries out the rules' actions (by default: create the
    issues in one ``create_issues`` call and send the asset back to the queue when an
    error-severity issue exists; warnings only create issues). Issue reconciliation is on by
    default (``reconcile = False`` turns it off): issues kili-rules created earlier on the
    asset that no longer fire are solved, those still firing are not created again. A label
    that cannot be read is reported as one error issue on it.

    A Kili call that fails in a way another attempt may pass (see ``effects.is_retryable``) is
    retried ``retries`` times, after ``retry_backoff`` seconds, doubled each time; a retry
    resumes after the steps already done and reconciliation keeps it from creating an issue
    twice. A label still not enforced then raises ``KiliCallFailed`` (its ``decision`` says
    what was done), so a webhook answers 5xx and Kili records the run as failed;
    ``raise_on_failure = False`` logs it and returns the Decision instead.
    """

    rules: RuleSet | str | os.PathLike[str]
    dry_run: bool = False
    reconcile: bool = True
    raise_on_failure: bool = True
    retries: int = 2
    retry_backoff: float = 0.5

    def __init__(
        self,
        kili: Any,
        project_id: str,
        logger: logging.Logger | None = None,
        *,
        rules: RuleSet | str | os.PathLike[str] | None = None,
        dry_run: bool | None = None,
        reconcile: bool | None = None,
        raise_on_failure: bool | None = None,
        retries: int | None = None,
        retry_backoff: float | None = None,
    ) -> None:
        super().__init__(kili, project_id, logger or _plugin_logger())
        spec = rules if rules is not None else getattr(type(self), "rules", None)
        self._ruleset = _load_rules(type(self), spec)
        self.rules = self._ruleset
        if dry_run is not None:
            self.dry_run = dry_run
        if reconcile is not None:
            self.reconcile = reconcile
        if raise_on_failure is not None:
            self.raise_on_failure = raise_on_failure
        if retries is not None:
            self.retries = retries
        if retry_backoff is not None:
            self.retry_backoff = retry_backoff
        if self.retries < 0 or self.retry_backoff < 0:
            raise ValueError(
                f"{type(self).__name__}: retries and retry_backoff must be >= 0 "
                f"(got {self.retries}, {self.retry_backoff})"
            )
        self.last_decision: Decision | None = None

    def on_submit(self, label: dict[str, Any], asset_id: str) -> Decision:
        """Validate a submitted label and act on the verdict."""
        return self.check_label(label, asset_id, handler="on_submit")

    def on_review(self, label: dict[str, Any], asset_id: str) -> Decision:
        """Validate a review label the same way as a submitted one."""
        return self.check_label(label, asset_id, handler="on_review")

    def check_label(self, label: object, asset_id: str, *, handler: str = "check") -> Decision:
        """Validate ``label`` and act on the result, retrying transient Kili failures; a label
        still not enforced raises unless ``raise_on_failure`` is False (see the class)."""
        steps = MemorySteps()  # shared by the attempts: a retry resumes after the done steps
        attempts = 1 + self.retries
        for attempt in range(1, attempts + 1):
            try:
                decision = handle_label(
                    self.kili,
                    self._ruleset,
                    self.project_id,
                    asset_id,
                    label,
                    steps=steps,
                    dry_run=self.dry_run,
                    reconcile=self.reconcile,
                    logger=self.logger,
                    handler=handler,
                )
            except KiliCallFailed as exc:
                if exc.retryable and attempt < attempts:
                    delay = self.retry_backoff * 2 ** (attempt - 1)
                    self.logger.warning(
                        "kili-rules: attempt %d of %d on asset %s failed (%s); retrying in %.2g s",
                        attempt,
                        attempts,
                        asset_id,
                        exc,
                        delay,
                    )
                    time.sleep(delay)
                    continue
                self.last_decision = exc.decision or Decision(
                    handler=handler,
                    project_id=self.project_id,
                    asset_id=asset_id,
                    label_id=_label_id(label),
                    dry_run=self.dry_run,
                    error=str(exc),
                    failed_step=exc.step,
                    can_retry=exc.retryable,
                )
                self.logger.error(
                    "kili-rules: label %s on asset %s not fully enforced after %d attempt(s): %s",
                    _label_id(label),
                    asset_id,
                    attempt,
                    exc,
                )
                if self.raise_on_failure:
                    raise
                return self.last_decision
            except Exception as exc:
                self.logger.exception("kili-rules: unexpected failure on asset %s", asset_id)
                self.last_decision = Decision(
                    handler=handler,
                    project_id=self.project_id,
                    asset_id=asset_id,
                    label_id=_label_id(label),
                    dry_run=self.dry_run,
                    error=f"{type(exc).__name__}: {exc}",
                )
                if self.raise_on_failure:
                    raise
                return self.last_decision
            self.last_decision = decision
            return decision
        raise AssertionError("unreachable: the last attempt returns or raises")


class _Fallback(logging.StreamHandler):  # type: ignore[type-arg]
    """Prints to stderr only when no other handler would get the record (an application
    that configured logging gets each line once, through its own handlers)."""

    def handle(self, record: logging.LogRecord) -> bool:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return False
            if not logger.propagate:
                break
            logger = logger.parent
        return bool(super().handle(record))


def _plugin_logger() -> logging.Logger:
    """The plugin's default logger: findings at INFO, each line printed once."""
    logger = logging.getLogger(PLUGIN_LOGGER)
    with _rules_lock:
        if not any(isinstance(h, _Fallback) for h in logger.handlers):
            logger.addHandler(_Fallback(sys.stderr))
            if logger.level == logging.NOTSET:
                logger.setLevel(logging.INFO)
    return logger


def _label_id(label: object) -> str | None:
    if isinstance(label, Mapping):
        value = label.get("id")
        if isinstance(value, str) and value:
            return value
    return None


def _already_exists(error: Exception) -> bool:
    text = str(error).lower()
    return "already exists" in text or "already activated" in text


def register_webhook(
    kili: Any, *, project_id: str, url: str, name: str, header: str | None = None
) -> str:
    """Create (or update, if ``name`` exists) a webhook and activate it on ``project_id``.

    ``header`` is the exact value Kili will send in the ``Authorization`` header (the secret
    the server checks). Returns a one-line summary of what was done.
    """
    try:
        kili.create_webhook(webhook_url=url, plugin_name=name, header=header, verbose=False)
        action = "created"
    except GraphQLError as exc:
        if not _already_exists(exc):
            raise
        kili.update_webhook(new_webhook_url=url, plugin_name=name, new_header=header, verbose=False)
        action = "updated"
    try:
        kili.activate_plugin_on_project(plugin_name=name, project_id=project_id)
        activation = "activated on"
    except GraphQLError as exc:
        if not _already_exists(exc):
            raise
        activation = "already active on"
    return f'webhook "{name}" {action} ({url}) and {activation} project {project_id}'
