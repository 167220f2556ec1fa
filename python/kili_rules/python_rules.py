"""Rules written in Python, run beside the native ones.

A Python rule receives a read-only :class:`LabelView` of the parsed label (the same model the
native rules check) and returns findings: :class:`Finding` objects or plain strings (an
iterable of them, one of them, or None). Two ways to write one::

    import kili_rules

    @kili_rules.python_rule(id="iban-fr", severity="error")
    def iban_fr(label):
        for obj in label.objects:
            if obj.category == "IBAN" and not obj.children:
                yield kili_rules.Finding("IBAN box without its transcription", mid=obj.mid)

    class NotEmpty(kili_rules.PythonRule):
        id = "not-empty"
        severity = "warning"

        def check(self, label):
            if not label.objects and not label.answers:
                return "empty label"

Findings become issues of kind ``"python"`` with the rule's id. An exception raised by a rule
becomes an issue of kind ``"rule_error"`` (severity error) naming the rule and the exception:
the label is still reported, and the other rules still run.

Pickling (so a RuleSet ships to worker processes): a decorated function pickles by reference
(its module and name), a ``PythonRule`` subclass instance pickles as usual (its class by
reference), and a rules file entry names its function by module path::

    [[rule]]
    kind = "python"
    function = "mypkg.checks:iban_ok"
    id = "iban-ok"            # optional: the function's name by default
    severity = "warning"      # optional: error by default

In every case the module must be importable where the RuleSet is unpickled.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from kili_rules._native import (
    AnswerView,
    Issue,
    LabelView,
    ObjectView,
    ParentView,
    RelationView,
    RulesError,
    SpanView,
)

__all__ = [
    "AnswerView",
    "Finding",
    "FunctionRule",
    "LabelView",
    "ObjectView",
    "ParentView",
    "PythonRule",
    "RelationView",
    "SpanView",
    "load_rule",
    "python_rule",
    "run_rules",
]

_SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Finding:
    """What a Python rule found. ``mid`` anchors it on an object (None: the whole label);
    ``severity`` overrides the rule's; ``value`` is what was measured, ``limit`` the bound."""

    text: str
    mid: str | None = None
    severity: str | None = None
    value: float | None = None
    limit: float | None = None
    job: str | None = None
    category: str | None = None
    frame: int | None = None


def _check_severity(rule_id: str, severity: str) -> str:
    if severity not in _SEVERITIES:
        raise RulesError(
            f'rule \'{rule_id}\': severity must be "error" or "warning", got {severity!r}'
        )
    return severity


class PythonRule:
    """Base class of a Python rule: set ``id`` (and ``severity``), define ``check``.

    ``check(label)`` gets a read-only :class:`LabelView` and returns findings: an iterable of
    :class:`Finding` or ``str``, a single one, or None when the label passes.
    """

    id: str = ""
    severity: str = "error"
    kind: ClassVar[str] = "python"

    def check(self, label: LabelView) -> Iterable[Finding | str] | Finding | str | None:
        raise NotImplementedError(f"{type(self).__name__}.check")

    @property
    def rule_id(self) -> str:
        return self.id or type(self).__name__

    def describe(self) -> dict[str, Any]:
        """The rule as a normalized dict (as ``RuleSet.rules`` lists it)."""
        cls = type(self)
        return {
            "id": self.rule_id,
            "kind": "python",
            "severity": self.severity,
            "function": f"{cls.__module__}:{cls.__qualname__}",
        }


class FunctionRule(PythonRule):
    """A function made a rule, by :func:`python_rule` or by a rules file's ``function``."""

    def __init__(
        self,
        func: Callable[[LabelView], Any],
        *,
        id: str | None = None,
        severity: str = "error",
        ref: str | None = None,
    ) -> None:
        if not callable(func):
            raise RulesError(f"python rule: expected a function, got {type(func).__name__}")
        self.func = func
        self.id: str = id or str(getattr(func, "__name__", "python_rule"))
        self.severity = _check_severity(self.id, severity)
        # Where the function was loaded from (a rules file's "module:name"), if anywhere.
        self._ref = ref
        self.__module__ = getattr(func, "__module__", __name__)
        self.__qualname__ = getattr(func, "__qualname__", self.id)
        self.__name__ = getattr(func, "__name__", self.id)

    def check(self, label: LabelView) -> Any:
        return self.func(label)

    def __call__(self, label: LabelView) -> Any:
        return self.func(label)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "python",
            "severity": self.severity,
            "function": self._ref or f"{self.__module__}:{self.__qualname__}",
        }

    def __reduce__(self) -> str | tuple[Any, ...]:
        if self._ref is not None:
            return (load_rule, (self._ref, self.id, self.severity))
        # Decorated at module level: the module attribute *is* this object, so pickle stores
        # its module and name, like a function.
        return self.__qualname__

    def __repr__(self) -> str:
        return f"FunctionRule(id={self.id!r}, severity={self.severity!r})"


def python_rule(
    *, id: str | None = None, severity: str = "error"
) -> Callable[[Callable[[LabelView], Any]], FunctionRule]:
    """Decorator: make ``func(label) -> findings`` a rule (``id`` defaults to its name)."""

    def wrap(func: Callable[[LabelView], Any]) -> FunctionRule:
        return FunctionRule(func, id=id, severity=severity)

    return wrap


