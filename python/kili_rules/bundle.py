"""``kili-rules bundle``: a folder that ``kili.upload_plugin(plugin_path=DIR)`` accepts.

Since kili 26.2.3 the SDK's uploader parses ``main.py`` with ``ast`` and reads the handlers
from the body of ``class PluginHandler`` only, so ``class PluginHandler(RulesPlugin): rules =
...`` (handlers inherited) is refused. An upload also carries only ``*.py`` files and
``requirements.txt``: a rules.toml beside main.py never reaches Kili. The bundle therefore
holds a main.py whose PluginHandler declares its handlers in its own body, the rulebook as a
JSON string in ``rules_data.py``, and a requirements.txt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kili_rules import RuleSet
from kili_rules.ruleset import _load_toml  # tomllib, or tomli on Python 3.10

__all__ = ["DEFAULT_REQUIREMENT", "BundleError", "write_bundle"]

# kili-rules is not on PyPI: teams point --requirement at the wheel URL they host.
DEFAULT_REQUIREMENT = "kili-rules[plugin]==0.1.0"
RULES_MODULE = "rules_data.py"

_HEADER = (
    '"""Kili plugin written by `kili-rules bundle` from {source}: regenerate, do not edit."""\n'
)

_PATH_FIX = """
import os
import sys

# Kili imports main.py from the unpacked archive; make rules_data importable whatever the cwd.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rules_data import load_rules  # noqa: E402
"""

_SUBMIT_MAIN = (
    _HEADER
    + "\nfrom typing import Any\n"
    + _PATH_FIX
    + """
from kili_rules.plugin import Decision, RulesPlugin  # noqa: E402


class PluginHandler(RulesPlugin):
    # The handlers are declared here, not only inherited: the SDK's uploader reads them
    # from this class body.
    rules = load_rules()

    def on_submit(self, label: dict[str, Any], asset_id: str) -> Decision:
        return super().on_submit(label, asset_id)

    def on_review(self, label: dict[str, Any], asset_id: str) -> Decision:
        return super().on_review(label, asset_id)
"""
)

_EVENTS_MAIN = (
    _HEADER
    + "\nfrom kili.plugins import on_kili_event\n"
    + "from kili_events import LabelWorkflowCreatedDefaultEvent, LabelWorkflowCreatedReviewEvent\n"
    + _PATH_FIX
    + """
from kili_rules.kili.events import RulesEventPlugin  # noqa: E402


class PluginHandler(RulesEventPlugin):
    # Events carry {assetId, labelId, externalId} and no jsonResponse: check_event fetches
    # the label by id. The method overrides RulesEventPlugin's own (same name), so each
    # event is checked once; it is declared here because the uploader reads this body.
    rules = load_rules()

    @on_kili_event
    def on_label_created(
        self, event: LabelWorkflowCreatedDefaultEvent | LabelWorkflowCreatedReviewEvent
    ) -> None:
        self.check_event(event)
"""
)

_RULES_MODULE = (
    _HEADER
    + """
from kili_rules import RuleSet

RULES_JSON = {rules_json}


def load_rules() -> RuleSet:
    return RuleSet.from_json(RULES_JSON)
"""
)


class BundleError(ValueError):
    """The bundle cannot be written (bad rules file, python rules, existing folder)."""


def _read_document(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BundleError(f"{path}: cannot read the rules file: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise BundleError(f"{path}: not UTF-8 text: {exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            doc: object = _load_toml(text)
        elif suffix == ".json":
            doc = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            doc = _load_yaml(path, text)
        else:
            raise BundleError(f"{path}: rules file must end in .toml, .json, .yaml or .yml")
    except ValueError as exc:  # RulesError (TOML), JSONDecodeError
        raise BundleError(f"{path}: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise BundleError(f"{path}: expected a table with a 'rule' list")
    return dict(doc)


def _load_yaml(path: Path, text: str) -> object:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BundleError(f"{path}: YAML rules need PyYAML (kili-rules[yaml])") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BundleError(f"{path}: YAML: {exc}") from exc


def _refuse_python_rules(path: Path, doc: Mapping[str, Any]) -> None:
    rules = doc.get("rule")
    if not isinstance(rules, list):
        return
    for i, rule in enumerate(rules, start=1):
        if isinstance(rule, Mapping) and rule.get("kind") == "python":
            name = rule.get("id", f"#{i}")
            raise BundleError(
                f'{path}: rule {name} (rule #{i}) is kind = "python": its module would not '
                "be in the upload; bundle only declarative rules"
            )


def write_bundle(
    rules_path: Path,
    out_dir: Path,
    *,
    events: bool = False,
    requirement: str = DEFAULT_REQUIREMENT,
    force: bool = False,
) -> list[Path]:
    """Write the plugin folder; return the files written. Raises ``BundleError``."""
    doc = _read_document(rules_path)
    _refuse_python_rules(rules_path, doc)
    try:
        RuleSet.from_dict(doc)  # fail here, not on Kili's runner
    except Exception as exc:
        raise BundleError(f"{rules_path}: {exc}") from exc
    requirement = requirement.strip()
    if not requirement or "\n" in requirement:
        raise BundleError("--requirement must be one requirement line (a pin or a wheel URL)")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise BundleError(f"{out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()) and not force:
            raise BundleError(f"{out_dir}: folder is not empty (use --force to overwrite)")
    out_dir.mkdir(parents=True, exist_ok=True)
    source = rules_path.name
    rules_json = json.dumps(doc, ensure_ascii=False, sort_keys=True)
    files = {
        "main.py": (_EVENTS_MAIN if events else _SUBMIT_MAIN).replace("{source}", source),
        RULES_MODULE: _RULES_MODULE.replace("{source}", source).replace(
            "{rules_json}", repr(rules_json)
        ),
        "requirements.txt": requirement + "\n",
    }
    written = []
    for name, text in files.items():
        target = out_dir / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
