"""What a checked label gets: its outcome, the actions the rules declare for it, its QA figures.

Deciding is pure (no Kili call): the webhook, the plugin and ``audit --apply`` all take a
``Verdict`` and hand it to ``kili_rules.kili`` to carry out. The rules file declares the actions:

```toml
[actions]
on_error = ["issues", "send_back"]     # the defaults
on_warning = ["issues"]
on_pass = []
max_bounces = 3                         # the default; after 3 send-backs, "review" instead (0: off)
metadata_prefix = "kili_rules_"         # keys written by the "metadata" action
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kili_rules._native import UNCHECKED_KIND, Issue, RulesError

Outcome = Literal["error", "warning", "pass"]

# Each action, in the order they are carried out when several apply.
ACTIONS: dict[str, str] = {
    "issues": "create an issue per finding (object mids kept); reconcile earlier ones",
    "metadata": "merge QA figures into the asset's metadata (other keys kept)",
    "send_back": "send the asset back to the labeling queue",
    "review": "add the asset to review (add_to_review)",
    "invalidate": "workflow v2: invalidate the asset's current step (kili.assets.invalidate)",
    "next_step": "workflow v2: move the asset to the next step (kili.assets.move_to_next_step)",
}
_ORDER = {name: i for i, name in enumerate(ACTIONS)}
DEFAULT_PREFIX = "kili_rules_"
DEFAULT_MAX_BOUNCES = 3


def _actions(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"actions.{where}: expected a list of action names")
    unknown = [v for v in value if v not in ACTIONS]
    if unknown:
        raise RulesError(
            f"actions.{where}: unknown action {unknown[0]!r} (known: {', '.join(ACTIONS)})"
        )
    if "send_back" in value and "review" in value:
        raise RulesError(f"actions.{where}: send_back and review cannot both apply")
    return tuple(sorted(dict.fromkeys(value), key=_ORDER.__getitem__))


@dataclass(frozen=True)
class ActionPolicy:
    """The ``[actions]`` table of a rules file, validated."""

    on_error: tuple[str, ...] = ("issues", "send_back")
    on_warning: tuple[str, ...] = ("issues",)
    on_pass: tuple[str, ...] = ()
    # on by default: an asset that keeps failing goes to a reviewer, not round the queue forever
    max_bounces: int = DEFAULT_MAX_BOUNCES
    metadata_prefix: str = DEFAULT_PREFIX

    @classmethod
    def from_dict(cls, config: Mapping[str, Any] | None) -> ActionPolicy:
        """From the ``actions`` table (None or {} gives the defaults); RulesError names the key."""
        if config is None:
            return cls()
        if not isinstance(config, Mapping):
            raise RulesError("actions: expected a table")
        known = {"on_error", "on_warning", "on_pass", "max_bounces", "metadata_prefix"}
        for key in config:
            if key not in known:
                raise RulesError(
                    f"actions.{key}: unknown field (known: {', '.join(sorted(known))})"
                )
        default = cls()
        bounces = config.get("max_bounces", DEFAULT_MAX_BOUNCES)
        if isinstance(bounces, bool) or not isinstance(bounces, int) or bounces < 0:
            raise RulesError("actions.max_bounces: expected an integer >= 0")
        prefix = config.get("metadata_prefix", DEFAULT_PREFIX)
        if not isinstance(prefix, str) or not prefix:
            raise RulesError("actions.metadata_prefix: expected a non-empty string")
        return cls(
            on_error=_actions(config.get("on_error", list(default.on_error)), "on_error"),
            on_warning=_actions(config.get("on_warning", list(default.on_warning)), "on_warning"),
            on_pass=_actions(config.get("on_pass", list(default.on_pass)), "on_pass"),
            max_bounces=bounces,
            metadata_prefix=prefix,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "on_error": list(self.on_error),
            "on_warning": list(self.on_warning),
            "on_pass": list(self.on_pass),
            "max_bounces": self.max_bounces,
            "metadata_prefix": self.metadata_prefix,
        }

    def for_outcome(self, outcome: Outcome) -> tuple[str, ...]:
        return {"error": self.on_error, "warning": self.on_warning, "pass": self.on_pass}[outcome]


def outcome_of(issues: Iterable[Issue]) -> Outcome:
    severities = {issue.severity for issue in issues}
    if "error" in severities:
        return "error"
    return "warning" if severities else "pass"


def qa_figures(
    issues: tuple[Issue, ...], objects: int | None, prefix: str = DEFAULT_PREFIX
) -> dict[str, str]:
    """Flat QA figures for the asset's metadata (Kili metadata values are strings).

    accuracy = 1 - issues / objects, floored at 0; absent when the label has no objects.
    """
    errors = sum(1 for i in issues if i.severity == "error")
    figures = {
        f"{prefix}issues": str(len(issues)),
        f"{prefix}errors": str(errors),
        f"{prefix}warnings": str(len(issues) - errors),
        f"{prefix}rules": ",".join(dict.fromkeys(i.rule for i in issues)),
    }
    if objects is not None:
        figures[f"{prefix}objects"] = str(objects)
        if objects > 0:
            figures[f"{prefix}accuracy"] = repr(max(0.0, 1.0 - len(issues) / objects))
    return figures


@dataclass(frozen=True)
class Verdict:
    """One label's result and what to do about it. ``actions`` is in execution order."""

    issues: tuple[Issue, ...]
    outcome: Outcome
    actions: tuple[str, ...]
    objects: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    max_bounces: int = 0
    # prefix of every metadata key kili-rules writes (figures, bounce count, issue ledger)
    metadata_prefix: str = DEFAULT_PREFIX
    # rules the label could not be judged by (kind "unchecked", e.g. a pixel rule on an asset of
    # unknown size): the labeler cannot fix them, so they make no issue and no send-back
    unchecked: tuple[Issue, ...] = ()

    @classmethod
    def decide(
        cls, issues: Iterable[Issue], policy: ActionPolicy, *, objects: int | None = None
    ) -> Verdict:
        given = tuple(issues)
        found = tuple(i for i in given if i.kind != UNCHECKED_KIND)
        unchecked = tuple(i for i in given if i.kind == UNCHECKED_KIND)
        outcome = outcome_of(found)
        actions = policy.for_outcome(outcome)
        metadata = (
            qa_figures(found, objects, policy.metadata_prefix) if "metadata" in actions else {}
        )
        if unchecked and "metadata" in actions:
            metadata[f"{policy.metadata_prefix}unchecked"] = ",".join(
                dict.fromkeys(i.rule for i in unchecked)
            )
        return cls(
            found,
            outcome,
            actions,
            objects,
            metadata,
            policy.max_bounces,
            policy.metadata_prefix,
            unchecked,
        )
