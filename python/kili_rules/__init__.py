"""kili-rules: declarative validation rules for Kili Technology labels, run by a native core.

>>> from kili_rules import RuleSet
>>> rules = RuleSet.from_file("examples/rules.toml")          # doctest: +SKIP
>>> issues = rules.validate(label)                            # doctest: +SKIP
"""

from typing import TYPE_CHECKING, Any

from kili_rules._native import BatchResult, Issue, LabelError, Row, RulesError, __version__
from kili_rules.python_rules import Finding, LabelView, PythonRule, python_rule
from kili_rules.report import register_applier as _register_applier
from kili_rules.rules import (
    Answer,
    Area,
    Box,
    Count,
    Entity,
    InsideImage,
    Overlap,
    Required,
    Rule,
    Text,
    ValidPolygon,
)
from kili_rules.ruleset import RuleSet, register_project_validator

if TYPE_CHECKING:
    from kili_rules.kili.apply import ApplyResult
    from kili_rules.report import Report
    from kili_rules.verdict import ActionPolicy


# The package root wires the layers: the methods that call Kili (RuleSet.validate_project,
# Report.apply) are thin delegations to kili/, registered here, so that no module imports a
# layer above its own (held by `lint-imports`, see pyproject.toml). kili/ is imported on the
# first call, not with the package (it costs import time and is not needed to validate).
def _validate_project(ruleset: RuleSet, kili: Any, project_id: str, **options: Any) -> "Report":
    from kili_rules.kili.project import validate_project

    return validate_project(ruleset, kili, project_id, **options)


def _apply(
    report: "Report",
    kili: Any,
    *,
    project_id: str | None = None,
    dry_run: bool = True,
    reconcile: bool = True,
    policy: "ActionPolicy | None" = None,
    progress: bool | None = None,
) -> "ApplyResult":
    from kili_rules.kili.apply import apply_report

    return apply_report(
        report,
        kili,
        project_id=project_id,
        dry_run=dry_run,
        reconcile=reconcile,
        policy=policy,
        progress=progress,
    )


register_project_validator(_validate_project)
_register_applier(_apply)

__all__ = [
    "Answer",
    "Area",
    "BatchResult",
    "Box",
    "Count",
    "Entity",
    "Finding",
    "InsideImage",
    "Issue",
    "LabelError",
    "LabelView",
    "Overlap",
    "PythonRule",
    "Report",
    "Required",
    "Row",
    "Rule",
    "RuleSet",
    "RulesError",
    "Text",
    "ValidPolygon",
    "__version__",
    "python_rule",
]


def __getattr__(name: str) -> object:
    # Report lives in report.py, which imports optional extras lazily; load it on first use.
    if name == "Report":
        from kili_rules.report import Report

        return Report
    raise AttributeError(f"module 'kili_rules' has no attribute {name!r}")
