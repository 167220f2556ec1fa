"""Root resolvers: GraphQL arguments in, views of :mod:`.state` records out.

graphql-core's default resolver reads dict keys and calls callables it finds there, so views
are dicts whose nested objects (an asset's labels, a label's asset) are built lazily.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLResolveInfo

from .faults import Faults
from .state import (
    MAX_PAGE_SIZE,
    VIEWER_EMAIL,
    VIEWER_ID,
    Asset,
    EmulatorError,
    EmulatorState,
    Issue,
    Label,
    PendingEvent,
    Project,
    Where,
    count_annotations,
)

T = TypeVar("T")
View = dict[str, Any]
Resolver = Callable[..., Any]

# workflow v2: the status of the asset's current step, from the emulator's asset status
STEP_STATUS = {
    "TODO": "TO_DO",
    "ONGOING": "DOING",
    "LABELED": "DONE",
    "TO_REVIEW": "TO_DO",
    "REVIEWED": "DONE",
}


def step_status(asset: Asset) -> str:
    """Workflows v2/v3: the asset's status in its current step (REWORK once sent back)."""
    if asset.reworked and asset.status in ("TODO", "ONGOING"):
        return "REWORK"
    return STEP_STATUS[asset.status]


def _group_id(project: Project, group: str) -> str:
    return f"{project.id}-group-{list(dict.fromkeys(project.step_groups)).index(group)}"


API_KEY_EXPIRY = "2099-12-31T23:59:59.000Z"


def page(items: Sequence[T], first: object, skip: object) -> list[T]:
    """Kili's first/skip pagination, with the same bounds as its ``PageSize``."""
    first, skip = page_bounds(first, skip)
    return list(items[skip : skip + first])


def page_bounds(first: object, skip: object) -> tuple[int, int]:
    """``first`` and ``skip`` checked against the bounds of Kili's ``PageSize``."""
    if not isinstance(first, int) or isinstance(first, bool) or not 0 <= first <= MAX_PAGE_SIZE:
        raise EmulatorError(
            f"`first` must be an integer between 0 and {MAX_PAGE_SIZE}, got {first!r}"
        )
    if not isinstance(skip, int) or skip < 0:
        raise EmulatorError(f"`skip` must be a non-negative integer, got {skip!r}")
    return first, skip


def user_view(user_id: str) -> View:
    email = VIEWER_EMAIL if user_id == VIEWER_ID else f"{user_id}@example.com"
    return {"id": user_id, "email": email, "firstname": "Emulator", "lastname": user_id}


