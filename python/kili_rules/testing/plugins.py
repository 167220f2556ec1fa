"""Hosted plugins in the emulator: what ``kili.upload_plugin`` and its siblings call, and the runs.

``kili.upload_plugin(plugin_path=DIR)`` builds a zip of the folder's ``*.py`` files and its
``requirements.txt``, then calls ``createPlugin`` (which answers a signed upload URL), PUTs the
zip to that URL, calls ``createPluginRunner`` with the handler types or the event matcher it read
from ``main.py``, and polls ``getPluginRunnerStatus`` until ``ACTIVE`` or ``FAILED``.
``update_plugin`` does the same with ``generateUpdateUrl`` and ``updatePluginRunner``. The
emulator answers all of them, plus ``activatePluginOnProject`` / ``deactivatePluginOnProject``
(for a hosted plugin or a webhook), ``deletePlugin``, ``listPlugins``, ``getPluginBuildErrors``
and ``getPluginLogs``.

The upload URL is served by the emulator itself (``PUT /api/plugin-uploads/<token>``, loopback).
The "build" unpacks the archive into a private folder, checks that each ``requirements.txt``
line names a distribution installed in the emulator's interpreter (the emulator has no network
and installs nothing: the plugin runs with the interpreter the emulator runs in), and imports
``main.py`` in a fresh Python process, which must define ``PluginHandler``. A failed build is
``FAILED`` with its errors in ``getPluginBuildErrors``.

Runs: when a label is appended on a project where an ACTIVE hosted plugin is activated, the
emulator runs the plugin as Kili does, in a fresh Python process started from the unpacked
archive (``plugin_runner.py``): ``PluginHandler(kili, project_id)`` with a real ``kili`` client
bound to the emulator, then ``on_submit`` / ``on_review`` (legacy handlers) or ``on_event``
with the kili-events envelope (an event matcher). Runs happen one at a time, in order, after
``appendManyLabels`` has answered; each is limited to Kili's 60 s. What the plugin logs, and
a failed run's error, become the plugin's logs (``get_plugin_logs``).
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import logging
import os
import queue
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from graphql import GraphQLResolveInfo

from .state import (
    DEFAULT_HANDLER_TYPES,
    EVENT_OF_LABEL_TYPE,
    SUBJECT_OF_LABEL_TYPE,
    EmulatorError,
    EmulatorState,
    Label,
    kili_event,
    legacy_event,
    now_iso,
    subject_matches,
)

logger = logging.getLogger("kili_rules.testing")

UPLOAD_PATH = "/api/plugin-uploads/"
MAX_ARCHIVE_BYTES = 50 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
RUN_TIMEOUT = 60.0  # Kili's limit for one plugin run
BUILD_TIMEOUT = 60.0
RUNNER = Path(__file__).with_name("plugin_runner.py")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

Json = dict[str, Any]

PLUGIN_SDL = """
"An ISO-8601 date (the plugin logs' createdAt filter)."
scalar DateTime

enum PluginLogType { INFO WARNING ERROR }

type Plugin {
  id: ID!
  name: String!
  projectIds: [ID!]!
  createdAt: String!
  updatedAt: String!
  "DEPLOYING, ACTIVE or FAILED (a webhook is always ACTIVE)."
  status: String!
  handlerTypes: [PluginHandlerType!]
  eventMatcher: [String!]
}

type PluginBuildLog {
  content: String!
  createdAt: String!
  logType: PluginLogType!
  pluginName: String!
}

type PluginLogMetadata {
  assetId: ID
  labelId: ID
}

type PluginRunLog {
  content: String!
  createdAt: String!
  logType: PluginLogType!
  metadata: PluginLogMetadata!
  pluginName: String!
  projectId: ID!
  runId: ID!
}

input PluginNameData {
  pluginName: String!
}

input PluginRunnerData {
  pluginName: String!
  handlerTypes: [PluginHandlerType!]
  eventMatcher: [String!]
}

input PluginBuildErrorsData {
  pluginName: String!
  createdAt: DateTime
  limit: Int
  skip: Int
}

input PluginLogsData {
  projectId: ID!
  pluginName: String!
  createdAt: DateTime
  limit: Int
  skip: Int
}

extend type Query {
  "kili.get_plugin_status, and upload_plugin's polling"
  getPluginRunnerStatus(name: String!): String!
  getPluginBuildErrors(data: PluginBuildErrorsData!): [PluginBuildLog!]!
  getPluginLogs(data: PluginLogsData!): [PluginRunLog!]!
  listPlugins: [Plugin!]!
}

