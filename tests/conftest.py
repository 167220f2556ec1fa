"""Shared test helpers: fixture paths and loaders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
SEED = DATA / "seed"
KILI_SDK = DATA / "kili-shapes"
EXAMPLES = Path(__file__).parent.parent / "examples"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture()
def tutorial_rules() -> Any:
    from kili_rules import RuleSet

    return RuleSet.from_file(EXAMPLES / "rules.toml")


@pytest.fixture(scope="session")
def postgres_url() -> Any:
    """A real PostgreSQL server started for this test session (skips only without binaries)."""
    pytest.importorskip("psycopg")
    from _postgres import postgres_server

    yield from postgres_server()