class Views:
    """Builds the dicts graphql-core resolves fields from."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def project(self, project: Project) -> View:
        with self.state.lock:
            count = sum(1 for a in self.state.assets.values() if a.project_id == project.id)
        return {
            "id": project.id,
            "title": project.title,
            "description": project.description,
            "inputType": project.input_type,
            "jsonInterface": json.dumps(project.json_interface),
            "steps": [
                {
                    "id": f"{project.id}-step-{i}",
                    "name": name,
                    "type": project.step_type(i),
                    "stepGroupId": _group_id(project, project.step_groups[i])
                    if project.step_groups
                    else None,
                }
                for i, name in enumerate(project.steps)
            ],
            "stepGroups": [
                {"id": _group_id(project, name), "name": name}
                for name in dict.fromkeys(project.step_groups)
            ],
            "workflowVersion": project.workflow_version,
            "createdAt": project.created_at,
            "numberOfAssets": count,
            "consensusTotCoverage": 0,
            "minConsensusSize": 1,
            "reviewCoverage": 0,
            "roles": [
                {"id": f"{project.id}-role-1", "role": "ADMIN", "user": user_view(VIEWER_ID)}
            ],
            "geospatialSettings": None,
            "dataConnections": [],
        }

    def asset(self, asset: Asset) -> View:
        state = self.state
        resolution = (
            {"width": asset.resolution[0], "height": asset.resolution[1]}
            if asset.resolution
            else None
        )

        def labels(_info: GraphQLResolveInfo) -> list[View]:
            return [self.label(lb) for lb in state.asset_labels(asset)]

        def latest_label(_info: GraphQLResolveInfo) -> View | None:
            latest = state.latest_label(asset)
            return self.label(latest) if latest else None

        def latest_labels(_info: GraphQLResolveInfo) -> list[View]:
            return [self.label(lb) for lb in state.latest_labels(asset)]

        with state.lock:
            project = state.project(asset.project_id)
        current_step = (
            {
                "id": f"{asset.project_id}-step-{asset.step}",
                "name": project.steps[asset.step],
                "status": step_status(asset),
                "type": project.step_type(asset.step),
                "stepGroupName": project.step_groups[asset.step] if project.step_groups else None,
            }
            if project.steps
            else None
        )
        return {
            "id": asset.id,
            "externalId": asset.external_id,
            "currentStep": current_step,
            "content": asset.content,
            "jsonContent": "",
            "jsonMetadata": lambda _info: json.dumps(asset.json_metadata),
            "status": asset.status,
            "skipped": False,
            "isHoneypot": False,
            "priority": asset.priority,
            "createdAt": asset.created_at,
            "updatedAt": asset.updated_at,
            "resolution": resolution,
            "pageResolutions": [],
            "project": {"id": asset.project_id},
            "labels": labels,
            "latestLabel": latest_label,
            "latestLabels": latest_labels,
        }

    def label(self, label: Label) -> View:
        def label_of(_info: GraphQLResolveInfo) -> View:
            return self.asset(self.state.asset(label.asset_id))

        def is_latest_for_user(_info: GraphQLResolveInfo) -> bool:
            with self.state.lock:
                return label in self.state.latest_labels(self.state.asset(label.asset_id))

        def is_last_for_step(_info: GraphQLResolveInfo) -> bool:
            with self.state.lock:
                return self.state.latest_label(self.state.asset(label.asset_id)) is label

        def number_of_annotations(_info: GraphQLResolveInfo) -> int:
            return count_annotations(label.json_response)[0]

        # fields that cost more than a lookup are callables: a page only pays for what it asks
        return {
            "id": label.id,
            "assetId": label.asset_id,
            "labelOf": label_of,
            "labelType": label.label_type,
            "jsonResponse": label.json_text,
            "jsonResponseUrl": None,
            "author": user_view(label.author_id),
            "authorId": label.author_id,
            "createdAt": label.created_at,
            "updatedAt": label.created_at,
            "secondsToLabel": label.seconds_to_label,
            "modelName": label.model_name,
            "clientVersion": label.client_version,
            "isLatestLabelForUser": is_latest_for_user,
            "isLastForStep": is_last_for_step,
            "isSentBackToQueue": label.is_sent_back_to_queue,
            "numberOfAnnotations": number_of_annotations,
            "version": 0,
        }

    def issue(self, issue: Issue) -> View:
        comments = (
            [
                {
                    "id": f"{issue.id}-comment-1",
                    "text": issue.text,
                    "createdAt": issue.created_at,
                    "authorId": VIEWER_ID,
                    "authorIdUser": VIEWER_ID,
                }
            ]
            if issue.text is not None
            else []
        )
        return {
            "id": issue.id,
            "issueNumber": issue.number,
            "type": issue.type,
            "status": issue.status,
            "objectMid": issue.object_mid,
            "labelId": issue.label_id,
            "assetId": issue.asset_id,
            "projectId": issue.project_id,
            "createdAt": issue.created_at,
            "updatedAt": issue.updated_at or issue.created_at,
            "hasBeenSeen": False,
            "author": user_view(VIEWER_ID),
            "comments": comments,
        }


def build_root(
    state: EmulatorState,
    api_key: str,
    deliver: Callable[[list[PendingEvent]], None],
    faults: Faults | None = None,
) -> dict[str, Resolver]:
    """The root value: one callable per Query/Mutation field of the SDL.

    ``faults``: the data faults (pages served wrong, writes lost) the resolvers obey.
    """
    views = Views(state)
    injected = faults if faults is not None else Faults()

    def viewer(_info: GraphQLResolveInfo) -> View:
        return user_view(VIEWER_ID)

    def api_keys(
        _info: GraphQLResolveInfo, where: Where, first: object, skip: object
    ) -> list[View]:
        keys = []
        if where.get("key", api_key) == api_key:
            keys.append(
                {
                    "id": "emulator-api-key",
                    "key": api_key,
                    "name": "kili-rules emulator",
                    "expiryDate": API_KEY_EXPIRY,
                    "createdAt": "2024-01-01T00:00:00.000Z",
                }
            )
        return page(keys, first, skip)

    def projects(
        _info: GraphQLResolveInfo, where: Where, first: object, skip: object
    ) -> list[View]:
        return [views.project(p) for p in page(state.find_projects(where), first, skip)]

    def count_projects(_info: GraphQLResolveInfo, where: Where) -> int:
        return len(state.find_projects(where))

    def assets(_info: GraphQLResolveInfo, where: Where, first: object, skip: object) -> list[View]:
        count, offset = page_bounds(first, skip)
        fault = injected.take_page("assets", offset)
        if fault is not None:
            if fault.before is not None:
                fault.before()  # the data changes between two pages
            if fault.serve_skip is not None:
                offset = fault.serve_skip  # another page than the one asked for
        return [views.asset(a) for a in state.find_assets_page(where, count, offset)]

    def count_assets(_info: GraphQLResolveInfo, where: Where) -> int:
        return max(0, state.count_assets(where) + injected.take_count("countAssets"))

    def labels(_info: GraphQLResolveInfo, where: Where, first: object, skip: object) -> list[View]:
        return [views.label(lb) for lb in page(state.find_labels(where), first, skip)]

    def count_labels(_info: GraphQLResolveInfo, where: Where) -> int:
        return len(state.find_labels(where))

    def issues(_info: GraphQLResolveInfo, where: Where, first: object, skip: object) -> list[View]:
        return [views.issue(i) for i in page(state.find_issues(where), first, skip)]

    def count_issues(_info: GraphQLResolveInfo, where: Where) -> int:
        return len(state.find_issues(where))

    def append_many_labels(_info: GraphQLResolveInfo, data: Where, where: Where) -> list[View]:
        created, events = state.append_labels(data, where)
        deliver(events)
        return [views.label(lb) for lb in created]

    def create_issues(_info: GraphQLResolveInfo, issues: list[Where], where: Where) -> list[View]:
        created = state.create_issues(issues, where)
        answer = [views.issue(i) for i in created]
        drop = min(injected.take_lost_write("createIssues"), len(created))
        if drop:  # answered in full, but the last `drop` issues are not kept
            state.forget_issues([i.id for i in created[len(created) - drop :]])
        return answer

    def send_assets_back_to_queue(_info: GraphQLResolveInfo, where: Where) -> View:
        return state.send_back_to_queue(where)

    def send_back_assets_to_queue(_info: GraphQLResolveInfo, where: Where) -> View:
        return {"id": state.send_back_to_queue_legacy(where)}

    def update_issue(_info: GraphQLResolveInfo, data: Where, where: Where) -> View:
        return {"id": state.update_issue(where, data).id}

    def add_assets_to_review(_info: GraphQLResolveInfo, where: Where) -> View:
        return state.add_to_review(where)

    def update_assets(
        _info: GraphQLResolveInfo, where: list[Where], data: list[Where]
    ) -> list[View]:
        return [{"id": a.id} for a in state.update_assets(where, data)]

    def create_webhook(_info: GraphQLResolveInfo, data: Where) -> str:
        return state.upsert_webhook(data, create=True)

    def update_webhook(_info: GraphQLResolveInfo, data: Where) -> str:
        return state.upsert_webhook(data, create=False)

    def activate(_info: GraphQLResolveInfo, where: Where) -> str:
        return state.set_activation(where["pluginName"], where["projectId"], active=True)

    def deactivate(_info: GraphQLResolveInfo, where: Where) -> str:
        return state.set_activation(where["pluginName"], where["projectId"], active=False)

    return {
        "viewer": viewer,
        "apiKeys": api_keys,
        "projects": projects,
        "countProjects": count_projects,
        "assets": assets,
        "countAssets": count_assets,
        "labels": labels,
        "countLabels": count_labels,
        "issues": issues,
        "countIssues": count_issues,
        "appendManyLabels": append_many_labels,
        "createIssues": create_issues,
        "sendAssetsBackToQueue": send_assets_back_to_queue,
        "sendBackAssetsToQueue": send_back_assets_to_queue,
        "updatePropertiesInIssue": update_issue,
        "addAssetsToReview": add_assets_to_review,
        "updatePropertiesInAssets": update_assets,
        "createWebhook": create_webhook,
        "updateWebhook": update_webhook,
        "activatePluginOnProject": activate,
        "deactivatePluginOnProject": deactivate,
    }
