"""Seed files: the projects, assets and labels a standalone emulator starts with.

A seed file is JSON (``.json``), TOML (``.toml``) or YAML (``.yaml``/``.yml``, needs PyYAML)::

    {
      "projects": [
        {
          "id": "project-cars",                 # optional (default project-N)
          "title": "Cars",                      # optional
          "input_type": "IMAGE",                # optional (default IMAGE)
          "json_interface": {"jobs": {...}},    # or "json_interface_file": "interface.json"
          "steps": ["Labeling", "Review"],      # optional: a workflow v2 project
          "assets": [
            {
              "id": "asset-car-1",              # optional (default asset-N)
              "external_id": "car_1",           # optional (default: the id)
              "content": "https://.../car_1.jpg",  # optional
              "resolution": [1920, 1080],       # optional: width, height
              "json_metadata": {"source": "scanner"},  # optional
              "labels": [                       # optional, oldest first
                {"json_response": {...}, "label_type": "DEFAULT", "author_id": "alice"}
              ]
            }
          ]
        }
      ]
    }

``json_interface_file`` (and ``json_response_file`` in a label) are read relative to the seed
file. Unknown keys are refused, so a typo does not silently seed less than meant. Every error
names the file and the place in it (``seed.json: projects[0].assets[2].resolution: ...``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .emulator import KiliEmulator
from .state import EmulatorError

_PROJECT_KEYS = {
    "id",
    "title",
    "description",
    "input_type",
    "json_interface",
    "json_interface_file",
    "steps",
    "assets",
}
_ASSET_KEYS = {"id", "external_id", "content", "resolution", "status", "json_metadata", "labels"}
_LABEL_KEYS = {"json_response", "json_response_file", "label_type", "author_id"}
_LABEL_TYPES = {"DEFAULT", "REVIEW", "AUTOSAVE", "PREDICTION", "INFERENCE"}


class SeedError(ValueError):
    """A seed file that cannot be read or loaded; the message names the file and the place."""


@dataclass
class Seeded:
    """What a seed file created, in order."""

    projects: list[str] = field(default_factory=list)
    assets: int = 0
    labels: int = 0


def read_seed(path: str | Path) -> dict[str, Any]:
    """Parse a seed file (JSON, TOML or YAML by suffix) into a dict, without loading it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SeedError(f"{path}: cannot read the seed file: {error.strerror or error}") from error
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped, unused-ignore]
        except ImportError as error:
            raise SeedError(
                f"{path}: a YAML seed file needs PyYAML (pip install pyyaml); "
                "or write it as JSON or TOML"
            ) from error
        try:
            data: Any = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise SeedError(f"{path}: not valid YAML: {error}") from error
    else:
        parser = _toml(path) if suffix == ".toml" else json
        try:
            data = parser.loads(text)
        except ValueError as error:  # json's and tomllib's decode errors are ValueErrors
            kind = "TOML" if suffix == ".toml" else "JSON"
            raise SeedError(f"{path}: not valid {kind}: {error}") from error
    if not isinstance(data, dict):
        raise SeedError(f"{path}: expected an object with a 'projects' list at the top")
    return data


def _toml(path: Path) -> Any:
    try:
        return importlib.import_module("tomllib")
    except ImportError:  # Python 3.10
        try:
            return importlib.import_module("tomli")
        except ImportError:
            raise SeedError(
                f"{path}: a TOML seed file needs Python 3.11+ or tomli; or write it as JSON"
            ) from None


def load_seed(emulator: KiliEmulator, path: str | Path) -> Seeded:
    """Read a seed file and create its projects, assets and labels on ``emulator``.

    No webhook fires for seeded labels (they are the state the emulator starts from).
    """
    path = Path(path)
    data = read_seed(path)
    return _Loader(emulator, path).load(data)


