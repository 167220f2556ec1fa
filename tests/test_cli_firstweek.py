"""What a team meets in its first week: the example rulebooks and the audit's usage checks,
each through the CLI as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [ROOT / "examples" / "rules.toml", ROOT / "examples" / "webhook" / "rules.toml"]


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tutorial_too_large(points: list[tuple[float, float]]) -> bool:
    """The Kili webhook tutorial's check, as it writes it: the extent of the vertices."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (max(xs) - min(xs)) * (max(ys) - min(ys)) > 0.33


@pytest.mark.parametrize("rules", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_rulebooks_flag_what_the_tutorial_flags(rules: Path, tmp_path: Path) -> None:
    # A box from (0.10, 0.10) to (0.85, 0.54) given as a triangle-ish quad: its extent is
    # 0.75 x 0.44 = 0.33 + a bit (the tutorial flags it), its polygon area is half that.
    points = [(0.10, 0.10), (0.85, 0.10), (0.85, 0.54), (0.10, 0.10)]
    shapes = {
        "rectangle": [(0.10, 0.10), (0.85, 0.10), (0.85, 0.54), (0.10, 0.54)],
        "polygon": points,
    }
    records = []
    for name, vertices in shapes.items():
        assert tutorial_too_large(vertices)
        annotation = {
            "mid": name,
            "type": name,
            "categories": [{"name": "OBJECT_B"}],
            "boundingPoly": [{"normalizedVertices": [{"x": x, "y": y} for x, y in vertices]}],
        }
        records.append(
            {
                "id": f"asset-{name}",
                "externalId": name,
                "latestLabel": {"id": f"label-{name}", "jsonResponse": {"JOB_0": {
                    "annotations": [annotation]}}},
            }
        )  # fmt: skip
    export = tmp_path / "data.json"
    export.write_text(json.dumps(records))
    result = run("check", export, "--rules", rules, "--format", "json", "--no-progress")
    assert result.returncode == 1, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert sorted(r["external_id"] for r in rows if r["rule"] == "bbox-too-large") == [
        "polygon",
        "rectangle",
    ]
