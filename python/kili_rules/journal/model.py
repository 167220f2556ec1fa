"""What the journal stores: events, their states, and the answer to an insert."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kili_rules import deep_json


class State(str, Enum):
    """Where an event is in its life: pending -> leased -> done, or dead after too many tries."""

    PENDING = "pending"
    LEASED = "leased"
    DONE = "done"
    DEAD = "dead"


class Added(Enum):
    """The answer to :meth:`Journal.submit`."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    FULL = "full"


class StoreUnavailable(OSError):
    """The store cannot be trusted with an event: its file was deleted or replaced, or a
    commit cannot be proven to have landed. Intake answers 503; a restart is needed."""


class LeaseLost(Exception):
    """The event is no longer leased by this owner (its lease expired and another took it)."""


@dataclass(frozen=True)
class NewEvent:
    """An event to store; ``key`` is its idempotency key (see :func:`event_key`)."""

    key: str
    project_id: str
    asset_id: str
    label_id: str
    handler: str
    event: str
    payload: dict[str, Any]
    run_id: str | None = None


@dataclass(frozen=True)
class Event:
    """A stored event. ``steps`` are the effects already done (the StepLog's content)."""

    id: int
    key: str
    state: State
    project_id: str
    asset_id: str
    label_id: str
    handler: str
    event: str
    payload: dict[str, Any]
    run_id: str | None
    attempts: int
    created_at: float
    updated_at: float
    next_at: float
    lease_owner: str | None
    lease_until: float | None
    last_error: str | None
    steps: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``kili-rules events show``)."""
        return {
            "id": self.id,
            "key": self.key,
            "state": self.state.value,
            "project_id": self.project_id,
            "asset_id": self.asset_id,
            "label_id": self.label_id,
            "handler": self.handler,
            "event": self.event,
            "run_id": self.run_id,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "next_at": self.next_at,
            "lease_owner": self.lease_owner,
            "lease_until": self.lease_until,
            "last_error": self.last_error,
            "steps": self.steps,
            "result": self.result,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class Stats:
    """Counts per state and the last failure (``/status``, ``/metrics``)."""

    pending: int
    leased: int
    done: int
    dead: int
    retrying: int  # pending events that failed at least once
    last_error: str | None
    last_error_at: float | None
    oldest_pending_at: float | None

    @property
    def backlog(self) -> int:
        return self.pending + self.leased


FETCH_DIGEST = "fetch-by-id"


def content_digest(label: Mapping[str, Any] | None) -> str:
    """A digest of the label content an event carries, or FETCH_DIGEST when it carries none.

    It is part of the idempotency key: an event with other content (a forged or stale inline
    payload) gets another key, so it cannot make the genuine event look like a duplicate.
    """
    if label is None:
        return FETCH_DIGEST
    content = label.get("jsonResponse")
    if content is None or content in ("", "{}", "null") or content == {}:
        return FETCH_DIGEST
    if isinstance(content, str):
        try:
            content = deep_json.loads(content)  # iterative past json's own depth
        except ValueError:
            pass  # hashed as the raw text: the validator reports it
    try:
        canonical = deep_json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except (TypeError, ValueError) as exc:  # a caller's own value that is not JSON
        raise ValueError(f"the label content cannot be digested: {exc}") from None
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def event_key(project_id: str, label_id: str, fingerprint: str, digest: str) -> str:
    """The idempotency key: project, label, rules fingerprint and content digest, hashed."""
    raw = "\x1f".join((project_id, label_id, fingerprint, digest))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
