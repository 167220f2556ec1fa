"""A minimal FastAPI receiver for Kili webhooks, in the shape of the SDK's webhook tutorial.

Run it from this folder:  uvicorn main:app --port 8000
Environment: KILI_API_KEY (and KILI_API_ENDPOINT for a non-default Kili), WEBHOOK_SECRET (the
`header` given to create_webhook; Kili sends it as the Authorization header).

It checks each label synchronously, like the tutorial. For a production receiver (bounded
body size, background queue, redelivery dedupe, /healthz) use `kili-rules serve` instead.
"""

from __future__ import annotations

import hmac
import os
from functools import cache
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException
from kili.client import Kili  # type: ignore[import-untyped]
from plugin import PluginHandler

app = FastAPI()


@cache
def kili_client() -> Any:
    """One Kili client for the process, built on first use from the environment."""
    return Kili(
        api_key=os.environ["KILI_API_KEY"],
        api_endpoint=os.environ.get("KILI_API_ENDPOINT"),
        disable_tqdm=True,
    )


def check_secret(authorization: str | None) -> None:
    expected = os.environ.get("WEBHOOK_SECRET")
    if expected is None:
        return  # no secret configured: open endpoint (development only)
    given = (authorization or "").encode()
    if authorization is None or not hmac.compare_digest(given, expected.encode()):
        raise HTTPException(status_code=401, detail="wrong or missing Authorization header")


@app.post("/")
def receive(
    event: dict[str, Any], authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    check_secret(authorization)
    log_payload = event.get("logPayload")
    payload = event.get("payload")
    if not isinstance(log_payload, dict) or not isinstance(payload, dict):
        raise HTTPException(status_code=422, detail="expected logPayload and payload objects")
    project_id = log_payload.get("projectId")
    asset_id = payload.get("asset_id")
    label = payload.get("label")
    if not isinstance(project_id, str) or not isinstance(asset_id, str):
        raise HTTPException(status_code=422, detail="projectId and asset_id must be strings")
    if not isinstance(label, dict):
        raise HTTPException(status_code=422, detail="payload.label must be an object")

    plugin = PluginHandler(kili_client(), project_id)
    event_type = event.get("eventType")
    if event_type == "onSubmit":
        decision = plugin.on_submit(label, asset_id)
    elif event_type == "onReview":
        decision = plugin.on_review(label, asset_id)
    else:
        return {"status": "ignored", "event": event_type}
    return {
        "status": "done",
        "event": event_type,
        "issues": len(decision.texts),
        "sent_back": decision.sent_back,
    }
