"""What the paging tests share: a count rule, clean and bad labels, a project of them, and the
emulator with a real kili client whose rate limit does not slow the tests down."""

from __future__ import annotations

from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.testing import KiliEmulator

RULES = RuleSet.from_dict(
    {"rule": [{"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1}]}
)


def box(mid: str) -> dict[str, Any]:
    points = [(0.1, 0.1), (0.1, 0.2), (0.2, 0.2), (0.2, 0.1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "OBJECT_A"}],
        "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in points]}],
    }


CLEAN = {"JOB_0": {"annotations": [box("a")]}}
BAD = {"JOB_0": {"annotations": [box("a"), box("b")]}}


def roomy_client(emu: KiliEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real kili client on the emulator, its faults cleared, under a rate limit the
    tests never reach (the SDK's own limiter would make each test wait)."""
    from kili.core.graphql import graphql_client
    from pyrate_limiter import Duration, Limiter, Rate

    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    roomy = Limiter(Rate(100_000, Duration.MINUTE), max_delay=1000)
    monkeypatch.setattr(graphql_client, "_limiter", roomy)
    emu.clear_faults()
    return emu.kili_client()


def project_of(emu: KiliEmulator, clean: int, bad: int = 0) -> tuple[str, list[str]]:
    """``clean`` clean assets, then ``bad`` assets breaking the count rule (the last pages)."""
    project = emu.add_project()
    ids = emu.add_assets(
        project,
        [{"labels": [CLEAN]} for _ in range(clean)] + [{"labels": [BAD]} for _ in range(bad)],
    )
    return project, ids