extend type Mutation {
  "upload_plugin: answers the signed URL the archive is PUT to"
  createPlugin(data: PluginNameData!): String!
  "update_plugin: a new upload URL for an existing plugin"
  generateUpdateUrl(data: PluginNameData!): String!
  createPluginRunner(data: PluginRunnerData!): String!
  updatePluginRunner(data: PluginRunnerData!): String!
  deletePlugin(where: PluginNameData!): String!
}
"""


@dataclass
class PluginRun:
    """One run of a hosted plugin on one event."""

    plugin: str
    project_id: str
    run_id: str
    event: str
    asset_id: str
    label_id: str
    ok: bool
    error: str | None
    seconds: float
    peak_rss_mb: float | None
    output: str


@dataclass
class HostedPlugin:
    name: str
    id: str
    created_at: str
    updated_at: str
    status: str = "NOT_UPLOADED"
    upload_token: str | None = None
    archive: bytes | None = None
    folder: Path | None = None
    handler_types: tuple[str, ...] | None = None
    event_matcher: tuple[str, ...] | None = None
    projects: list[str] = field(default_factory=list)
    build_logs: list[Json] = field(default_factory=list)
    logs: list[Json] = field(default_factory=list)


@dataclass(frozen=True)
class _Job:
    plugin: str
    project_id: str
    run_id: str
    mode: str  # "legacy" or "event"
    body: Json
    asset_id: str
    label_id: str


def _log(content: str, log_type: str = "INFO") -> Json:
    return {"content": content, "createdAt": now_iso(), "logType": log_type}


def _page(items: list[Json], limit: object, skip: object) -> list[Json]:
    first = limit if isinstance(limit, int) and limit >= 0 else 100
    offset = skip if isinstance(skip, int) and skip >= 0 else 0
    return items[offset : offset + first]


def _since(items: list[Json], created_at: object) -> list[Json]:
    if not isinstance(created_at, str) or not created_at:
        return items
    # ISO-8601 UTC strings of one shape compare in time order
    return [item for item in items if item["createdAt"] >= created_at]


def unpack_archive(data: bytes, folder: Path) -> list[str]:
    """Unpack a plugin zip into ``folder``; refuse paths out of it and oversized content."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise EmulatorError(f"the uploaded archive is not a zip file: {err}") from None
    names = []
    total = 0
    with archive:
        for info in archive.infolist():
            path = PurePosixPath(info.filename)
            if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
                raise EmulatorError(f"the archive holds a path out of its folder: {info.filename}")
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise EmulatorError(f"the archive unpacks to over {MAX_UNPACKED_BYTES} bytes")
            if info.is_dir():
                continue
            target = folder.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            names.append(info.filename)
    return sorted(names)


