"""Parse a Kili webhook body into a job for the worker, or a 4xx error naming what is wrong.

Two envelopes arrive on the same URL:
- legacy handlers: ``{eventType, logPayload: {runId, projectId}, payload: {label, asset_id}}``
- events (``event_matcher``): ``{event, projectId, payload: {assetId, labelId, ...}}``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from kili_rules import deep_json
from kili_rules.journal import FETCH_DIGEST, NewEvent, content_digest, event_key

# Legacy handler name -> RulesPlugin method.
LEGACY_HANDLERS = {"onSubmit": "on_submit", "onReview": "on_review"}
# Events whose payload names a new label to check -> RulesPlugin method.
LABEL_EVENTS = {
    "label.workflow.created.default": "on_submit",
    "label.workflow.created.review": "on_review",
}

Id = Annotated[str, StringConstraints(min_length=1, max_length=512)]
_STRICT = ConfigDict(strict=True, extra="allow")
# A resource bound on the body, far above any depth the core judges: a label's depth is the
# core's to judge (its reader stops at 128 levels of what a rule reads, and skips deeper
# values no rule reads), so a deep label is journaled and gets the same verdict as in a batch.
MAX_DEPTH = 100_000


class PayloadError(Exception):
    """A request the server refuses: HTTP status, short error code and a readable detail."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


@dataclass(frozen=True)
class Job:
    """One label to check. ``label`` is the payload's label, or ``{"id": ...}`` to fetch."""

    handler: str
    event: str
    project_id: str
    asset_id: str
    label_id: str
    label: dict[str, Any]
    run_id: str | None
    fingerprint: str
    digest: str = FETCH_DIGEST

    @property
    def key(self) -> str:
        """Redeliveries of the same label content under the same rules share this key."""
        return event_key(self.project_id, self.label_id, self.fingerprint, self.digest)

    @property
    def key_text(self) -> str:
        return f"{self.project_id}/{self.label_id}/{self.fingerprint[:12]}/{self.digest[:12]}"

    def to_event(self) -> NewEvent:
        return NewEvent(
            key=self.key,
            project_id=self.project_id,
            asset_id=self.asset_id,
            label_id=self.label_id,
            handler=self.handler,
            event=self.event,
            payload=self.label,
            run_id=self.run_id,
        )


@dataclass(frozen=True)
class Ignored:
    """A well-formed event the server does not act on."""

    event: str


class _LogPayload(BaseModel):
    model_config = _STRICT
    projectId: Id
    runId: str | None = None


class _LegacyEnvelope(BaseModel):
    model_config = _STRICT
    eventType: Id
    logPayload: _LogPayload
    payload: dict[str, Any]


class _LegacyLabel(BaseModel):
    model_config = _STRICT
    id: Id
    jsonResponse: dict[str, Any] | str | None = None


class _LegacyPayload(BaseModel):
    model_config = _STRICT
    label: _LegacyLabel
    asset_id: Id


class _EventName(BaseModel):
    model_config = _STRICT
    event: Id


class _EventEnvelope(BaseModel):
    model_config = _STRICT
    event: Id
    projectId: Id
    payload: dict[str, Any]


class _LabelEventPayload(BaseModel):
    model_config = _STRICT
    assetId: Id
    labelId: Id


def _describe(error: ValidationError, prefix: str = "") -> str:
    """'payload.label.id: Field required; ...' (without echoing the input values)."""
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(part) for part in (*((prefix,) if prefix else ()), *item["loc"]))
        parts.append(f"{where or 'body'}: {item['msg']}")
    return "; ".join(parts)


def _validate(model: type[BaseModel], data: object, prefix: str = "") -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(422, "invalid_payload", _describe(exc, prefix)) from None


def parse_body(body: bytes, fingerprint: str, *, fetch_labels: bool = False) -> Job | Ignored:
    """Decode and check a webhook body; raise PayloadError (400/422) on bad input.

    ``fetch_labels``: keep only the label id of an inline label (the worker fetches it).
    """
    try:
        data = deep_json.loads(body, max_depth=MAX_DEPTH)
    except deep_json.TooDeep:
        raise PayloadError(
            422,
            "too_deep",
            f"body is nested more than {MAX_DEPTH} levels deep (the server's resource bound)",
        ) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise PayloadError(400, "invalid_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(422, "invalid_payload", f"body must be a JSON object, not {_kind(data)}")
    if "eventType" in data:
        return _parse_legacy(data, fingerprint, fetch_labels)
    if "event" in data:
        return _parse_event(data, fingerprint)
    raise PayloadError(
        422,
        "invalid_payload",
        "body is neither a legacy webhook envelope (eventType, logPayload, payload) "
        "nor an event envelope (event, projectId, payload)",
    )


def _parse_legacy(data: dict[str, Any], fingerprint: str, fetch_labels: bool) -> Job | Ignored:
    envelope: _LegacyEnvelope = _validate(_LegacyEnvelope, data)
    handler = LEGACY_HANDLERS.get(envelope.eventType)
    if handler is None:
        return Ignored(envelope.eventType)
    payload: _LegacyPayload = _validate(_LegacyPayload, envelope.payload, "payload")
    label: dict[str, Any] = data["payload"]["label"]
    if fetch_labels:
        label = {"id": payload.label.id}
    digest = content_digest(label)  # iterative: any depth
    return Job(
        handler=handler,
        event=envelope.eventType,
        project_id=envelope.logPayload.projectId,
        asset_id=payload.asset_id,
        label_id=payload.label.id,
        label=label,
        run_id=envelope.logPayload.runId,
        fingerprint=fingerprint,
        digest=digest,
    )


def _parse_event(data: dict[str, Any], fingerprint: str) -> Job | Ignored:
    name: _EventName = _validate(_EventName, {"event": data["event"]})
    handler = LABEL_EVENTS.get(name.event)
    if handler is None:
        return Ignored(name.event)
    envelope: _EventEnvelope = _validate(_EventEnvelope, data)
    payload: _LabelEventPayload = _validate(_LabelEventPayload, envelope.payload, "payload")
    return Job(
        handler=handler,
        event=envelope.event,
        project_id=envelope.projectId,
        asset_id=payload.assetId,
        label_id=payload.labelId,
        label={"id": payload.labelId},  # no jsonResponse: the plugin fetches it by id
        run_id=None,
        fingerprint=fingerprint,
    )


nesting_depth = deep_json.nesting_depth


def _kind(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
