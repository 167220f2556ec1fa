"""`profile`, `suggest` and `backtest` learn from a live project (``--project``) as from an
export: the real kili client against the emulator, the CLI in process. A scan that could not
read every asset is an error, never a profile or a rulebook learned from part of a project."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kili_rules import RuleSet
from kili_rules.cli import main
from kili_rules.testing import KiliEmulator

pytestmark = pytest.mark.e2e

SIZES = {"CAR": 0.12, "SIGN": 0.03}


def box(rng: random.Random, n: int, cat: str, scale: float = 1.0) -> dict[str, Any]:
    w = h = SIZES[cat] * rng.lognormvariate(0, 0.15) * scale
    x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
    verts = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    return {
        "mid": f"m{n}",
        "type": "rectangle",
        "categories": [{"name": cat}],
        "boundingPoly": [{"normalizedVertices": [{"x": a, "y": b} for a, b in verts]}],
    }


def label(rng: random.Random, scale: float = 1.0) -> dict[str, Any]:
    anns = [box(rng, i, "CAR" if i % 2 else "SIGN", scale) for i in range(rng.randint(2, 4))]
    return {"DETECTION": {"annotations": anns}}


@pytest.fixture()
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[KiliEmulator]:
    monkeypatch.setenv("KILI_SDK_SKIP_CHECKS", "1")
    with KiliEmulator() as emulator:
        monkeypatch.setenv("LEARN_KEY", emulator.api_key)
        yield emulator


def cli(emu: KiliEmulator, *argv: str) -> int:
    return main([*argv, "--api-key-env", "LEARN_KEY", "--api-endpoint", emu.endpoint])


@pytest.fixture()
def project(emu: KiliEmulator) -> tuple[str, list[str]]:
    """300 reviewed clean labels, 20 labels of boxes 6x too big that a reviewer sent back."""
    rng = random.Random(7)
    pid = emu.add_project()
    emu.add_assets(pid, [{"status": "REVIEWED", "labels": [label(rng)]} for _ in range(300)])
    bad = emu.add_assets(
        pid, [{"status": "LABELED", "labels": [label(rng, scale=6)]} for _ in range(20)]
    )
    from kili.client import Kili

    kili = Kili(api_key=emu.api_key, api_endpoint=emu.endpoint)
    kili.send_back_to_queue(asset_ids=bad)
    return pid, bad


def test_profile_suggest_backtest_from_a_project(
    emu: KiliEmulator, project: tuple[str, list[str]], tmp_path: Path, capsys: Any
) -> None:
    pid, _bad = project
    prof = tmp_path / "profile.json"
    assert cli(emu, "profile", "--project", pid, "-o", str(prof)) == 0
    written = json.loads(prof.read_text())
    assert written["labels"] == 320  # every asset's latest label, the sent-back ones too
    assert set(written["jobs"]["DETECTION"]["categories"]) == {"CAR", "SIGN"}

    rules_path = tmp_path / "rules.toml"
    assert cli(emu, "suggest", "--project", pid, "-o", str(rules_path)) == 0
    err = capsys.readouterr().err
    assert "from 300 accepted labels" in err, err  # the 20 sent back (ONGOING) are not learned
    rules = RuleSet.from_toml(rules_path.read_text())
    fresh = [label(random.Random(1000 + i)) for i in range(200)]
    assert sum(not rules.has_errors(rules.validate(lb)) for lb in fresh) >= 198

    assert cli(emu, "backtest", str(rules_path), "--project", pid, "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["labels"] == 320
    assert result["rejected"] == 20  # the history: labels with isSentBackToQueue
    assert result["caught"] >= 18, result


def test_a_project_read_only_in_part_is_an_error(
    emu: KiliEmulator, project: tuple[str, list[str]], tmp_path: Path, capsys: Any
) -> None:
    pid, _bad = project
    emu.inject_count_fault(-50, calls=None)  # every countAssets says 50 fewer than Kili holds
    code = cli(emu, "profile", "--project", pid, "-o", str(tmp_path / "p.json"))
    assert code == 2
    assert "cannot be trusted" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def test_source_or_project_and_an_unknown_project(
    emu: KiliEmulator, tmp_path: Path, capsys: Any
) -> None:
    records = tmp_path / "records.json"
    records.write_text("[]")
    out = str(tmp_path / "p.json")
    assert cli(emu, "profile", str(records), "--project", "p", "-o", out) == 2
    assert "either SOURCE or --project" in capsys.readouterr().err
    assert cli(emu, "profile", "-o", out) == 2
    assert cli(emu, "suggest", "--project", "no-such-project") == 2
    assert "no-such-project" in capsys.readouterr().err
