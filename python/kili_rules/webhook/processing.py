"""What a worker does with one event: hand it to the effects layer and sort the outcome.

``kili_rules.kili.plugin.handle_label`` (the one implementation shared with the plugin and
``Report.apply``) fetches the label when needed, validates, decides and acts step by step
through the journal-backed StepLog; its ``KiliCallFailed`` says whether a retry can help.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from kili_rules import RuleSet
from kili_rules.journal import Event, JournalSteps, StepBatch
from kili_rules.kili.batch_effects import LabelJob, handle_labels
from kili_rules.kili.effects import KiliCallFailed
from kili_rules.kili.plugin import handle_label

from .workers import BatchProcess, Permanent, Process, Retryable

logger = logging.getLogger("kili_rules.webhook")
plugin_logger = logging.getLogger("kili_rules.plugin")


def make_process(
    kili: Any,
    ruleset: RuleSet,
    *,
    fetch_labels: bool,
    dry_run: bool,
    reconcile: bool,
) -> Process:
    def process(event: Event, steps: JournalSteps) -> dict[str, Any]:
        started = time.perf_counter()
        record: dict[str, Any] = {
            "msg": "kili-rules decision",
            "event_id": event.id,
            "event": event.event,
            "attempt": event.attempts,
            "run_id": event.run_id,
            "project_id": event.project_id,
            "asset_id": event.asset_id,
            "label_id": event.label_id,
        }
        try:
            decision = handle_label(
                kili,
                ruleset,
                event.project_id,
                event.asset_id,
                event.payload,
                steps=steps,
                fetch_label=fetch_labels,
                dry_run=dry_run,
                reconcile=reconcile,
                logger=plugin_logger,
                handler=event.handler,
            )
        except KiliCallFailed as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            record["step"] = exc.step
            _log(record, started, logging.WARNING)
            if exc.retryable:
                raise Retryable(str(exc)) from exc
            raise Permanent(str(exc)) from exc
        summary: dict[str, Any] = decision.to_dict()
        record.update(summary)
        _log(record, started, logging.INFO)
        return summary

    return process


def make_batch_process(
    kili: Any,
    ruleset: RuleSet,
    *,
    fetch_labels: bool,
    dry_run: bool,
    reconcile: bool,
) -> BatchProcess:
    """The batched path (``--batch-size``): the Kili calls of many events shared, through
    :func:`kili_rules.kili.batch_effects.handle_labels`, each event's steps its own."""

    def process(events: Sequence[Event], steps: StepBatch) -> list[dict[str, Any]]:
        started = time.perf_counter()
        project_id = events[0].project_id
        jobs = [
            LabelJob(event.asset_id, event.payload, steps.logs[event.id], event.handler)
            for event in events
        ]
        try:
            decisions = handle_labels(
                kili,
                ruleset,
                project_id,
                jobs,
                fetch_label=fetch_labels,
                dry_run=dry_run,
                reconcile=reconcile,
                logger=plugin_logger,
            )
        except KiliCallFailed as exc:
            logger.warning(
                json.dumps(
                    {
                        "msg": "kili-rules batch failed",
                        "events": [event.id for event in events],
                        "project_id": project_id,
                        "error": f"{type(exc).__name__}: {exc}",
                        "step": exc.step,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                    sort_keys=True,
                )
            )
            if exc.retryable and not _content_specific(exc):
                raise Retryable(str(exc)) from exc
            raise  # the worker processes each event on its own
        summaries: list[dict[str, Any]] = []
        for event, decision in zip(events, decisions, strict=True):
            summary: dict[str, Any] = decision.to_dict()
            record: dict[str, Any] = {
                "msg": "kili-rules decision",
                "event_id": event.id,
                "event": event.event,
                "attempt": event.attempts,
                "run_id": event.run_id,
                "project_id": event.project_id,
                "asset_id": event.asset_id,
                "label_id": event.label_id,
                "batch": len(events),
                **summary,
            }
            _log(record, started, logging.INFO)
            summaries.append(summary)
        return summaries

    return process


def _content_specific(exc: KiliCallFailed) -> bool:
    """A GraphQL error may come from one event's content (Kili refusing one issue fails
    the whole createIssues): not a reason to retry the batch as it is. A timeout, refused
    connection or 5xx hits every event alike."""
    import kili.exceptions  # type: ignore[import-untyped]

    return isinstance(exc.__cause__, kili.exceptions.GraphQLError)


def _log(record: dict[str, Any], started: float, level: int) -> None:
    record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    logger.log(level, json.dumps(record, sort_keys=True, default=str))
