"""Stand-in for ``kili_rules.kili.plugin.handle_label`` until the effects layer is merged
(same signature and contract, fewer actions: issues, then a send-back on errors)."""

from __future__ import annotations

import logging
from typing import Any

from kili_rules import LabelError, RuleSet

INVALID_LABEL_PREFIX = "kili-rules could not read this label: "


class KiliCallFailed(Exception):
    def __init__(self, message: str, *, retryable: bool, step: str) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.step = step


def _usable(content: object) -> bool:
    if content is None:
        return False
    if isinstance(content, str):
        return content.strip() not in ("", "{}", "null")
    if isinstance(content, dict):
        return bool(content)
    return True


def handle_label(
    kili: Any,
    ruleset: RuleSet,
    project_id: str,
    asset_id: str,
    label_payload: dict[str, Any],
    *,
    steps: Any,
    fetch_label: bool = False,
    dry_run: bool = False,
    reconcile: bool = True,
    logger: logging.Logger | None = None,
) -> dict[str, Any]:
    label_id = str(label_payload.get("id"))
    target: dict[str, Any] = label_payload
    if fetch_label or not _usable(label_payload.get("jsonResponse")):
        try:
            rows = list(
                kili.labels(
                    project_id=project_id,
                    label_id=label_id,
                    fields=["id", "jsonResponse"],
                    disable_tqdm=True,
                )
            )
        except Exception as exc:
            raise KiliCallFailed(f"fetching label {label_id}: {exc}", retryable=True, step="fetch") from exc
        if not rows:
            return {"label_id": label_id, "invalid": "label not found"}
        target = {"id": label_id, "jsonResponse": rows[0].get("jsonResponse")}
    try:
        issues = ruleset.validate(target)
        texts = [issue.text for issue in issues]
        mids = [issue.mid for issue in issues]
        send_back = ruleset.has_errors(issues)
    except LabelError as exc:
        texts, mids, send_back = [INVALID_LABEL_PREFIX + str(exc)], [None], True
    if dry_run or not texts:
        return {"label_id": label_id, "issues": len(texts), "dry_run": dry_run}
    if steps.get("issues") is None:
        try:
            kili.create_issues(
                project_id=project_id,
                label_id_array=[label_id] * len(texts),
                text_array=texts,
                object_mid_array=mids,
            )
        except Exception as exc:
            raise KiliCallFailed(f"create_issues: {exc}", retryable=True, step="issues") from exc
        steps.put("issues", len(texts))
    if send_back and steps.get("send_back") is None:
        try:
            kili.send_back_to_queue(asset_ids=[asset_id])
        except Exception as exc:
            raise KiliCallFailed(f"send_back: {exc}", retryable=True, step="send_back") from exc
        steps.put("send_back", True)
    return {"label_id": label_id, "issues": len(texts), "sent_back": send_back}
