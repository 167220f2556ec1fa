"""In-memory Kili data the emulator serves: projects, assets, labels, issues, webhooks.

Every public method takes the state lock, so the HTTP handler threads, the webhook delivery
thread and the test thread can use one ``EmulatorState`` at the same time. Records are plain
dataclasses; views handed out are fresh dicts, never the records themselves.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

ASSET_STATUSES = ("TODO", "ONGOING", "LABELED", "TO_REVIEW", "REVIEWED")
LABEL_TYPES = ("AUTOSAVE", "DEFAULT", "INFERENCE", "PREDICTION", "REVIEW")
ISSUE_STATUSES = ("OPEN", "SOLVED", "CANCELLED")
HANDLER_TYPES = ("onSubmit", "onReview", "onCustomInterfaceClick", "onSendBackToQueue")
DEFAULT_HANDLER_TYPES = ("onSubmit", "onReview")
# The webhook event a label of each type triggers (other label types trigger none).
EVENT_OF_LABEL_TYPE = {"DEFAULT": "onSubmit", "REVIEW": "onReview"}
# The kili-events subject of the same labels (webhooks registered with an eventMatcher).
SUBJECT_OF_LABEL_TYPE = {
    "DEFAULT": "label.workflow.created.default",
    "REVIEW": "label.workflow.created.review",
}
ORGANIZATION_ID = "org-emulator"
# The asset status a label of each type leaves behind (other label types leave it unchanged).
STATUS_AFTER_LABEL = {"DEFAULT": "LABELED", "REVIEW": "REVIEWED"}
MAX_PAGE_SIZE = 500

VIEWER_ID = "emulator-user"
VIEWER_EMAIL = "emulator@example.com"

Where = Mapping[str, Any]


class EmulatorError(Exception):
    """A request the emulator refuses; its message becomes the GraphQL error message."""


def now_iso() -> str:
    """Current UTC time in Kili's format, e.g. ``2026-01-31T12:00:00.000Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def loopback_url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) URL on a loopback host, or None when it is one."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as err:
        return f"webhookUrl {url!r} is not a valid URL ({err})"
    if parts.scheme not in ("http", "https") or not host:
        return f"webhookUrl {url!r} must be an http:// or https:// URL"
    if host == "localhost":
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return (
            f"webhookUrl {url!r} is refused: the kili-rules emulator only delivers webhooks to "
            "loopback hosts (127.0.0.0/8, ::1, localhost)"
        )
    return None


def count_annotations(json_response: Mapping[str, Any] | None) -> tuple[int, dict[str, int]]:
    """Kili's ``search`` statistics for a jsonResponse: total and per ``JOB.CATEGORY``.

    An emulator approximation: each object annotation counts once (under each of its
    categories), each category of a classification job counts once; children are not counted.
    """
    total = 0
    by_object: dict[str, int] = {}
    for job, answer in (json_response or {}).items():
        if not isinstance(answer, Mapping):
            continue
        annotations = answer.get("annotations")
        if isinstance(annotations, list):
            for annotation in annotations:
                total += 1
                for name in _category_names(annotation):
                    key = f"{job}.{name}"
                    by_object[key] = by_object.get(key, 0) + 1
        elif "categories" in answer:
            for name in _category_names(answer):
                total += 1
                key = f"{job}.{name}"
                by_object[key] = by_object.get(key, 0) + 1
    return total, by_object


def _category_names(holder: object) -> list[str]:
    if not isinstance(holder, Mapping):
        return []
    categories = holder.get("categories")
    if not isinstance(categories, list):
        return []
    names = [c.get("name") for c in categories if isinstance(c, Mapping)]
    return [name for name in names if isinstance(name, str)]


@dataclass
class Project:
    id: str
    title: str
    description: str
    input_type: str
    json_interface: dict[str, Any]
    created_at: str
    # workflow v2: the ordered step names ([] for the legacy workflow, "V1")
    steps: list[str] = field(default_factory=list)
    # "V1" (no steps), "V2" or "V3" (the multi-group workflow)
    workflow_version: str = "V1"
    # V3: the step group of each step (parallel to ``steps``); groups run one after the
    # other, each a labeling step then its review steps. [] for V1 and V2.
    step_groups: list[str] = field(default_factory=list)

    def step_type(self, index: int) -> str:
        """DEFAULT (labeling) for the first step of each group, REVIEW for the others."""
        if index == 0 or (
            self.step_groups and self.step_groups[index - 1] != self.step_groups[index]
        ):
            return "DEFAULT"
        return "REVIEW"

    def labeling_step(self, index: int) -> int:
        """Where a send-back from step ``index`` goes: its group's labeling step (V2: the
        first step)."""
        while index > 0 and self.step_type(index) != "DEFAULT":
            index -= 1
        return index


