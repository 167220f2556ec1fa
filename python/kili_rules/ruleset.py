"""RuleSet: the public face of the native engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kili_rules._native import Engine as NativeEngine
from kili_rules._native import Issue, RulesError
from kili_rules.engine import Engine
from kili_rules.python_rules import PythonRule, from_entry
from kili_rules.rules import Rule
from kili_rules.verdict import ActionPolicy, Verdict

if TYPE_CHECKING:
    from kili_rules.report import Report

PathLike = str | os.PathLike[str]


class RuleSet:
    """A compiled set of rules. Build it from a file, a dict or rule objects."""

    __slots__ = ("_actions", "_engine")

    def __init__(
        self,
        rules: Iterable[Rule | PythonRule | Mapping[str, Any]] = (),
        *,
        actions: ActionPolicy | Mapping[str, Any] | None = None,
    ) -> None:
        items: list[dict[str, Any]] = []
        python: list[PythonRule] = []
        for i, r in enumerate(rules, start=1):
            if isinstance(r, Rule):
                items.append(r.to_dict())
            elif isinstance(r, PythonRule):
                python.append(r)
            elif isinstance(r, Mapping) and r.get("kind") == "python":
                python.append(from_entry(r, i))
            elif isinstance(r, Mapping):
                items.append(dict(r))
            else:
                raise RulesError(f"rule {i}: expected a Rule or a dict, got {type(r).__name__}")
        doc: dict[str, Any] = {"rule": items}
        if actions is not None:
            doc["actions"] = (
                actions.to_dict() if isinstance(actions, ActionPolicy) else dict(actions)
            )
        self._set(Engine(NativeEngine.from_dict(doc), python))

    def _set(self, engine: Engine) -> None:
        # The actions table is validated here, at load time, so a bad one fails like a bad rule
        # (from_file prefixes the path; the message names the field: "actions.on_error: ...").
        self._actions = ActionPolicy.from_dict(engine.actions())
        self._engine = engine

    @classmethod
    def _wrap(cls, engine: NativeEngine, python: Iterable[PythonRule] = ()) -> RuleSet:
        return cls.of_engine(Engine(engine, python))

    @classmethod
    def of_engine(cls, engine: Engine) -> RuleSet:
        """The RuleSet of an :class:`~kili_rules.engine.Engine` (what a worker unpickles)."""
        rs = cls.__new__(cls)
        rs._set(engine)
        return rs

    @property
    def engine(self) -> Engine:
        """The one engine every path checks labels with (native and Python rules)."""
        return self._engine

    @classmethod
    def _split(cls, config: Mapping[str, Any], base: PathLike | None = None) -> RuleSet:
        """A rules document that may hold ``kind = "python"`` entries: those are loaded here
        (by module path, looked for in ``base`` first), the rest compiled by the core."""
        rules = config.get("rule")
        if not isinstance(rules, list):
            return cls._wrap(NativeEngine.from_dict(dict(config)))
        native: list[Any] = []
        python: list[PythonRule] = []
        for i, r in enumerate(rules, start=1):
            if isinstance(r, Mapping) and r.get("kind") == "python":
                python.append(from_entry(r, i, base))
            else:
                native.append(r)
        return cls._wrap(NativeEngine.from_dict({**config, "rule": native}), python)

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], *, base: PathLike | None = None) -> RuleSet:
        """From the structure of a rules file: ``{"rule": [{"kind": ..., ...}, ...]}``.

        ``base``: the folder where the modules of ``kind = "python"`` rules are looked for
        first (``from_file`` passes the rules file's folder); a rule's ``path`` is relative
        to it."""
        if not isinstance(config, Mapping):
            raise RulesError(
                f"rules: expected a mapping with a 'rule' list, got {type(config).__name__}"
            )
        return cls._split(config, base)

    @classmethod
    def from_toml(cls, text: str, *, base: PathLike | None = None) -> RuleSet:
        if _names_python_kind(text):
            return cls._split(_load_toml(text), base)
        return cls._wrap(NativeEngine.from_toml(text))

    @classmethod
    def from_json(cls, text: str | bytes, *, base: PathLike | None = None) -> RuleSet:
        if _names_python_kind(text):
            import json

            try:
                data = json.loads(text)
            except ValueError as e:
                raise RulesError(f"rules file: JSON: {e}") from None
            if isinstance(data, Mapping):
                return cls._split(data, base)
        return cls._wrap(NativeEngine.from_json(text))

    @classmethod
    def from_yaml(cls, text: str, *, base: PathLike | None = None) -> RuleSet:
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
        return cls.from_dict(data, base=base)

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
            # Python rules' modules are found next to the rules file, wherever it is run from.
            base = p.resolve().parent
            if suffix == ".json":
                return cls.from_json(data, base=base)
            text = data.decode("utf-8")
            if suffix == ".toml":
                return cls.from_toml(text, base=base)
            return cls.from_yaml(text, base=base)
        except UnicodeDecodeError:
            raise RulesError(f"{p}: the rules file is not UTF-8 text") from None
        except RulesError as e:
            raise RulesError(f"{p}: {e}") from None

    # -- introspection --------------------------------------------------------------------

    @property
    def rules(self) -> list[dict[str, Any]]:
        """The rules as normalized dicts (ids filled in); Python rules last."""
        return self._engine.rules()

    @property
    def tolerances(self) -> dict[str, float]:
        """Rule id -> ``max_fraction`` for the rules that carry one: in a batch report such a
        rule fails the run only when more than that fraction of the checked labels break it
        (:meth:`Report.tolerance_status`). One label alone is judged without it."""
        return {
            str(rule["id"]): float(rule["max_fraction"])
            for rule in self.rules
            if rule.get("max_fraction") is not None
        }

    @property
    def python_rules(self) -> tuple[PythonRule, ...]:
        """The rules written in Python, in order."""
        return self._engine.python_rules

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
        return self._engine.fingerprint

    @staticmethod
    def json_schema() -> dict[str, Any]:
        """The JSON Schema of the rules file format."""
        import json

        schema: dict[str, Any] = json.loads(NativeEngine.json_schema())
        return schema

    def lint(self, json_interface: Mapping[str, Any] | str) -> list[str]:
        """Rules that name unknown jobs or categories, or put geometry on non-geometry jobs."""
        return self._engine.lint(json_interface)

    def __len__(self) -> int:
        return len(self._engine)

    def __repr__(self) -> str:
        ids = ", ".join(r.get("id", "?") for r in self.rules)
        return f"RuleSet([{ids}])"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleSet) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self._engine.fingerprint)

    def __reduce__(self) -> tuple[Callable[[Engine], RuleSet], tuple[Engine]]:
        # The engine travels: native rules as their normalized JSON, Python rules by reference.
        return (RuleSet.of_engine, (self._engine,))

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
        return self._engine.validate(label, resolution, page_resolutions)

    def decide(
        self,
        label: object,
        *,
        resolution: tuple[float, float] | None = None,
        page_resolutions: Mapping[int, tuple[float, float]] | None = None,
    ) -> Verdict:
        """Validate one label and decide what it gets under the rules file's ``[actions]``:
        outcome, actions in execution order, QA figures (accuracy = 1 - issues / objects)."""
        issues, objects = self._engine.validate_counted(label, resolution, page_resolutions)
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
        checked and keeps its id), label dicts (``kili.labels()``: the asset is ``labelOf``),
        bare jsonResponses, or JSON str/bytes; kili's ``ParsedLabel`` objects (and assets
        holding them) are read as the dicts they came from. A pandas DataFrame
        (``kili.assets(..., format="pandas")``) is read row by row, missing cells left out.
        A label record without ``jsonResponse`` (not fetched) is never counted as clean: it
        gets a row of kind ``"unchecked"`` naming the ``fields=`` to fetch.
        A generator is consumed as it goes, never held whole. ``threads``: worker threads
        (default: one per core; 1 checks everything on the calling thread). ``progress``: show a
        progress bar (tqdm, when installed); default on for more than 10,000 items.
        ``disable_tqdm``: the same switch under the name the Kili SDK uses.
        """
        from kili_rules.inputs import dataframe_records, is_dataframe
        from kili_rules.report import Report, progress_bar

        total = len(items) if isinstance(items, Sized) else None
        if is_dataframe(items):
            items = dataframe_records(items)
        if disable_tqdm is not None:  # kili's own name for the switch
            progress = not disable_tqdm
        show = progress if progress is not None else (total or 0) > 10_000
        if not show:
            return _keep_items(
                Report.from_batch(
                    self._engine.validate_many(items, threads, None),
                    fingerprint=self.fingerprint,
                    tolerances=self.tolerances,
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
                    self._engine.validate_many(items, threads, tick),
                    fingerprint=self.fingerprint,
                    tolerances=self.tolerances,
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
                self._engine.validate_export(os.fspath(path), threads, None),
                fingerprint=self.fingerprint,
                tolerances=self.tolerances,
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
                tolerances=self.tolerances,
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
        max_wait: float = 300.0,
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
        ``disable_tqdm``: as in the SDK (default: the client's setting). ``max_wait``: the
        retry budget, the most seconds one request waits in total between its attempts
        (backoff, and a 429's ``Retry-After``, which is honoured); past it, ``ProjectError``
        names it. Paging is checked: an asset served twice is checked once, assets the pages
        missed are read by id, and any that cannot be read is an ``"unchecked"`` row.
        """
        if _project_validator is None:
            raise RuntimeError(
                "RuleSet.validate_project: no implementation registered (import kili_rules)"
            )
        return _project_validator(
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
            max_wait=max_wait,
        )


# validate_project's implementation lives in kili/ (the only layer that calls Kili), which sits
# above this one: kili_rules/__init__ registers it, so this module never imports upwards.
_project_validator: Callable[..., Report] | None = None


def register_project_validator(validator: Callable[..., Report]) -> None:
    """Set what ``RuleSet.validate_project`` delegates to (``kili_rules/__init__`` does it)."""
    global _project_validator
    _project_validator = validator


def _keep_items(report: Report, items: Iterable[object]) -> Report:
    # A list of assets is already in memory: the report's drawings look labels up in it again.
    if isinstance(items, Sequence) and not isinstance(items, str | bytes):
        report.items = items
    return report


def _restore(config_json: str, python: tuple[PythonRule, ...]) -> RuleSet:
    # what RuleSets pickled by an earlier version name on unpickling
    return RuleSet._wrap(NativeEngine.from_json(config_json), python)


def _names_python_kind(text: str | bytes) -> bool:
    """Cheap pre-check: only a file that mentions a python kind is parsed on the Python side
    (others keep the core's parser and its error messages)."""
    raw = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return "python" in raw and "kind" in raw


def _load_toml(text: str) -> dict[str, Any]:
    import importlib

    try:
        toml: Any = importlib.import_module("tomllib")
    except ImportError:  # Python 3.10
        try:
            toml = importlib.import_module("tomli")
        except ImportError:
            raise RulesError(
                "rules file: python rules in a TOML file need Python 3.11+ or 'tomli'"
            ) from None
    try:
        data: dict[str, Any] = toml.loads(text)
    except toml.TOMLDecodeError as e:
        raise RulesError(f"rules file: TOML: {e}") from None
    return data