class _Loader:
    def __init__(self, emulator: KiliEmulator, path: Path) -> None:
        self.emulator = emulator
        self.path = path
        self.seeded = Seeded()

    def fail(self, where: str, message: str) -> SeedError:
        return SeedError(f"{self.path}: {where}: {message}")

    def load(self, data: Mapping[str, Any]) -> Seeded:
        unknown = set(data) - {"projects"}
        if unknown:
            raise self.fail("top level", f"unknown key(s) {sorted(unknown)} (expected 'projects')")
        projects = data.get("projects")
        if not isinstance(projects, list) or not projects:
            raise self.fail("projects", "expected a non-empty list of projects")
        for index, project in enumerate(projects):
            self.project(f"projects[{index}]", project)
        return self.seeded

    def object(self, where: str, value: Any, keys: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {type(value).__name__}")
        unknown = set(value) - keys
        if unknown:
            raise self.fail(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(keys)}")
        return value

    def string(self, where: str, value: Any) -> str | None:
        if value is not None and not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {value!r}")
        return value

    def json_file(self, where: str, name: Any) -> Any:
        if not isinstance(name, str):
            raise self.fail(where, f"expected a file name, got {name!r}")
        target = self.path.parent / name
        try:
            return json.loads(target.read_text(encoding="utf-8"))
        except OSError as error:
            raise self.fail(where, f"cannot read {target}: {error.strerror or error}") from error
        except ValueError as error:
            raise self.fail(where, f"{target} is not valid JSON: {error}") from error

    def project(self, where: str, raw: Any) -> None:
        spec = self.object(where, raw, _PROJECT_KEYS)
        if "json_interface" in spec and "json_interface_file" in spec:
            raise self.fail(where, "give json_interface or json_interface_file, not both")
        if "json_interface_file" in spec:
            interface = self.json_file(f"{where}.json_interface_file", spec["json_interface_file"])
        else:
            interface = spec.get("json_interface")
        if interface is not None and not (
            isinstance(interface, dict) and isinstance(interface.get("jobs"), dict)
        ):
            raise self.fail(f"{where}.json_interface", "expected an object with a 'jobs' object")
        steps = spec.get("steps", [])
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            raise self.fail(f"{where}.steps", "expected a list of step names")
        assets = spec.get("assets", [])
        if not isinstance(assets, list):
            raise self.fail(f"{where}.assets", "expected a list of assets")
        try:
            project_id = self.emulator.add_project(
                self.string(f"{where}.id", spec.get("id")),
                json_interface=interface,
                input_type=self.string(f"{where}.input_type", spec.get("input_type")) or "IMAGE",
                title=self.string(f"{where}.title", spec.get("title")) or "Emulated project",
                description=self.string(f"{where}.description", spec.get("description")) or "",
                steps=steps,
            )
        except (EmulatorError, ValueError) as error:
            raise self.fail(where, str(error)) from error
        self.seeded.projects.append(project_id)
        for index, asset in enumerate(assets):
            self.asset(f"{where}.assets[{index}]", project_id, asset)

    def asset(self, where: str, project_id: str, raw: Any) -> None:
        spec = self.object(where, raw, _ASSET_KEYS)
        resolution = spec.get("resolution")
        if resolution is not None and not (
            isinstance(resolution, list)
            and len(resolution) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in resolution)
        ):
            raise self.fail(f"{where}.resolution", f"expected [width, height], got {resolution!r}")
        metadata = spec.get("json_metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise self.fail(f"{where}.json_metadata", "expected an object")
        labels = spec.get("labels", [])
        if not isinstance(labels, list):
            raise self.fail(f"{where}.labels", "expected a list of labels")
        try:
            asset_id = self.emulator.add_asset(
                project_id,
                self.string(f"{where}.id", spec.get("id")),
                external_id=self.string(f"{where}.external_id", spec.get("external_id")),
                resolution=(resolution[0], resolution[1]) if resolution else None,
                content=self.string(f"{where}.content", spec.get("content")) or "",
                status=self.string(f"{where}.status", spec.get("status")) or "TODO",
                json_metadata=metadata,
            )
        except (EmulatorError, ValueError) as error:
            raise self.fail(where, str(error)) from error
        self.seeded.assets += 1
        for index, label in enumerate(labels):
            self.label(f"{where}.labels[{index}]", asset_id, label)

    def label(self, where: str, asset_id: str, raw: Any) -> None:
        spec = self.object(where, raw, _LABEL_KEYS)
        if ("json_response" in spec) == ("json_response_file" in spec):
            raise self.fail(where, "give exactly one of json_response and json_response_file")
        if "json_response_file" in spec:
            response = self.json_file(f"{where}.json_response_file", spec["json_response_file"])
        else:
            response = spec["json_response"]
        if not isinstance(response, dict):
            raise self.fail(f"{where}.json_response", "expected an object (a Kili jsonResponse)")
        label_type = self.string(f"{where}.label_type", spec.get("label_type")) or "DEFAULT"
        if label_type not in _LABEL_TYPES:
            raise self.fail(
                f"{where}.label_type", f"{label_type!r} is not one of {sorted(_LABEL_TYPES)}"
            )
        try:
            self.emulator.add_label(
                asset_id,
                response,
                label_type=label_type,
                author_id=self.string(f"{where}.author_id", spec.get("author_id")),
            )
        except (EmulatorError, ValueError) as error:
            raise self.fail(where, str(error)) from error
        self.seeded.labels += 1