@dataclass
class Asset:
    id: str
    project_id: str
    external_id: str
    content: str
    json_metadata: dict[str, Any]
    resolution: tuple[int, int] | None
    status: str
    created_at: str
    updated_at: str
    label_ids: list[str] = field(default_factory=list)
    # workflow v2: index of the asset's current step in its project's ``steps``
    step: int = 0
    priority: int = 0
    # workflow v2/v3: sent back and not submitted since (its step status is REWORK)
    reworked: bool = False


@dataclass
class Label:
    id: str
    asset_id: str
    project_id: str
    label_type: str
    # None: the label's JSON is not stored inline (served as ""), as for labels Kili keeps
    # behind a jsonResponseUrl; clients must not take it for an empty label.
    json_response: dict[str, Any] | None
    author_id: str
    created_at: str
    seconds_to_label: float | None = None
    model_name: str | None = None
    client_version: int | None = None
    is_sent_back_to_queue: bool = False
    # the JSON text served as jsonResponse, built once: serving a page must not re-encode it
    json_text: str = ""

    def __post_init__(self) -> None:
        if self.json_response is not None and not self.json_text:
            self.json_text = json.dumps(self.json_response)


@dataclass
class Issue:
    id: str
    number: int
    project_id: str
    asset_id: str
    label_id: str | None
    object_mid: str | None
    type: str
    status: str
    text: str | None
    created_at: str
    updated_at: str = ""


@dataclass
class Webhook:
    name: str
    url: str
    header: str | None
    handler_types: tuple[str, ...]
    event_matcher: tuple[str, ...] | None
    projects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PendingEvent:
    """A webhook POST to send: decided under the lock, sent outside it."""

    webhook: str
    url: str
    header: str | None
    body: dict[str, Any]


