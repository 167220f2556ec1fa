"""``/status`` (JSON) and ``/metrics`` (Prometheus text) from the journal and the workers."""

from __future__ import annotations

import time
from typing import Any

from kili_rules.journal import Stats


def status_document(
    stats: Stats, workers: dict[str, Any], counts: dict[str, int], settings: dict[str, Any]
) -> dict[str, Any]:
    """``degraded`` while dead letters exist (``kili-rules events list --state dead``)."""
    now = time.time()
    return {
        "status": "degraded" if stats.dead else "ok",
        "backlog": stats.backlog,
        "pending": stats.pending,
        "in_progress": stats.leased,
        "retrying": stats.retrying,
        "dead_letters": stats.dead,
        "done": stats.done,
        "oldest_pending_seconds": (
            None if stats.oldest_pending_at is None else round(now - stats.oldest_pending_at, 3)
        ),
        "last_error": stats.last_error,
        "last_error_at": stats.last_error_at,
        "requests": counts,
        "workers": workers,
        **settings,
    }


def prometheus_text(stats: Stats, workers: dict[str, Any], counts: dict[str, int]) -> str:
    lines = [
        "# HELP kili_rules_events Events in the journal by state.",
        "# TYPE kili_rules_events gauge",
    ]
    for state in ("pending", "leased", "done", "dead"):
        lines.append(f'kili_rules_events{{state="{state}"}} {getattr(stats, state)}')
    lines += [
        "# HELP kili_rules_events_retrying Pending events that failed at least once.",
        "# TYPE kili_rules_events_retrying gauge",
        f"kili_rules_events_retrying {stats.retrying}",
        "# HELP kili_rules_requests_total Webhook requests by outcome (this process).",
        "# TYPE kili_rules_requests_total counter",
    ]
    for name, value in sorted(counts.items()):
        lines.append(f'kili_rules_requests_total{{outcome="{name}"}} {value}')
    lines += [
        "# HELP kili_rules_worker_events_total Events handled by this process's workers.",
        "# TYPE kili_rules_worker_events_total counter",
    ]
    for name in ("processed", "retried", "dead", "lease_lost"):
        lines.append(f'kili_rules_worker_events_total{{outcome="{name}"}} {workers.get(name, 0)}')
    return "\n".join(lines) + "\n"
