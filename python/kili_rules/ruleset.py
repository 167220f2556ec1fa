"""RuleSet: the public face of the native engine."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kili_rules._native import Engine, Issue, RulesError
from kili_rules.rules import Rule
from kili_rules.verdict import ActionPolicy, Verdict

if TYPE_CHECKING:
    from kili_rules.report import Report

PathLike = str | os.PathLike[str]


class RuleSet:
    """A compiled set of rules. Build it from a file, a dict or rule objects."""

    __slots__ = ("_actions", "_engine", "_fingerprint")

    def __init__(
        self,
        rules: Iterable[Rule | Mapping[str, Any]] = (),
        *,
        actions: ActionPolicy | Mapping[str, Any] | None = None,
    ) -> None:
        items: list[dict[str, Any]] = []
        for i, r in enumerate(rules, start=1):
            if isinstance(r, Rule):
                items.append(r.to_dict())
            elif isinstance(r, Mapping):
                items.append(dict(r))
            else:
                raise RulesError(f"rule {i}: expected a Rule or a dict, got {type(r).__name__}")
        doc: dict[str, Any] = {"rule": items}
        if actions is not None:
            doc["actions"] = (
                actions.to_dict() if isinstance(actions, ActionPolicy) else dict(actions)
            )
        self._set(Engine.from_dict(doc))

    def _set(self, engine: Engine) -> None:
        # The actions table is validated here, at load time, so a bad one fails like a bad rule
        # (from_file prefixes the path; the message names the field: "actions.on_error: ...").
        self._actions = ActionPolicy.from_dict(engine.actions())
        self._engine = engine
        self._fingerprint = hashlib.sha256(engine.config_json().encode()).hexdigest()

    @classmethod
    def _wrap(cls, engine: Engine) -> RuleSet:
        rs = cls.__new__(cls)
        rs._set(engine)
        return rs

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> RuleSet:
        """From the structure of a rules file: ``{"rule": [{"kind": ..., ...}, ...]}``."""
        if not isinstance(config, Mapping):
            raise RulesError(
                f"rules: expected a mapping with a 'rule' list, got {type(config).__name__}"
            )
        return cls._wrap(Engine.from_dict(dict(config)))

    @classmethod
    def from_toml(cls, text: str) -> RuleSet:
        return cls._wrap(Engine.from_toml(text))

    @classmethod
    def from_json(cls, text: str | bytes) -> RuleSet:
        return cls._wrap(Engine.from_json(text))

    @classmethod
    def from_yaml(cls, text: str) -> RuleSet:
        """YAML needs the ``yaml`` extra (PyYAML)."""
        try:
            import yaml
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("YAML rules need PyYAML: pip install 'kili-rules[yaml]'") from e
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise RulesError(f"rules file: YAML: {e}") from None
        if not isinstance(data, Mapping):
            raise RulesError("rules file: expected a mapping with a 'rule' list")
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: PathLike) -> RuleSet:
        """From a ``.toml``, ``.json``, ``.yaml`` or ``.yml`` file."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in (".toml", ".json", ".yaml", ".yml"):
            raise RulesError(f"{p}: unknown rules file type {suffix!r} (use .toml, .json or .yaml)")
        try:
            data = p.read_bytes()
        except OSError as e:
            raise RulesError(f"{p}: cannot read the rules file: {e.strerror or e}") from None
        try:
            if suffix == ".json":
                return cls.from_json(data)
            text = data.decode("utf-8")
            return cls.from_toml(text) if suffix == ".toml" else cls.from_yaml(text)
        except UnicodeDecodeError:
            raise RulesError(f"{p}: the rules file is not UTF-8 text") from None
        except RulesError as e:
            raise RulesError(f"{p}: {e}") from None

    # -- introspection --------------------------------------------------------------------

    @property
    def rules(self) -> list[dict[str, Any]]:
        """The rules as normalized dicts (ids filled in)."""
        return self._engine.rules()

    @property
    def actions(self) -> ActionPolicy:
        """The rules file's ``[actions]`` table (defaults when it has none)."""
        return self._actions

    @property
    def needs_resolution(self) -> bool:
        """Whether a rule measures pixels, and so needs each asset's resolution."""
        return self._engine.needs_resolution

    @property
    def fingerprint(self) -> str:
        """A stable sha256 of the normalized rules (used to deduplicate webhook events)."""
        return self._fingerprint

    @staticmethod
    def json_schema() -> dict[str, Any]:
        """The JSON Schema of the rules file format."""
        import json

        schema: dict[str, Any] = json.loads(Engine.json_schema())
        return schema

    def lint(self, json_interface: Mapping[str, Any] | str) -> list[str]:
        """Rules that name unknown jobs or categories, or put geometry on non-geometry jobs."""
        return self._engine.lint(json_interface)

    def __len__(self) -> int:
        return len(self._engine.rules())

    def __repr__(self) -> str:
        ids = ", ".join(r.get("id", "?") for r in self.rules)
        return f"RuleSet([{ids}])"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleSet) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self._fingerprint)

    def __reduce__(self) -> tuple[Callable[[str], RuleSet], tuple[str]]:
        return (RuleSet.from_json, (self._engine.config_json(),))

    # -- validation -----------------------------------------------------------------------

    def validate(
        self,
        label: object,
        *,
        resolution: tuple[float, float] | None = None,
        page_resolutions: Mapping[int, tuple[float, float]] | None = None,
    ) -> list[Issue]:
        """Issues of one label: a Kili label dict, a bare jsonResponse, or JSON str/bytes.

        Raises ``LabelError`` (a ``ValueError``) naming the JSON path when the label is
        malformed. ``resolution`` is the asset's (width, height), needed by pixel rules.
        """
        pages = dict(page_resolutions) if page_resolutions is not None else None
        return self._engine.validate(label, resolution, pages)

    def decide(
        self,
        label: object,
        *,
        resolution: tuple[float, float] | None = None,
        page_resolutions: Mapping[int, tuple[float, float]] | None = None,
    ) -> Verdict:
        """Validate one label and decide what it gets under the rules file's ``[actions]``:
        outcome, actions in execution order, QA figures (accuracy = 1 - issues / objects)."""
        pages = dict(page_resolutions) if page_resolutions is not None else None
        issues, objects = self._engine.validate_counted(label, resolution, pages)
        return Verdict.decide(issues, self._actions, objects=objects)

    @staticmethod
    def has_errors(issues: Iterable[Issue]) -> bool:
        """Whether any issue has severity "error" (the asset goes back to the queue)."""
        return any(i.severity == "error" for i in issues)

    def validate_many(
        self,
        items: Iterable[object],
        *,
        threads: int | None = None,
        progress: bool | None = None,
        disable_tqdm: bool | None = None,
    ) -> Report:
        """Validate many assets or labels in parallel; a malformed one becomes a row.

        Items: asset records (``latestLabel``, ``latestLabels`` or ``labels``: every label is
        checked and keeps its id), label dicts, bare jsonResponses, or JSON str/bytes.
        A generator is consumed as it goes, never held whole. ``threads``: worker threads
        (default: one per core; 1 checks everything on the calling thread). ``progress``: show a
        progress bar (tqdm, when installed); default on for more than 10,000 items.
        ``disable_tqdm``: the same switch under the name the Kili SDK uses.
        """
        from kili_rules.report import Report, progress_bar

        total = len(items) if isinstance(items, Sized) else None
        if disable_tqdm is not None:  # kili's own name for the switch
            progress = not disable_tqdm
        show = progress if progress is not None else (total or 0) > 10_000
        if not show:
            return _keep_items(
                Report.from_batch(
                    self._engine.validate_many(items, threads), fingerprint=self.fingerprint
                ),
                items,
            )
        with progress_bar(total, disable=False, desc="Validating") as bar:
            state = {"done": 0}

            def tick(done: int, total: int | None) -> None:
                bar.update(done - state["done"])
                state["done"] = done

            return _keep_items(
                Report.from_batch(
                    self._engine.validate_many(items, threads, tick), fingerprint=self.fingerprint
                ),
                items,
            )

    def validate_export(
        self,
        path: PathLike,
        *,
        threads: int | None = None,
        progress: bool = False,
        disable_tqdm: bool | None = None,
    ) -> Report:
        """Validate a Kili export: a zip (``labels/*.json`` or ``data.json``), its unzipped
        folder, a JSON list file or JSON Lines. Streams; parses and checks in parallel."""
        from kili_rules.report import Context, Report, progress_bar

        context = Context(inputs=(os.fspath(path),))
        if disable_tqdm is not None:
            progress = not disable_tqdm
        if not progress:
            return Report.from_batch(
                self._engine.validate_export(os.fspath(path), threads),
                fingerprint=self.fingerprint,
                context=context,
            )
        with progress_bar(None, disable=False, desc=f"Validating {Path(path).name}") as bar:
            state = {"done": 0}

            def tick(done: int, total: int) -> None:
                # Units are the source's (files, or bytes of a zip / JSON file).
                if hasattr(bar, "total") and bar.total != total:
                    bar.total = total
                bar.update(done - state["done"])
                state["done"] = done

            return Report.from_batch(
                self._engine.validate_export(os.fspath(path), threads, tick),
                fingerprint=self.fingerprint,
                context=context,
            )

    def validate_project(
        self,
        kili: Any,
        project_id: str,
        *,
        since: datetime | date | str | None = None,
        status_in: Sequence[str] | None = None,
        step_id_in: Sequence[str] | None = None,
        step_status_in: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        labels: Literal["latest", "all", "consensus"] = "latest",
        concurrency: int = 4,
        page_size: int = 200,
        threads: int | None = None,
        max_retries: int = 6,
        disable_tqdm: bool | None = None,
    ) -> Report:
        """Validate the labels of a live Kili project, straight from the API.

        ``kili`` is a ``kili.client.Kili``. Only the fields the rules need are asked for;
        pages of ``page_size`` assets are fetched ``concurrency`` at a time (within the SDK's
        per-process rate limit, transient failures retried with backoff up to ``max_retries``
        times) and each jsonResponse goes to the native core as the JSON string Kili returned.
        Memory stays flat in the project's size.

        ``labels``: ``"latest"`` (each asset's latest label), ``"all"`` (every label) or
        ``"consensus"`` (the latest label of each labeler). Filters: ``since`` (assets updated
        at or after; a datetime, date or ISO string, naive = UTC), ``status_in`` (e.g.
        ``["LABELED", "REVIEWED"]``), workflow-v2 ``step_id_in`` / ``step_status_in``, and
        ``where`` for any other ``AssetWhere`` key. A label without a jsonResponse is never
        counted as clean: it gets a row of kind ``"unchecked"`` (severity error).
        ``disable_tqdm``: as in the SDK (default: the client's setting).
        """
        from kili_rules.kili.project import validate_project

        return validate_project(
            self,
            kili,
            project_id,
            since=since,
            status_in=status_in,
            step_id_in=step_id_in,
            step_status_in=step_status_in,
            where=where,
            labels=labels,
            concurrency=concurrency,
            page_size=page_size,
            threads=threads,
            max_retries=max_retries,
            disable_tqdm=disable_tqdm,
        )


def _keep_items(report: Report, items: Iterable[object]) -> Report:
    # A list of assets is already in memory: the report's drawings look labels up in it again.
    if isinstance(items, Sequence) and not isinstance(items, str | bytes):
        report.items = items
    return report
