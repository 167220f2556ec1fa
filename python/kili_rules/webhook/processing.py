"""What a worker does with one event: hand it to the effects layer and sort the outcome.

``kili_rules.kili.plugin.handle_label`` (the one implementation shared with the plugin and
``Report.apply``) fetches the label when needed, validates, decides and acts step by step
through the journal-backed StepLog; its ``KiliCallFailed`` says whether a retry can help.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from kili_rules import RuleSet
from kili_rules.journal import Event, JournalSteps
from kili_rules.kili.effects import KiliCallFailed
from kili_rules.kili.plugin import handle_label

from .workers import Permanent, Process, Retryable

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


def _log(record: dict[str, Any], started: float, level: int) -> None:
    record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    logger.log(level, json.dumps(record, sort_keys=True, default=str))
