"""``RulesEventPlugin``: a RulesPlugin that receives Kili's typed events (kili-events).

Kili's newer plugins subscribe with ``@on_kili_event`` methods typed by ``kili_events``
models; ``on_event`` receives the whole envelope ``{event, organizationId, projectId, userId,
payload}`` and a label event's payload is ``{assetId, labelId, externalId}``, with no
jsonResponse: the label is fetched by its id (``handle_label`` does when the payload has no
jsonResponse).

On a kili with ``on_kili_event`` (26.2.4) the class subscribes to
``label.workflow.created.default`` and ``label.workflow.created.review`` with decorated
methods, and the SDK's own ``on_event`` parses and dispatches. On an older kili (26.2.1 has
neither ``kili_events`` nor ``on_kili_event``) the class overrides ``on_event`` and reads the
envelope itself, so the same subclass works on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kili_rules.kili.plugin import Decision, RulesPlugin

__all__ = ["LABEL_EVENT_HANDLERS", "TYPED_EVENTS", "RulesEventPlugin"]

# The label events checked, and the handler name each is recorded under (as the legacy
# onSubmit / onReview are).
LABEL_EVENT_HANDLERS = {
    "label.workflow.created.default": "on_submit",
    "label.workflow.created.review": "on_review",
}

try:
    from kili.plugins import on_kili_event  # type: ignore[import-untyped]
    from kili_events import (  # type: ignore[import-not-found,unused-ignore]
        LabelWorkflowCreatedDefaultEvent,
        LabelWorkflowCreatedReviewEvent,
    )

    TYPED_EVENTS = True
except ImportError:  # kili < 26.2.4: no typed events, on_event receives the envelope dict
    TYPED_EVENTS = False


class EventError(ValueError):
    """An event envelope RulesEventPlugin cannot read (it names the field)."""


def _envelope_fields(event: object) -> tuple[str, str, str, str | None]:
    """(event name, asset id, label id, project id) of a kili_events model or an envelope."""
    if isinstance(event, Mapping):
        name = event.get("event")
        payload = event.get("payload")
        if not isinstance(name, str) or not name:
            raise EventError("the event envelope has no `event` name (a non-empty string)")
        if not isinstance(payload, Mapping):
            raise EventError(f"event {name}: `payload` must be an object")
        asset_id, label_id = payload.get("assetId"), payload.get("labelId")
        project = event.get("projectId")
        project_id = project if isinstance(project, str) and project else None
    else:  # a kili_events model: snake_case attributes
        name = getattr(event, "event", None)
        payload = getattr(event, "payload", None)
        if not isinstance(name, str) or payload is None:
            raise EventError(f"not a Kili event: {type(event).__name__}")
        asset_id = getattr(payload, "asset_id", None)
        label_id = getattr(payload, "label_id", None)
        project_id = getattr(event, "project_id", None)
    for field, value in (("assetId", asset_id), ("labelId", label_id)):
        if not isinstance(value, str) or not value:
            raise EventError(f"event {name}: payload.{field} must be a non-empty string")
    assert isinstance(asset_id, str) and isinstance(label_id, str)  # checked just above
    return name, asset_id, label_id, project_id


class RulesEventPlugin(RulesPlugin):
    """A RulesPlugin driven by Kili's typed label events.

    Set ``rules`` as on RulesPlugin. For a hosted plugin, Kili's uploader reads the
    subscriptions from the ``PluginHandler`` class body of ``main.py``, so declare the
    ``@on_kili_event`` methods there and call :meth:`check_event` from them
    (``kili-rules bundle --events`` writes that file). ``check_event`` takes the kili_events
    model or the envelope dict, fetches the label by id and enforces it like ``on_submit``
    (retries, ``raise_on_failure``). Events of another project, or that are no label
    creation, are ignored (logged) and return None.
    """

    def check_event(self, event: object) -> Decision | None:
        """Check the label a label event names; None for an event not checked."""
        name, asset_id, label_id, project_id = _envelope_fields(event)
        handler = LABEL_EVENT_HANDLERS.get(name)
        if handler is None:
            self.logger.info("kili-rules: event %s is not checked; ignored", name)
            return None
        if project_id is not None and project_id != self.project_id:
            self.logger.warning(
                "kili-rules: event %s is for project %s, not %s; ignored",
                name,
                project_id,
                self.project_id,
            )
            return None
        return self.check_label({"id": label_id}, asset_id, handler=handler)

    if TYPED_EVENTS:

        @on_kili_event  # type: ignore[untyped-decorator,misc,unused-ignore]
        def on_label_created(
            self, event: LabelWorkflowCreatedDefaultEvent | LabelWorkflowCreatedReviewEvent
        ) -> None:
            self.check_event(event)

    else:

        def on_event(self, payload: dict[str, Any]) -> None:
            """kili < 26.2.4 has no typed dispatch: read the envelope here."""
            self.check_event(payload)