def _import(module_name: str, search: Sequence[Path]) -> Any:
    """Import ``module_name`` from the first of ``search`` that holds it, else from sys.path."""
    top = module_name.partition(".")[0]
    for folder in search:
        if (folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file():
            sys.path.insert(0, str(folder))
            try:
                return importlib.import_module(module_name)
            finally:
                # The module stays imported; the folder does not stay on everyone's path.
                with contextlib.suppress(ValueError):
                    sys.path.remove(str(folder))
    return importlib.import_module(module_name)


def load_rule(
    spec: str,
    id: str | None = None,
    severity: str | None = None,
    *,
    search: Sequence[Path] = (),
) -> PythonRule:
    """The rule at ``"package.module:name"``: a decorated function, a PythonRule subclass or
    instance, or a plain function (made a rule with ``id`` and ``severity``). The module is
    looked for in the ``search`` folders first, then on ``sys.path``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise RulesError(f"python rule: function must read 'module:name', got {spec!r}")
    try:
        obj: Any = _import(module_name, search)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        looked = ", ".join(str(d) for d in search)
        where = f" (looked in {looked} and on sys.path)" if looked else " (looked on sys.path)"
        raise RulesError(f"python rule: cannot load {spec!r}: {e}{where}") from None
    if isinstance(obj, type) and issubclass(obj, PythonRule):
        obj = obj()
    if isinstance(obj, FunctionRule):
        if id is None and severity is None:
            return obj
        return FunctionRule(
            obj.func,
            id=id or obj.id,
            severity=severity or obj.severity,
            ref=spec,
        )
    if isinstance(obj, PythonRule):
        if id is not None or severity is not None:
            raise RulesError(
                f"python rule {spec!r}: a PythonRule class sets its own id and severity"
            )
        return obj
    if callable(obj):
        return FunctionRule(obj, id=id, severity=severity or "error", ref=spec)
    raise RulesError(f"python rule: {spec!r} is not a function or a PythonRule")


def from_entry(
    entry: Mapping[str, Any], index: int, base: str | os.PathLike[str] | None = None
) -> PythonRule:
    """A rules file entry ``{kind = "python", function = "mod:name", id?, severity?, path?}``.

    The module is looked for in ``path`` (a folder, relative to ``base``: the rules file's
    folder), else in ``base``, else on ``sys.path``."""
    unknown = set(entry) - {"kind", "function", "id", "severity", "path"}
    if unknown:
        raise RulesError(
            f"rule {index}: unknown field(s) for a python rule: {', '.join(sorted(unknown))}"
        )
    spec = entry.get("function")
    if not isinstance(spec, str):
        raise RulesError(f'rule {index}: a python rule needs function = "module:name"')
    rid = entry.get("id")
    sev = entry.get("severity")
    if rid is not None and not isinstance(rid, str):
        raise RulesError(f"rule {index}: id must be a string")
    if sev is not None:
        if not isinstance(sev, str):
            raise RulesError(f"rule {index}: severity must be a string")
        _check_severity(rid or spec, sev)
    where = entry.get("path")
    if where is not None and not isinstance(where, str):
        raise RulesError(f"rule {index}: path must be a string (a folder)")
    dirs: list[Path] = []
    if where is not None:
        folder = Path(where)
        dirs.append(folder if folder.is_absolute() or base is None else Path(base) / folder)
    if base is not None:
        dirs.append(Path(base))
    return load_rule(spec, rid, sev, search=dirs)


def _as_issue(rule: PythonRule, found: object) -> Issue:
    if isinstance(found, str):
        return Issue._finding(rule.rule_id, rule.severity, found)
    if isinstance(found, Finding):
        return Issue._finding(
            rule.rule_id,
            found.severity or rule.severity,
            found.text,
            found.mid,
            found.job,
            found.category,
            found.frame,
            found.value,
            found.limit,
        )
    raise TypeError(f"a finding must be a Finding or a str, got {type(found).__name__}")


def _rule_error(rule: PythonRule, exc: BaseException) -> Issue:
    return Issue._finding(
        rule.rule_id,
        "error",
        # a Kili issue the annotator reads: not theirs to fix, and the rule and error are named
        # for whoever can fix the rule
        f"The check '{rule.rule_id}' failed on this label ({type(exc).__name__}: {exc}). "
        "This is not a problem with your annotations: please tell your project manager.",
        error=True,
    )


def run_rules(rules: Iterable[PythonRule], label: LabelView) -> list[Issue]:
    """Every rule's findings on one label, in rule order; a rule that raises (or returns
    something that is not a finding) gives one ``rule_error`` issue instead."""
    out: list[Issue] = []
    for rule in rules:
        try:
            found = rule.check(label)
            if found is None:
                continue
            if isinstance(found, (str, Finding)):
                out.append(_as_issue(rule, found))
            else:
                out.extend([_as_issue(rule, f) for f in found])
        except Exception as e:
            out.append(_rule_error(rule, e))
    return out