class EmulatorState:
    """All data of one emulator, guarded by one re-entrant lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # notified on every change, so tests can wait for asynchronous effects
        self.changed = threading.Condition(self.lock)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.projects: dict[str, Project] = {}
            self.assets: dict[str, Asset] = {}
            # asset ids of each project, in creation order: list queries scan one project only
            self.project_assets: dict[str, list[str]] = {}
            self.labels: dict[str, Label] = {}
            self.issues: dict[str, Issue] = {}
            self.webhooks: dict[str, Webhook] = {}
            self.sent_back: list[str] = []
            self.added_to_review: list[str] = []
            self.requests: list[str] = []
            self._counters: dict[str, itertools.count[int]] = {}
            self.changed.notify_all()

    # ---- helpers -------------------------------------------------------------------------

    def _new_id(self, prefix: str, taken: Mapping[str, object]) -> str:
        counter = self._counters.setdefault(prefix, itertools.count(1))
        while True:
            candidate = f"{prefix}-{next(counter)}"
            if candidate not in taken:
                return candidate

    def _touch(self) -> None:
        self.changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` (evaluated under the lock) is true; False on timeout."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout=timeout)

    def log_request(self, root_fields: Iterable[str]) -> None:
        with self.lock:
            self.requests.extend(root_fields)
            self._touch()

    # ---- seeding -------------------------------------------------------------------------

    def add_project(
        self,
        project_id: str | None,
        title: str,
        description: str,
        input_type: str,
        json_interface: Mapping[str, Any] | None,
        steps: Iterable[str] = (),
        workflow_version: str | None = None,
        step_groups: Iterable[tuple[str, Iterable[str]]] | None = None,
    ) -> str:
        with self.lock:
            pid = project_id or self._new_id("project", self.projects)
            if pid in self.projects:
                raise EmulatorError(f"project {pid!r} already exists")
            step_names = list(steps)
            groups: list[str] = []
            if step_groups is not None:
                if step_names or workflow_version not in (None, "V3"):
                    raise EmulatorError("step_groups: a V3 project's steps, instead of steps")
                step_names, groups = _flatten_groups(step_groups)
                workflow_version = "V3"
            elif len(step_names) == 1 or len(set(step_names)) != len(step_names):
                raise EmulatorError("workflow steps: give at least two distinct step names")
            version = workflow_version or ("V2" if step_names else "V1")
            if version not in ("V1", "V2", "V3") or (version == "V1") != (not step_names):
                raise EmulatorError(
                    f"workflow_version {version!r}: V1 takes no steps, V2 and V3 take steps"
                )
            if version == "V3" and not groups:
                groups = ["Default"] * len(step_names)  # V3 given plain steps: one group
            interface = dict(json_interface) if json_interface is not None else {"jobs": {}}
            self.projects[pid] = Project(
                pid,
                title,
                description,
                input_type,
                interface,
                now_iso(),
                step_names,
                version,
                groups,
            )
            self.project_assets[pid] = []
            self._touch()
            return pid

    def add_asset(
        self,
        project_id: str,
        asset_id: str | None,
        external_id: str | None,
        content: str,
        resolution: tuple[int, int] | None,
        status: str,
        json_metadata: Mapping[str, Any] | None,
    ) -> str:
        with self.lock:
            if project_id not in self.projects:
                raise EmulatorError(f"project {project_id!r} does not exist")
            if status not in ASSET_STATUSES:
                raise EmulatorError(f"asset status {status!r} is not one of {ASSET_STATUSES}")
            aid = asset_id or self._new_id("asset", self.assets)
            if aid in self.assets:
                raise EmulatorError(f"asset {aid!r} already exists")
            stamp = now_iso()
            self.project_assets[project_id].append(aid)
            self.assets[aid] = Asset(
                id=aid,
                project_id=project_id,
                external_id=external_id if external_id is not None else aid,
                content=content,
                json_metadata=dict(json_metadata or {}),
                resolution=resolution,
                status=status,
                created_at=stamp,
                updated_at=stamp,
            )
            self._touch()
            return aid

    def bulk_load(
        self, project_id: str, records: Iterable[Mapping[str, Any]], at: int | None = None
    ) -> list[str]:
        """Create many assets, each with its labels, under one lock; returns the asset ids.

        ``at``: where the new assets go in the project's listing order (None: the end). Kili's
        ``assets`` query has no order argument, so where a new asset lands in its pages is the
        server's choice; a test puts it before the offset a scan has reached.

        A record: ``external_id``, ``resolution`` ((width, height)), ``status`` (default
        from the labels, else TODO), ``json_metadata``, ``labels``: a list of label specs,
        each a jsonResponse (a dict, a JSON string, or None for a label whose JSON is not
        inline) or a dict ``{"json_response", "label_type", "author_id"}``.
        """
        with self.lock:
            if project_id not in self.projects:
                raise EmulatorError(f"project {project_id!r} does not exist")
            order = self.project_assets[project_id]
            if at is not None and not 0 <= at <= len(order):
                raise EmulatorError(f"at={at}: the project has {len(order)} asset(s)")
            ids: list[str] = []
            stamp = now_iso()
            try:
                for index, record in enumerate(records):
                    status = record.get("status")
                    if status is not None and status not in ASSET_STATUSES:
                        raise EmulatorError(f"records[{index}].status {status!r} is not a status")
                    aid = self._new_id("asset", self.assets)
                    external_id = record.get("external_id")
                    resolution = record.get("resolution")
                    asset = Asset(
                        id=aid,
                        project_id=project_id,
                        external_id=external_id if external_id is not None else aid,
                        content="",
                        json_metadata=dict(record.get("json_metadata") or {}),
                        resolution=tuple(resolution) if resolution is not None else None,
                        status="TODO",
                        created_at=stamp,
                        updated_at=stamp,
                    )
                    for spec in record.get("labels") or ():
                        label = self._bulk_label(asset, spec, stamp, index)
                        self.labels[label.id] = label
                        asset.label_ids.append(label.id)
                        asset.status = STATUS_AFTER_LABEL.get(label.label_type, asset.status)
                    if status is not None:
                        asset.status = status
                    self.assets[aid] = asset
                    ids.append(aid)
            finally:  # the assets made before a bad record stay listed, as they always did
                if at is None:
                    order.extend(ids)
                else:
                    order[at:at] = ids
            self._touch()
            return ids

    def _bulk_label(self, asset: Asset, spec: Any, stamp: str, index: int) -> Label:
        if isinstance(spec, Mapping) and "json_response" in spec:
            raw = spec["json_response"]
            label_type = spec.get("label_type", "DEFAULT")
            author = spec.get("author_id") or VIEWER_ID
        else:
            raw, label_type, author = spec, "DEFAULT", VIEWER_ID
        if label_type not in LABEL_TYPES:
            raise EmulatorError(f"records[{index}]: label type {label_type!r} is not a type")
        text = ""
        if isinstance(raw, str):
            text, raw = raw, _parse_json_response(raw, index)
        elif raw is not None and not isinstance(raw, Mapping):
            raise EmulatorError(f"records[{index}]: a label must be a dict, a JSON string or None")
        return Label(
            id=self._new_id("label", self.labels),
            asset_id=asset.id,
            project_id=asset.project_id,
            label_type=label_type,
            json_response=dict(raw) if raw is not None else None,
            author_id=author,
            created_at=stamp,
            json_text=text,
        )

    # ---- filters -------------------------------------------------------------------------

    def project(self, project_id: str) -> Project:
        with self.lock:
            try:
                return self.projects[project_id]
            except KeyError:
                raise EmulatorError(f"project {project_id!r} does not exist") from None

    def asset(self, asset_id: str) -> Asset:
        with self.lock:
            try:
                return self.assets[asset_id]
            except KeyError:
                raise EmulatorError(f"asset {asset_id!r} does not exist") from None

    def asset_labels(self, asset: Asset) -> list[Label]:
        with self.lock:
            return [self.labels[i] for i in asset.label_ids if i in self.labels]

    def latest_label(self, asset: Asset) -> Label | None:
        submitted = [lb for lb in self.asset_labels(asset) if lb.label_type in STATUS_AFTER_LABEL]
        return submitted[-1] if submitted else None

    def latest_labels(self, asset: Asset) -> list[Label]:
        per_author: dict[str, Label] = {}
        for label in self.asset_labels(asset):
            if label.label_type in STATUS_AFTER_LABEL:
                per_author[label.author_id] = label
        return list(per_author.values())

    def _asset_matches(self, asset: Asset, where: Where) -> bool:
        if "id" in where and asset.id != where["id"]:
            return False
        if "idIn" in where and asset.id not in where["idIn"]:
            return False
        if "idNotIn" in where and asset.id in where["idNotIn"]:
            return False
        if not _project_matches(asset.project_id, where):
            return False
        if (
            "externalIdStrictlyIn" in where
            and asset.external_id not in where["externalIdStrictlyIn"]
        ):
            return False
        if "externalIdIn" in where and not any(
            part in asset.external_id for part in where["externalIdIn"]
        ):
            return False  # Kili matches partial external ids here
        if "statusIn" in where and asset.status not in where["statusIn"]:
            return False
        # ISO-8601 UTC stamps of one format compare as text
        if "updatedAtGte" in where and asset.updated_at < where["updatedAtGte"]:
            return False
        if "updatedAtLte" in where and asset.updated_at > where["updatedAtLte"]:
            return False
        if "createdAtGte" in where and asset.created_at < where["createdAtGte"]:
            return False
        if "createdAtLte" in where and asset.created_at > where["createdAtLte"]:
            return False
        if "skipped" in where and where["skipped"] is not False:
            return False  # the emulator has no skipped assets
        label_where = where.get("label") or {}
        if "typeIn" in label_where and not any(
            lb.label_type in label_where["typeIn"] for lb in self.asset_labels(asset)
        ):
            return False
        issue_where = where.get("issue") or {}
        if issue_where and not any(
            issue.asset_id == asset.id
            and issue_where.get("type", issue.type) == issue.type
            and issue_where.get("status", issue.status) == issue.status
            for issue in self.issues.values()
        ):
            return False
        return True

    def _whole_project(self, where: Where) -> list[str] | None:
        """The asset ids when ``where`` selects one whole project (the common case), else None."""
        project_id = (where.get("project") or {}).get("id")
        if project_id is None or set(where) - {"project", "label", "issue"}:
            return None
        if where.get("label") or where.get("issue") or set(where["project"]) != {"id"}:
            return None
        return self.project_assets.get(project_id, [])

    def find_assets(self, where: Where) -> list[Asset]:
        with self.lock:
            where = _id_sets(where)
            whole = self._whole_project(where)
            if whole is not None:
                return [self.assets[i] for i in whole]
            project_id = (where.get("project") or {}).get("id")
            candidates: Iterable[Asset] = (
                self.assets.values()
                if project_id is None
                else (self.assets[i] for i in self.project_assets.get(project_id, []))
            )
            return [a for a in candidates if self._asset_matches(a, where)]

    def find_assets_page(self, where: Where, first: int, skip: int) -> list[Asset]:
        """``find_assets(where)[skip:skip + first]``, without listing a whole project first."""
        with self.lock:
            whole = self._whole_project(where)
            if whole is not None:
                return [self.assets[i] for i in whole[skip : skip + first]]
            return self.find_assets(where)[skip : skip + first]

    def count_assets(self, where: Where) -> int:
        with self.lock:
            whole = self._whole_project(where)
            return len(whole) if whole is not None else len(self.find_assets(where))

    def find_labels(self, where: Where) -> list[Label]:
        with self.lock:
            found = []
            for label in self.labels.values():
                if "id" in where and label.id != where["id"]:
                    continue
                if "idIn" in where and label.id not in where["idIn"]:
                    continue
                if not _project_matches(label.project_id, where):
                    continue
                if "typeIn" in where and label.label_type not in where["typeIn"]:
                    continue
                if "asset" in where and not self._asset_matches(
                    self.assets[label.asset_id], where["asset"]
                ):
                    continue
                found.append(label)
            return found

    def find_issues(self, where: Where) -> list[Issue]:
        with self.lock:
            found = []
            for issue in self.issues.values():
                if "id" in where and issue.id != where["id"]:
                    continue
                if not _project_matches(issue.project_id, where):
                    continue
                if "assetIn" in where and issue.asset_id not in where["assetIn"]:
                    continue
                if "status" in where and issue.status != where["status"]:
                    continue
                if "type" in where and issue.type != where["type"]:
                    continue
                if "asset" in where and not self._asset_matches(
                    self.assets[issue.asset_id], where["asset"]
                ):
                    continue
                found.append(issue)
            return found

    def find_projects(self, where: Where) -> list[Project]:
        with self.lock:
            if "id" in where:
                project = self.projects.get(where["id"])
                return [project] if project else []
            return list(self.projects.values())

    # ---- mutations -----------------------------------------------------------------------

    def append_labels(
        self, data: Mapping[str, Any], where: Where
    ) -> tuple[list[Label], list[PendingEvent]]:
        """Create labels (all or none) and return them with the webhook events they trigger."""
        label_type = data["labelType"]
        items = data["labelsData"]
        with self.lock:
            parsed: list[tuple[Asset, dict[str, Any], Mapping[str, Any]]] = []
            for index, item in enumerate(items):
                asset = self.assets.get(item["assetID"])
                if asset is None:
                    raise EmulatorError(
                        f"labelsData[{index}].assetID: asset {item['assetID']!r} does not exist"
                    )
                if not self._asset_matches(asset, where):
                    raise EmulatorError(
                        f"labelsData[{index}].assetID: asset {asset.id!r} is outside the "
                        f"`where` of the mutation ({dict(where)})"
                    )
                parsed.append((asset, _parse_json_response(item["jsonResponse"], index), item))

            created: list[Label] = []
            events: list[PendingEvent] = []
            for asset, json_response, item in parsed:
                if data.get("overwrite"):
                    replaced = {
                        lb.id for lb in self.asset_labels(asset) if lb.label_type == label_type
                    }
                    asset.label_ids = [i for i in asset.label_ids if i not in replaced]
                    for label_id in replaced:
                        del self.labels[label_id]
                label = Label(
                    id=self._new_id("label", self.labels),
                    asset_id=asset.id,
                    project_id=asset.project_id,
                    label_type=label_type,
                    json_response=json_response,
                    author_id=item.get("authorID") or VIEWER_ID,
                    created_at=now_iso(),
                    seconds_to_label=item.get("secondsToLabel"),
                    model_name=item.get("modelName"),
                    client_version=item.get("clientVersion"),
                )
                self.labels[label.id] = label
                asset.label_ids.append(label.id)
                asset.status = STATUS_AFTER_LABEL.get(label_type, asset.status)
                if label_type in STATUS_AFTER_LABEL:
                    asset.reworked = False
                asset.updated_at = label.created_at
                created.append(label)
                events.extend(self._label_events(label))
            self._touch()
            return created, events

    def _label_events(self, label: Label) -> list[PendingEvent]:
        event_type = EVENT_OF_LABEL_TYPE.get(label.label_type)
        if event_type is None:
            return []
        subject = SUBJECT_OF_LABEL_TYPE.get(label.label_type, "")
        events = []
        for hook in self.webhooks.values():
            if label.project_id not in hook.projects:
                continue
            if hook.event_matcher is not None:
                # an events plugin (eventMatcher) gets the kili-events envelope, not onSubmit
                if any(subject_matches(p, subject) for p in hook.event_matcher):
                    external = self.assets[label.asset_id].external_id
                    body = kili_event(subject, label, external)
                    events.append(PendingEvent(hook.name, hook.url, hook.header, body))
            elif event_type in hook.handler_types:
                body = legacy_event(event_type, label, self.next_run_id())
                events.append(PendingEvent(hook.name, hook.url, hook.header, body))
        return events

    def next_run_id(self) -> str:
        with self.lock:
            return self._new_id("run", {})

    def create_issues(self, issues: list[Mapping[str, Any]], where: Where) -> list[Issue]:
        """Create issues (all or none); each names a label (``labelID``) or an ``assetId``."""
        with self.lock:
            planned: list[tuple[Asset, Mapping[str, Any]]] = []
            for index, item in enumerate(issues):
                label_id = item.get("labelID")
                if label_id is not None:
                    label = self.labels.get(label_id)
                    if label is None:
                        raise EmulatorError(
                            f"issues[{index}].labelID: label {label_id!r} does not exist"
                        )
                    asset = self.assets[label.asset_id]
                elif item.get("assetId") is not None:
                    asset = self.asset(item["assetId"])
                else:
                    raise EmulatorError(f"issues[{index}]: give a labelID or an assetId")
                if not self._asset_matches(asset, where):
                    raise EmulatorError(
                        f"issues[{index}]: asset {asset.id!r} is outside the `where` of the "
                        f"mutation ({dict(where)})"
                    )
                planned.append((asset, item))
            created = []
            for asset, item in planned:
                issue = Issue(
                    id=self._new_id("issue", self.issues),
                    number=len(self.issues) + 1,
                    project_id=asset.project_id,
                    asset_id=asset.id,
                    label_id=item.get("labelID"),
                    object_mid=item.get("objectMid"),
                    type=item["type"],
                    status="OPEN",
                    text=item.get("text"),
                    created_at=now_iso(),
                )
                issue.updated_at = issue.created_at
                self.issues[issue.id] = issue
                created.append(issue)
            self._touch()
            return created

    def forget_issues(self, issue_ids: Iterable[str]) -> None:
        """Drop issues as if never saved (a lost write, see faults.py)."""
        with self.lock:
            for issue_id in issue_ids:
                self.issues.pop(issue_id, None)
            self._touch()

    def delete_assets(self, asset_ids: Iterable[str]) -> None:
        """Remove assets and their labels and issues (Kili's deleteManyFromDataset)."""
        with self.lock:
            for asset_id in list(asset_ids):
                asset = self.asset(asset_id)
                del self.assets[asset_id]
                self.project_assets[asset.project_id].remove(asset_id)
                for label_id in asset.label_ids:
                    self.labels.pop(label_id, None)
                for issue in [i for i in self.issues.values() if i.asset_id == asset_id]:
                    del self.issues[issue.id]
            self._touch()

    def send_back_to_queue(self, where: Where) -> dict[str, list[dict[str, Any]]]:
        """26.2.1+ semantics: per asset, succeeded / declined (still to label) / failed."""
        with self.lock:
            if not where:
                raise EmulatorError("sendAssetsBackToQueue needs a non-empty `where`")
            requested = list(where["idIn"]) if "idIn" in where else []
            matched = self.find_assets(where)
            outcome: dict[str, list[dict[str, Any]]] = {
                "succeeded": [],
                "declined": [],
                "failed": [],
            }
            matched_ids = {a.id for a in matched}
            for asset_id in requested:
                if asset_id not in matched_ids:
                    outcome["failed"].append(
                        {"assetId": asset_id, "externalId": None, "details": "asset not found"}
                    )
            for asset in matched:
                ref = {"assetId": asset.id, "externalId": asset.external_id}
                if asset.status in ("TODO", "ONGOING"):
                    outcome["declined"].append(ref)  # still to be labeled: nothing to send back
                    continue
                self._mark_sent_back(asset)
                outcome["succeeded"].append(ref)
            self.sent_back.extend(requested or [a.id for a in matched])
            self._touch()
            return outcome

    def update_issue(self, where: Where, data: Mapping[str, Any]) -> Issue:
        """``updatePropertiesInIssue``: update_issue_status and issues.solve/cancel/open."""
        with self.lock:
            found = self.find_issues(where)
            if "id" not in where or len(found) != 1:
                raise EmulatorError(f"updatePropertiesInIssue: no issue matches {dict(where)}")
            issue = found[0]
            status = data.get("status")
            if status is not None:
                if status not in ISSUE_STATUSES:
                    raise EmulatorError(f"issue status {status!r} is not one of {ISSUE_STATUSES}")
                issue.status = status
            issue.updated_at = now_iso()
            self._touch()
            return issue

    def add_to_review(self, where: Where) -> dict[str, list[dict[str, Any]]]:
        """``addAssetsToReview`` (the SDK's add_to_review and assets.move_to_next_step).

        Legacy workflow: a labeled asset goes TO_REVIEW. Workflows v2 and v3: the asset moves
        to its project's next step (TO_DO; in V3 the step after a group's last one is the next
        group's labeling step). An asset without a submitted label, or already at the last
        step, is declined; an unknown id fails.
        """
        with self.lock:
            outcome = self._outcome_for(where)
            for asset in self.find_assets(where):
                ref = {"assetId": asset.id, "externalId": asset.external_id}
                steps = self.projects[asset.project_id].steps
                if self.latest_label(asset) is None or (steps and asset.step >= len(steps) - 1):
                    outcome["declined"].append(ref)
                    continue
                if steps:
                    asset.step += 1
                    asset.reworked = False
                # (a V3 asset entering the next group's labeling step is to be labeled again)
                project = self.projects[asset.project_id]
                labeling = bool(steps) and project.step_type(asset.step) == "DEFAULT"
                asset.status = "TODO" if labeling else "TO_REVIEW"
                asset.updated_at = now_iso()
                outcome["succeeded"].append(ref)
                self.added_to_review.append(asset.id)
            self._touch()
            return outcome

    def _outcome_for(self, where: Where) -> dict[str, list[dict[str, Any]]]:
        """An empty asset-action outcome, with the requested ids that match nothing failed."""
        if not where:
            raise EmulatorError("asset actions need a non-empty `where`")
        outcome: dict[str, list[dict[str, Any]]] = {"succeeded": [], "declined": [], "failed": []}
        matched = {a.id for a in self.find_assets(where)}
        for asset_id in where.get("idIn") or []:
            if asset_id not in matched:
                outcome["failed"].append(
                    {"assetId": asset_id, "externalId": None, "details": "asset not found"}
                )
        return outcome

    def update_assets(
        self, where_array: list[Mapping[str, Any]], data_array: list[Mapping[str, Any]]
    ) -> list[Asset]:
        """``updatePropertiesInAssets``: per asset, the given properties replace the old ones.

        ``jsonMetadata`` is replaced whole, as Kili does; merging is the SDK's ``add_metadata``
        (it reads the metadata, updates the dict and writes it back).
        """
        with self.lock:
            if len(where_array) != len(data_array):
                raise EmulatorError("updatePropertiesInAssets: where and data lengths differ")
            planned: list[tuple[Asset, Mapping[str, Any]]] = []
            for index, (where, data) in enumerate(zip(where_array, data_array, strict=True)):
                found = self.find_assets(where)
                if len(found) != 1:
                    raise EmulatorError(f"where[{index}]: no single asset matches {dict(where)}")
                metadata = data.get("jsonMetadata")
                if metadata is not None:
                    try:
                        parsed = json.loads(metadata)
                    except json.JSONDecodeError as err:
                        raise EmulatorError(
                            f"data[{index}].jsonMetadata is not valid JSON: {err}"
                        ) from None
                    if not isinstance(parsed, dict):
                        raise EmulatorError(f"data[{index}].jsonMetadata must be a JSON object")
                planned.append((found[0], data))
            for asset, data in planned:
                if data.get("jsonMetadata") is not None:
                    asset.json_metadata = json.loads(data["jsonMetadata"])
                if data.get("priority") is not None:
                    asset.priority = data["priority"]
                if data.get("externalId") is not None:
                    asset.external_id = data["externalId"]
                asset.updated_at = now_iso()
            self._touch()
            return [asset for asset, _ in planned]

    def send_back_to_queue_legacy(self, where: Where) -> str:
        """kili <= 26.2.0 ``sendBackAssetsToQueue``: returns the project id."""
        with self.lock:
            matched = self.find_assets(where)
            if not matched:
                raise EmulatorError(f"sendBackAssetsToQueue: no asset matches {dict(where)}")
            project_ids = {a.project_id for a in matched}
            if len(project_ids) != 1:
                raise EmulatorError("sendBackAssetsToQueue: assets span several projects")
            for asset in matched:
                self._mark_sent_back(asset)
            self.sent_back.extend(a.id for a in matched)
            self._touch()
            return project_ids.pop()

    def _mark_sent_back(self, asset: Asset) -> None:
        project = self.projects[asset.project_id]
        if project.steps:
            # workflow v2: back to the first step; v3: to the labeling step of its group
            asset.step = project.labeling_step(asset.step)
            asset.reworked = True
        asset.status = "ONGOING"
        asset.updated_at = now_iso()
        latest = self.latest_label(asset)
        if latest is not None:
            latest.is_sent_back_to_queue = True

    def upsert_webhook(self, data: Mapping[str, Any], *, create: bool) -> str:
        name = data["pluginName"]
        problem = loopback_url_problem(data["webhookUrl"])
        if problem:
            raise EmulatorError(problem)
        with self.lock:
            existing = self.webhooks.get(name)
            if create and existing is not None:
                raise EmulatorError(f'an entity Plugin already exists with value "{name}"')
            if not create and existing is None:
                raise EmulatorError(f'plugin "{name}" does not exist')
            handler_types = tuple(data.get("handlerTypes") or DEFAULT_HANDLER_TYPES)
            matcher = data.get("eventMatcher")
            self.webhooks[name] = Webhook(
                name=name,
                url=data["webhookUrl"],
                header=data.get("header"),
                handler_types=handler_types,
                event_matcher=tuple(matcher) if matcher is not None else None,
                projects=existing.projects if existing else [],
            )
            self._touch()
            verb = "created" if create else "updated"
            return f"Webhook {name} successfully {verb}"

    def set_activation(self, plugin_name: str, project_id: str, *, active: bool) -> str:
        with self.lock:
            hook = self.webhooks.get(plugin_name)
            if hook is None:
                raise EmulatorError(f'plugin "{plugin_name}" does not exist')
            self.project(project_id)
            if active:
                if project_id in hook.projects:
                    raise EmulatorError(
                        f'an entity Project already exists with value "{project_id}" '
                        f'(plugin "{plugin_name}" is already activated on it)'
                    )
                hook.projects.append(project_id)
                self._touch()
                return f"Plugin with name {plugin_name} successfully activated"
            if project_id not in hook.projects:
                raise EmulatorError(
                    f'plugin "{plugin_name}" is not activated on project "{project_id}"'
                )
            hook.projects.remove(project_id)
            self._touch()
            return f"Plugin with name {plugin_name} successfully deactivated"


def _flatten_groups(groups: Iterable[tuple[str, Iterable[str]]]) -> tuple[list[str], list[str]]:
    """V3 ``step_groups`` -> (step names, group name of each step), checked."""
    names: list[str] = []
    owners: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(groups):
        if not isinstance(item, tuple | list) or len(item) != 2 or not isinstance(item[0], str):
            raise EmulatorError(f"step_groups[{index}]: give (group name, step names)")
        group, steps = item[0], list(item[1])
        if not group or group in seen:
            raise EmulatorError(f"step_groups[{index}]: group name {group!r} empty or repeated")
        if not steps or len(set(steps)) != len(steps):
            raise EmulatorError(f"step_groups[{index}] ({group}): give distinct step names")
        seen.add(group)
        names.extend(steps)
        owners.extend([group] * len(steps))
    if len(names) < 2:
        raise EmulatorError("step_groups: give at least two steps in all")
    return names, owners


def _id_sets(where: Where) -> Where:
    """``where`` with its id lists as sets: an ``idNotIn`` of 20,000 ids is one lookup each."""
    if "idIn" not in where and "idNotIn" not in where:
        return where
    out = dict(where)
    for key in ("idIn", "idNotIn"):
        if key in out and out[key] is not None:
            out[key] = frozenset(out[key])
    return out


def _project_matches(project_id: str, where: Where) -> bool:
    project_where = where.get("project") or {}
    return "id" not in project_where or project_where["id"] == project_id


def _parse_json_response(raw: str, index: int) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise EmulatorError(f"labelsData[{index}].jsonResponse is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise EmulatorError(f"labelsData[{index}].jsonResponse must be a JSON object")
    return value


def webhook_label(label: Label) -> dict[str, Any]:
    """The ``label`` of a legacy webhook event: jsonResponse as a dict, plus ``search``."""
    total, by_object = count_annotations(label.json_response)
    return {
        "id": label.id,
        "labelType": label.label_type,
        "jsonResponse": json.loads(json.dumps(label.json_response)),  # a copy
        "authorId": label.author_id,
        "numberOfAnnotations": total,
        "secondsToLabel": label.seconds_to_label,
        "modelName": label.model_name,
        "isSentBackToQueue": label.is_sent_back_to_queue,
        "createdAt": label.created_at,
        "updatedAt": label.created_at,
        "version": 0,
        "search": {"numberOfAnnotations": total, "numberOfAnnotationsByObject": by_object},
    }


def legacy_event(event_type: str, label: Label, run_id: str) -> dict[str, Any]:
    """The body Kili POSTs to a webhook for an onSubmit/onReview handler."""
    return {
        "eventType": event_type,
        "logPayload": {"runId": run_id, "projectId": label.project_id},
        "payload": {"label": webhook_label(label), "asset_id": label.asset_id},
    }


def subject_matches(pattern: str, subject: str) -> bool:
    """kili-events' matcher: dot-separated names, ``*`` standing for one or more names."""
    want, have = pattern.split("."), subject.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(have)
        if want[i] == "*":
            return any(match(i + 1, k) for k in range(j + 1, len(have) + 1))
        return j < len(have) and want[i] == have[j] and match(i + 1, j + 1)

    return match(0, 0)


def kili_event(subject: str, label: Label, external_id: str) -> dict[str, Any]:
    """The body Kili POSTs to an events plugin: the envelope, payload without jsonResponse."""
    return {
        "event": subject,
        "organizationId": ORGANIZATION_ID,
        "projectId": label.project_id,
        "userId": label.author_id,
        "payload": {"assetId": label.asset_id, "labelId": label.id, "externalId": external_id},
    }