def requirement_problems(requirements: Path) -> list[str]:
    """The requirements.txt lines naming a distribution the interpreter does not have."""
    problems = []
    for number, raw in enumerate(requirements.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = _REQUIREMENT_NAME.match(line)
        if match is None:
            problems.append(f"requirements.txt line {number}: cannot read {raw.strip()!r}")
            continue
        name = match.group(1)
        try:
            metadata.distribution(name)
            continue
        except metadata.PackageNotFoundError:
            pass
        # a package linked into the environment (no dist-info) still counts when importable
        if importlib.util.find_spec(name.replace("-", "_").replace(".", "_")) is None:
            problems.append(
                f"requirements.txt line {number}: {name} is not installed in the emulator's "
                f"interpreter ({sys.executable}); the emulator installs nothing"
            )
    return problems


class PluginHost:
    """The hosted plugins of one emulator, their builds and their runs."""

    def __init__(
        self,
        state: EmulatorState,
        endpoint: Callable[[], str],
        base_url: Callable[[], str],
        api_key: str,
    ) -> None:
        self.state = state
        self._endpoint = endpoint
        self._base_url = base_url
        self._api_key = api_key
        self.plugins: dict[str, HostedPlugin] = {}
        self.runs: list[PluginRun] = []
        self._ids = itertools.count(1)  # never reused, even after deletePlugin
        self._root = Path(tempfile.mkdtemp(prefix="kili-emulator-plugins-"))
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._current: subprocess.Popen[str] | None = None
        self._closed = False
        self._lock = threading.Lock()

    # ---- the GraphQL side ----------------------------------------------------------------

    def _plugin(self, name: str) -> HostedPlugin:
        plugin = self.plugins.get(name)
        if plugin is None:
            raise EmulatorError(f'plugin "{name}" does not exist')
        return plugin

    def _upload_url(self, plugin: HostedPlugin) -> str:
        token = secrets.token_hex(16)
        plugin.upload_token = token
        # a signed URL: the SDK cuts it at "&id=" and PUTs the zip to the rest
        return f"{self._base_url()}{UPLOAD_PATH}{token}?pluginName={plugin.name}&id={token}"

    def create_plugin(self, name: str) -> str:
        with self.state.lock:
            if name in self.plugins or name in self.state.webhooks:
                raise EmulatorError(f'an entity Plugin already exists with value "{name}"')
            stamp = now_iso()
            plugin = HostedPlugin(
                name=name, id=f"plugin-{next(self._ids)}", created_at=stamp, updated_at=stamp
            )
            self.plugins[name] = plugin
            url = self._upload_url(plugin)
            self.state.changed.notify_all()
            return url

    def update_url(self, name: str) -> str:
        with self.state.lock:
            return self._upload_url(self._plugin(name))

    def receive_upload(self, path: str, body: bytes, content_type: str | None) -> tuple[int, Json]:
        """The PUT of an archive to an upload URL: (HTTP status, JSON body)."""
        token = path[len(UPLOAD_PATH) :]
        if (content_type or "").split(";")[0].strip() != "application/zip":
            return 415, {"error": f"expected Content-Type application/zip, got {content_type!r}"}
        if len(body) > MAX_ARCHIVE_BYTES:
            return 413, {"error": f"archive over {MAX_ARCHIVE_BYTES} bytes"}
        with self.state.lock:
            for plugin in self.plugins.values():
                if plugin.upload_token is not None and secrets.compare_digest(
                    plugin.upload_token, token
                ):
                    plugin.archive = body
                    plugin.upload_token = None  # one upload per URL, as a signed URL
                    plugin.status = "UPLOADED"
                    self.state.changed.notify_all()
                    return 200, {"uploaded": plugin.name, "bytes": len(body)}
        return 403, {"error": "unknown or already used upload URL"}

    def create_runner(self, data: Mapping[str, Any], *, update: bool) -> str:
        name = data["pluginName"]
        with self.state.lock:
            plugin = self._plugin(name)
            if plugin.archive is None:
                raise EmulatorError(
                    f'plugin "{name}": no archive was uploaded to the URL '
                    f"{'generateUpdateUrl' if update else 'createPlugin'} answered"
                )
            handler_types = data.get("handlerTypes")
            matcher = data.get("eventMatcher")
            if handler_types and matcher:
                raise EmulatorError("a plugin has handlerTypes or an eventMatcher, not both")
            plugin.handler_types = tuple(handler_types) if handler_types else None
            plugin.event_matcher = tuple(matcher) if matcher else None
            plugin.status = "DEPLOYING"
            plugin.updated_at = now_iso()
            archive = plugin.archive
            plugin.archive = None
            self.state.changed.notify_all()
        builder = threading.Thread(
            target=self._build, args=(name, archive), name=f"emulator-build-{name}", daemon=True
        )
        builder.start()
        verb = "updated" if update else "created"
        return f"Plugin runner for {name} {verb}: deploying"

    def _build(self, name: str, archive: bytes) -> None:
        folder = Path(tempfile.mkdtemp(prefix="build-", dir=self._root))
        logs: list[Json] = []
        ok = False
        try:
            files = unpack_archive(archive, folder)
            logs.append(_log(f"unpacked {len(files)} file(s): {', '.join(files)}"))
            if "main.py" not in files:
                raise EmulatorError("the archive has no main.py")
            problems = []
            if (folder / "requirements.txt").is_file():
                problems = requirement_problems(folder / "requirements.txt")
            logs.extend(_log(p, "ERROR") for p in problems)
            if not problems:
                ok = self._import_check(folder, logs)
        except (EmulatorError, OSError, UnicodeDecodeError) as err:
            logs.append(_log(str(err), "ERROR"))
        with self.state.lock:
            plugin = self.plugins.get(name)
            if plugin is None:  # deleted while building
                shutil.rmtree(folder, ignore_errors=True)
                return
            for entry in logs:
                entry["pluginName"] = name
            plugin.build_logs.extend(logs)
            if ok:
                old, plugin.folder = plugin.folder, folder
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
                plugin.status = "ACTIVE"
            else:
                shutil.rmtree(folder, ignore_errors=True)
                plugin.status = "FAILED"
            plugin.updated_at = now_iso()
            self.state.changed.notify_all()

    def _import_check(self, folder: Path, logs: list[Json]) -> bool:
        """Import main.py in a fresh interpreter: it must define PluginHandler."""
        argv = [sys.executable, str(RUNNER), "--check", str(folder)]
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT, cwd=folder
            )
        except subprocess.TimeoutExpired:
            logs.append(_log(f"importing main.py took over {BUILD_TIMEOUT} s", "ERROR"))
            return False
        if proc.returncode != 0:
            tail = (proc.stderr.strip() or proc.stdout.strip() or "no output")[-4000:]
            logs.append(_log(f"importing main.py failed: {tail}", "ERROR"))
            return False
        logs.append(_log("main.py imported: PluginHandler found"))
        return True

    def status(self, name: str) -> str:
        with self.state.lock:
            if name in self.plugins:
                return self.plugins[name].status
            if name in self.state.webhooks:
                return "ACTIVE"
            raise EmulatorError(f'plugin "{name}" does not exist')

    def build_errors(self, data: Mapping[str, Any]) -> list[Json]:
        with self.state.lock:
            logs = list(self._plugin(data["pluginName"]).build_logs)
        errors = [entry for entry in logs if entry["logType"] == "ERROR"]
        return _page(_since(errors, data.get("createdAt")), data.get("limit"), data.get("skip"))

    def run_logs(self, data: Mapping[str, Any]) -> list[Json]:
        with self.state.lock:
            self.state.project(data["projectId"])
            logs = [
                entry
                for entry in self._plugin(data["pluginName"]).logs
                if entry["projectId"] == data["projectId"]
            ]
        return _page(_since(logs, data.get("createdAt")), data.get("limit"), data.get("skip"))

    def list_plugins(self) -> list[Json]:
        with self.state.lock:
            hosted = [
                {
                    "id": p.id,
                    "name": p.name,
                    "projectIds": list(p.projects),
                    "createdAt": p.created_at,
                    "updatedAt": p.updated_at,
                    "status": p.status,
                    "handlerTypes": list(p.handler_types) if p.handler_types else None,
                    "eventMatcher": list(p.event_matcher) if p.event_matcher else None,
                }
                for p in self.plugins.values()
            ]
            hooks = [
                {
                    "id": f"webhook-{h.name}",
                    "name": h.name,
                    "projectIds": list(h.projects),
                    "createdAt": "",
                    "updatedAt": "",
                    "status": "ACTIVE",
                    "handlerTypes": list(h.handler_types),
                    "eventMatcher": list(h.event_matcher) if h.event_matcher else None,
                }
                for h in self.state.webhooks.values()
            ]
        return hosted + hooks

    def set_activation(self, name: str, project_id: str, *, active: bool) -> str | None:
        """Activate a hosted plugin; None when ``name`` is no hosted plugin (a webhook then)."""
        with self.state.lock:
            plugin = self.plugins.get(name)
            if plugin is None:
                return None
            self.state.project(project_id)
            if active:
                if project_id in plugin.projects:
                    raise EmulatorError(
                        f'an entity Project already exists with value "{project_id}" '
                        f'(plugin "{name}" is already activated on it)'
                    )
                plugin.projects.append(project_id)
                self.state.changed.notify_all()
                return f"Plugin with name {name} successfully activated"
            if project_id not in plugin.projects:
                raise EmulatorError(f'plugin "{name}" is not activated on project "{project_id}"')
            plugin.projects.remove(project_id)
            self.state.changed.notify_all()
            return f"Plugin with name {name} successfully deactivated"

    def delete(self, name: str) -> str | None:
        with self.state.lock:
            plugin = self.plugins.pop(name, None)
            if plugin is None:
                return None
            if plugin.folder is not None:
                shutil.rmtree(plugin.folder, ignore_errors=True)
            self.state.changed.notify_all()
            return f"Plugin {name} successfully deleted"

    # ---- runs ----------------------------------------------------------------------------

    def on_labels(self, label_ids: list[str]) -> None:
        """Queue the runs the new labels trigger on ACTIVE hosted plugins."""
        jobs = []
        with self.state.lock:
            for label_id in label_ids:
                label = self.state.labels.get(label_id)
                if label is not None:
                    jobs.extend(self._jobs_for(label))
        for job in jobs:
            self._submit(job)

    def _jobs_for(self, label: Label) -> list[_Job]:
        event_type = EVENT_OF_LABEL_TYPE.get(label.label_type)
        subject = SUBJECT_OF_LABEL_TYPE.get(label.label_type)
        if event_type is None or subject is None:
            return []
        jobs = []
        for plugin in self.plugins.values():
            if plugin.status != "ACTIVE" or label.project_id not in plugin.projects:
                continue
            run_id = self.state.next_run_id()
            if plugin.event_matcher is not None:
                if not any(subject_matches(p, subject) for p in plugin.event_matcher):
                    continue
                external = self.state.assets[label.asset_id].external_id
                mode, body = "event", kili_event(subject, label, external)
            else:
                # no handlerTypes sent (an old SDK's upload): the emulator's webhook default
                if event_type not in (plugin.handler_types or DEFAULT_HANDLER_TYPES):
                    continue
                mode, body = "legacy", legacy_event(event_type, label, run_id)
            jobs.append(
                _Job(plugin.name, label.project_id, run_id, mode, body, label.asset_id, label.id)
            )
        return jobs

    def _submit(self, job: _Job) -> None:
        with self._lock:
            if self._closed:
                return
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="kili-emulator-plugin-runs", daemon=True
                )
                self._worker.start()
            self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                run = self._run(job)
            except Exception as err:  # the worker must survive whatever a run does
                logger.exception("emulator: plugin run failed to start")
                run = PluginRun(
                    job.plugin,
                    job.project_id,
                    job.run_id,
                    str(job.body.get("event") or job.body.get("eventType")),
                    job.asset_id,
                    job.label_id,
                    False,
                    f"{type(err).__name__}: {err}",
                    0.0,
                    None,
                    "",
                )
            self._record(job, run)

    def _run(self, job: _Job) -> PluginRun:
        with self.state.lock:
            plugin = self.plugins.get(job.plugin)
            folder = plugin.folder if plugin is not None else None
        event_name = str(job.body.get("event") or job.body.get("eventType"))
        if folder is None:
            raise RuntimeError(f'plugin "{job.plugin}" has no build to run')
        argv = [
            sys.executable,
            str(RUNNER),
            str(folder),
            self._endpoint(),
            self._api_key,
            job.project_id,
            job.mode,
        ]
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        started = time.monotonic()
        with self._lock:
            if self._closed:
                raise RuntimeError("the emulator stopped before the run")
            proc = subprocess.Popen(
                argv,
                cwd=folder,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self._current = proc
        try:
            out, err = proc.communicate(json.dumps(job.body), timeout=RUN_TIMEOUT)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            timed_out = True
        finally:
            with self._lock:
                self._current = None
        seconds = time.monotonic() - started
        result: Json = {}
        for line in reversed(out.strip().splitlines()):
            try:
                candidate = json.loads(line)
            except ValueError:
                continue
            if isinstance(candidate, dict) and "kili_rules_run" in candidate:
                result = candidate["kili_rules_run"]
                break
        if timed_out:
            error: str | None = f"the run took over {RUN_TIMEOUT} s and was stopped"
        elif proc.returncode != 0 or not result:
            error = result.get("error") or (
                f"the plugin process exited with code {proc.returncode}: "
                + ((err.strip().splitlines() or ["no output"])[-1])
            )
        else:
            error = None
        peak = result.get("peak_rss_mb")
        return PluginRun(
            plugin=job.plugin,
            project_id=job.project_id,
            run_id=job.run_id,
            event=event_name,
            asset_id=job.asset_id,
            label_id=job.label_id,
            ok=error is None,
            error=error,
            seconds=seconds,
            peak_rss_mb=float(peak) if isinstance(peak, (int, float)) else None,
            output=err[-20000:],
        )

    def _record(self, job: _Job, run: PluginRun) -> None:
        meta = {"assetId": job.asset_id, "labelId": job.label_id}
        entries = []
        for line in run.output.splitlines():
            if not line.strip():
                continue
            level = "INFO"
            for name in ("ERROR", "WARNING"):
                if name in line.split(":", 1)[0] or line.startswith(("Traceback", name)):
                    level = name
            entries.append(_log(line, level))
        if run.error is not None:
            entries.append(_log(f"run {run.run_id} failed: {run.error}", "ERROR"))
        for entry in entries:
            entry.update(
                metadata=meta, pluginName=job.plugin, projectId=job.project_id, runId=job.run_id
            )
        with self.state.lock:
            plugin = self.plugins.get(job.plugin)
            if plugin is not None:
                plugin.logs.extend(entries)
            self.runs.append(run)
            self.state.changed.notify_all()

    # ---- lifecycle -----------------------------------------------------------------------

    def reset(self) -> None:
        with self.state.lock:
            for plugin in self.plugins.values():
                if plugin.folder is not None:
                    shutil.rmtree(plugin.folder, ignore_errors=True)
            self.plugins.clear()
            self.runs.clear()

    def close(self) -> None:
        """Stop the runs (the current one is killed) and remove the unpacked plugins."""
        with self._lock:
            self._closed = True
            worker, self._worker = self._worker, None
            if self._current is not None:
                self._current.kill()
        if worker is not None:
            while True:
                try:
                    self._jobs.get_nowait()
                except queue.Empty:
                    break
            self._jobs.put(None)
            worker.join(RUN_TIMEOUT + 5.0)
        shutil.rmtree(self._root, ignore_errors=True)


def plugin_resolvers(
    host: PluginHost, root: Mapping[str, Callable[..., Any]]
) -> dict[str, Callable[..., Any]]:
    """The plugin fields, and ``root``'s activation / appendManyLabels wrapped for hosted plugins.

    ``root`` is :func:`.resolvers.build_root`'s map; its webhook resolvers still answer for
    webhooks.
    """
    activate_webhook = root["activatePluginOnProject"]
    deactivate_webhook = root["deactivatePluginOnProject"]
    append_labels = root["appendManyLabels"]

    def create_plugin(_info: GraphQLResolveInfo, data: Json) -> str:
        return host.create_plugin(data["pluginName"])

    def generate_update_url(_info: GraphQLResolveInfo, data: Json) -> str:
        return host.update_url(data["pluginName"])

    def create_runner(_info: GraphQLResolveInfo, data: Json) -> str:
        return host.create_runner(data, update=False)

    def update_runner(_info: GraphQLResolveInfo, data: Json) -> str:
        return host.create_runner(data, update=True)

    def delete_plugin(_info: GraphQLResolveInfo, where: Json) -> str:
        name = where["pluginName"]
        answer = host.delete(name)
        if answer is not None:
            return answer
        with host.state.lock:
            if host.state.webhooks.pop(name, None) is None:
                raise EmulatorError(f'plugin "{name}" does not exist')
            return f"Plugin {name} successfully deleted"

    def status(_info: GraphQLResolveInfo, name: str) -> str:
        return host.status(name)

    def build_errors(_info: GraphQLResolveInfo, data: Json) -> list[Json]:
        return host.build_errors(data)

    def run_logs(_info: GraphQLResolveInfo, data: Json) -> list[Json]:
        return host.run_logs(data)

    def list_plugins(_info: GraphQLResolveInfo) -> list[Json]:
        return host.list_plugins()

    def activate(info: GraphQLResolveInfo, where: Json) -> str:
        answer = host.set_activation(where["pluginName"], where["projectId"], active=True)
        return answer if answer is not None else str(activate_webhook(info, where))

    def deactivate(info: GraphQLResolveInfo, where: Json) -> str:
        answer = host.set_activation(where["pluginName"], where["projectId"], active=False)
        return answer if answer is not None else str(deactivate_webhook(info, where))

    def append_many_labels(info: GraphQLResolveInfo, data: Json, where: Json) -> Any:
        created = append_labels(info, data=data, where=where)
        host.on_labels([view["id"] for view in created])
        return created

    return {
        "createPlugin": create_plugin,
        "generateUpdateUrl": generate_update_url,
        "createPluginRunner": create_runner,
        "updatePluginRunner": update_runner,
        "deletePlugin": delete_plugin,
        "getPluginRunnerStatus": status,
        "getPluginBuildErrors": build_errors,
        "getPluginLogs": run_logs,
        "listPlugins": list_plugins,
        "activatePluginOnProject": activate,
        "deactivatePluginOnProject": deactivate,
        "appendManyLabels": append_many_labels,
    }
