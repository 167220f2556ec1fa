"""The durable event store of the webhook server (``kili-rules serve --store``).

One interface, :class:`Journal`, two backends: :class:`SQLiteJournal` (one file, rollback journal,
the default) and :class:`PostgresJournal` (``postgresql://...``, for several replicas).
"""

from __future__ import annotations

import os
from typing import Any

from .base import Journal
from .model import (
    FETCH_DIGEST,
    Added,
    Event,
    LeaseLost,
    NewEvent,
    State,
    Stats,
    StoreUnavailable,
    content_digest,
    event_key,
)
from .sqlite import SQLiteJournal, StoreBusy
from .steps import BatchedSteps, JournalSteps, StepBatch

DEFAULT_STORE = "kili-rules-events.db"

__all__ = [
    "DEFAULT_STORE",
    "FETCH_DIGEST",
    "Added",
    "BatchedSteps",
    "Event",
    "Journal",
    "JournalSteps",
    "LeaseLost",
    "NewEvent",
    "SQLiteJournal",
    "State",
    "Stats",
    "StepBatch",
    "StoreBusy",
    "StoreUnavailable",
    "content_digest",
    "event_key",
    "open_journal",
]


def open_journal(store: str | os.PathLike[str], *, lock: bool = False, **options: Any) -> Journal:
    """``postgresql://...`` (or ``postgres://``) opens the PostgreSQL store, anything else
    is the path of a SQLite file. ``lock``: take the SQLite file for this process alone."""
    text = os.fspath(store)
    if text.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresJournal

        return PostgresJournal(text, **options)
    return SQLiteJournal(text, lock=lock, **options)
