"""`kili-rules init --interface`: a commented starting rulebook that lints clean and judges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from kili_rules import RuleSet

INTERFACE: dict[str, Any] = {
    "jobs": {
        "WEATHER": {
            "mlTask": "CLASSIFICATION",
            "required": 1,
            "isChild": False,
            "instruction": "Weather",
            "content": {
                "input": "radio",
                "categories": {
                    "SUNNY": {"name": "Sunny", "children": []},
                    "RAINY": {"name": "Rainy", "children": ["RAIN_KIND"]},
                },
            },
        },
        "RAIN_KIND": {
            "mlTask": "CLASSIFICATION",
            "required": 1,
            "isChild": True,
            "content": {
                "input": "checkbox",
                "categories": {"LIGHT": {"name": "Light"}, "HEAVY": {"name": "Heavy"}},
            },
        },
        "CARS": {
            "mlTask": "OBJECT_DETECTION",
            "required": 0,
            "isChild": False,
            "tools": ["rectangle"],
            "content": {
                "input": "radio",
                "categories": {"CAR": {"name": "Car", "children": ["PLATE"]}},
            },
        },
        "PLATE": {"mlTask": "TRANSCRIPTION", "required": 1, "isChild": True},
        "ROADS": {
            "mlTask": "OBJECT_DETECTION",
            "required": 0,
            "tools": ["polygon"],
            "content": {"input": "radio", "categories": {"ROAD": {"name": "Road"}}},
        },
        "NER": {
            "mlTask": "NAMED_ENTITIES_RECOGNITION",
            "required": 0,
            "content": {"input": "radio", "categories": {"PERSON": {"name": "Person"}}},
        },
    }
}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def box(mid: str, x0: float, y0: float, x1: float, y1: float, plate: str | None) -> dict[str, Any]:
    ann: dict[str, Any] = {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "CAR"}],
        "boundingPoly": [
            {
                "normalizedVertices": [
                    {"x": x0, "y": y1},
                    {"x": x0, "y": y0},
                    {"x": x1, "y": y0},
                    {"x": x1, "y": y1},
                ]
            }
        ],
        "children": {},
    }
    if plate is not None:
        ann["children"] = {"PLATE": {"text": plate}}
    return ann


def test_init_writes_a_rulebook_that_lints_clean_and_judges(tmp_path: Path) -> None:
    (tmp_path / "interface.json").write_text(json.dumps(INTERFACE))
    made = run("init", "--interface", "interface.json", "-o", "rules.toml", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    text = (tmp_path / "rules.toml").read_text()
    # Every rule carries a comment saying why it is there.
    assert text.count("[[rule]]") == sum(
        1 for i, line in enumerate(text.splitlines()) if line == "[[rule]]"
    )
    assert text.count("\n# ") >= text.count("[[rule]]")

    lint = run("lint", "rules.toml", "--interface", "interface.json", cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    rules = RuleSet.from_file(tmp_path / "rules.toml")
    kinds = {(r["kind"], r["job"]) for r in rules.rules}
    assert {
        ("required", "WEATHER"),
        ("answer", "WEATHER"),
        ("required", "RAIN_KIND"),
        ("inside_image", "CARS"),
        ("box", "CARS"),
        ("overlap", "CARS"),
        ("required", "CARS"),
        ("valid_polygon", "ROADS"),
        ("inside_image", "ROADS"),
        ("entity", "NER"),
    } <= kinds

    good = {
        "WEATHER": {"categories": [{"name": "SUNNY"}]},
        "CARS": {"annotations": [box("c1", 0.1, 0.1, 0.3, 0.3, "AB-123")]},
    }
    assert rules.validate(good) == []
    bad = {
        "WEATHER": {"categories": [{"name": "RAINY"}]},  # its required child is missing
        "CARS": {
            "annotations": [
                box("c1", 0.1, 0.1, 0.3, 0.3, None),  # no plate
                box("c2", 0.5, 0.5, 1.2, 0.7, "X"),  # out of the image
            ]
        },
    }
    found = {(i.rule, i.mid) for i in rules.validate(bad)}
    assert ("rain-kind-required", None) in found
    assert ("cars-required", "c1") in found
    assert ("cars-inside-image", "c2") in found
    missing = {"CARS": {"annotations": []}}
    assert ("weather-required", None) in {(i.rule, i.mid) for i in rules.validate(missing)}


def test_init_refuses_to_overwrite_and_bad_interfaces(tmp_path: Path) -> None:
    (tmp_path / "interface.json").write_text(json.dumps(INTERFACE))
    (tmp_path / "rules.toml").write_text("# mine\n")
    again = run("init", "--interface", "interface.json", "-o", "rules.toml", cwd=tmp_path)
    assert again.returncode == 2
    assert "--force" in again.stderr and "Traceback" not in again.stderr
    assert (tmp_path / "rules.toml").read_text() == "# mine\n"
    forced = run(
        "init", "--interface", "interface.json", "-o", "rules.toml", "--force", cwd=tmp_path
    )
    assert forced.returncode == 0 and "[[rule]]" in (tmp_path / "rules.toml").read_text()

    (tmp_path / "empty.json").write_text(json.dumps({"jobs": {}}))
    empty = run("init", "--interface", "empty.json", cwd=tmp_path)
    assert empty.returncode == 2 and "no jobs" in empty.stderr
    (tmp_path / "junk.json").write_text("[1, 2]")
    junk = run("init", "--interface", "junk.json", cwd=tmp_path)
    assert junk.returncode == 2 and "jsonInterface" in junk.stderr


def test_init_to_stdout_is_the_tutorials_rulebook_start(tmp_path: Path) -> None:
    here = Path(__file__).parent / "data" / "seed" / "json_interface.json"
    out = run("init", "--interface", str(here), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rules = RuleSet.from_toml(out.stdout)
    assert {r["kind"] for r in rules.rules} == {"required", "inside_image", "box", "overlap"}
