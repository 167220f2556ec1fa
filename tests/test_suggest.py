"""kili-rules suggest: a rulebook learned from generated clean labels lets a fresh clean sample
pass and flags injected gross errors."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from kili_rules import RuleSet

CATS = {"CAR": (0.12, 0.08), "PERSON": (0.04, 0.10), "SIGN": (0.03, 0.03)}

INTERFACE: dict[str, Any] = {
    "jobs": {
        "DETECTION": {
            "mlTask": "OBJECT_DETECTION",
            "tools": ["rectangle", "polygon"],
            "required": 1,
            "isChild": False,
            "content": {
                "categories": {
                    name: {"name": name, "children": ["PLATE"] if name == "CAR" else []}
                    for name in CATS
                },
                "input": "radio",
            },
        },
        "PLATE": {
            "mlTask": "TRANSCRIPTION",
            "required": 0,
            "isChild": True,
            "content": {"input": "textField"},
        },
    }
}


def _object(rng: random.Random, n: int, cat: str) -> dict[str, Any]:
    mw, mh = CATS[cat]
    w, h = mw * rng.lognormvariate(0, 0.2), mh * rng.lognormvariate(0, 0.2)
    x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
    if cat == "SIGN":  # a diamond polygon
        verts = [(x + w / 2, y), (x + w, y + h / 2), (x + w / 2, y + h), (x, y + h / 2)]
        kind = "polygon"
    else:
        verts = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        kind = "rectangle"
    ann: dict[str, Any] = {
        "mid": f"m{n}",
        "type": kind,
        "categories": [{"name": cat}],
        "boundingPoly": [{"normalizedVertices": [{"x": a, "y": b} for a, b in verts]}],
    }
    if cat == "CAR":
        plate = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ0123456789") for _ in range(7))
        ann["children"] = {"PLATE": {"text": plate}}
    return ann


def clean_label(rng: random.Random) -> dict[str, Any]:
    anns = []
    for cat, most in (("CAR", 4), ("PERSON", 6), ("SIGN", 3)):
        for _ in range(rng.randint(0, most)):
            anns.append(_object(rng, len(anns), cat))
    return {"DETECTION": {"annotations": anns}}


def _bad(rng: random.Random, how: str) -> dict[str, Any]:
    label = clean_label(rng)
    anns = label["DETECTION"]["annotations"]
    if how == "count":
        anns += [_object(rng, 100 + i, "PERSON") for i in range(12)]
        return label
    target = "SIGN" if how in ("degenerate", "outside") else "CAR"
    ann = _object(rng, 99, target)
    verts = ann["boundingPoly"][0]["normalizedVertices"]
    if how == "big":  # ten times the category's usual width and height (clipped to the image)
        w, h = (min(side * 10, 1.0) for side in CATS[target])
        ann["boundingPoly"][0]["normalizedVertices"] = [
            {"x": x, "y": y} for x, y in ((0.0, 0.0), (w, 0.0), (w, h), (0.0, h))
        ]
    elif how == "degenerate":
        v = verts[0]
        ann["boundingPoly"][0]["normalizedVertices"] = [dict(v), dict(v), dict(v)]
    elif how == "outside":
        verts[1]["x"] = 1.3
    elif how == "no_child":
        del ann["children"]
    anns.append(ann)
    return label


def _suggest(tmp_path: Path, records: list[Any]) -> tuple[RuleSet, str]:
    source = tmp_path / "accepted.json"
    source.write_text(json.dumps(records), encoding="utf-8")
    iface = tmp_path / "interface.json"
    iface.write_text(json.dumps(INTERFACE), encoding="utf-8")
    out = tmp_path / "rules.toml"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "kili_rules.cli",
            "suggest",
            str(source),
            "-o",
            str(out),
            "--interface",
            str(iface),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    lint = subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", "lint", str(out), "--interface", str(iface)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "no problems" in lint.stdout
    text = out.read_text(encoding="utf-8")
    return RuleSet.from_toml(text), text


def test_suggest_targets_on_generated_labels(tmp_path: Path) -> None:
    rng = random.Random(20)
    records: list[Any] = [
        {"status": "REVIEWED", "latestLabel": {"jsonResponse": clean_label(rng)}}
        for _ in range(5000)
    ]
    # Sent-back assets (ONGOING again) are not learned from: a huge box there must not widen
    # the bounds.
    records += [{"status": "ONGOING", "latestLabel": {"jsonResponse": _bad(rng, "big")}}] * 50
    rules, text = _suggest(tmp_path, records)
    kinds = {r["kind"] for r in rules.rules}
    assert {"count", "box", "inside_image", "valid_polygon", "required", "text"} <= kinds
    assert "# support 5000 labels" in text

    fresh = [clean_label(random.Random(1000 + i)) for i in range(2000)]
    passed = sum(not rules.has_errors(rules.validate(label)) for label in fresh)
    assert passed / len(fresh) >= 0.99, passed

    for how in ("big", "count", "degenerate", "outside", "no_child"):
        bad = [_bad(random.Random(5000 + i), how) for i in range(200)]
        flagged = sum(rules.has_errors(rules.validate(label)) for label in bad)
        assert flagged / len(bad) >= 0.8, (how, flagged)


def test_suggest_refuses_a_source_without_accepted_labels(tmp_path: Path) -> None:
    source = tmp_path / "none.json"
    source.write_text(json.dumps([{"status": "ONGOING", "jsonResponse": {}}]), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", "suggest", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "no accepted label" in run.stderr


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_backtest_counts_flags_bounces_and_caught_send_backs(tmp_path: Path) -> None:
    rng = random.Random(7)
    train = [{"status": "LABELED", "jsonResponse": clean_label(rng)} for _ in range(1000)]
    _, text = _suggest(tmp_path, train)
    rules_file = tmp_path / "rules.toml"
    # History: 100 assets accepted, 20 whose label was sent back for a box ten times too big,
    # 10 whose reviewer created an issue on a missing plate, 5 sent back for a reason no rule
    # sees (a clean label).
    history: list[Any] = []
    for i in range(100):
        label = {"jsonResponse": clean_label(random.Random(100 + i)), "isSentBackToQueue": False}
        history.append({"id": f"ok{i}", "labels": [label], "issues": []})
    for i in range(20):
        bad = {"jsonResponse": _bad(random.Random(300 + i), "big"), "isSentBackToQueue": True}
        fixed = {"jsonResponse": clean_label(random.Random(400 + i)), "isSentBackToQueue": False}
        history.append({"id": f"big{i}", "labels": [bad, fixed], "issues": []})
    for i in range(10):
        label = {"jsonResponse": _bad(random.Random(500 + i), "no_child")}
        history.append({"id": f"child{i}", "latestLabel": label, "issues": [{"type": "ISSUE"}]})
    for i in range(5):
        label = {"jsonResponse": clean_label(random.Random(600 + i)), "isSentBackToQueue": True}
        history.append({"id": f"other{i}", "labels": [label], "issues": []})
    source = tmp_path / "history.json"
    source.write_text(json.dumps(history), encoding="utf-8")

    run = _cli("backtest", str(rules_file), str(source), "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["labels"] == 135
    assert result["rejected"] == 35
    by_rule = {r["rule"]: r for r in result["rules"]}
    assert by_rule["box-detection-car"]["caught"] == 20
    assert by_rule["box-detection-car"]["flagged"] == 20
    assert by_rule["required-detection-car"]["caught"] == 10
    # the 100 clean labels and the 5 unexplained send-backs are not flagged
    assert result["caught"] == 30
    assert result["bounced"] == 30
    assert abs(result["bounce_rate"] - 30 / 135) < 1e-9
    assert "text-plate" in by_rule and "box-detection-car" in text

    table = _cli("backtest", str(rules_file), str(source))
    assert table.returncode == 0, table.stderr
    assert "box-detection-car" in table.stdout and "20/35" in table.stdout
    assert "135 labels judged; 35 were sent back or got reviewer issues" in table.stdout


def test_backtest_without_history_and_bad_records(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text('[[rule]]\nkind = "count"\njob = "DETECTION"\nmax = 2\n')
    source = tmp_path / "plain.json"
    labels = [clean_label(random.Random(i)) for i in range(30)]
    source.write_text(json.dumps([{"jsonResponse": r} for r in labels]), encoding="utf-8")
    run = _cli("backtest", str(rules_file), str(source), "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    expected = sum(len(r["DETECTION"]["annotations"]) > 2 for r in labels)
    assert result["rejected"] is None and result["rules"][0]["flagged"] == expected
    assert "no history" in _cli("backtest", str(rules_file), str(source)).stdout
    source.write_text(json.dumps([{"jsonResponse": {}}, 3]), encoding="utf-8")
    bad = _cli("backtest", str(rules_file), str(source))
    assert bad.returncode != 0 and "record 1: expected an object" in bad.stderr


def test_suggest_answer_sets_text_alphabet_and_overwrite(tmp_path: Path) -> None:
    from kili_rules.suggest import suggest_rules

    responses: list[Any] = [
        {
            "WEATHER": {"categories": [{"name": ["SUN", "RAIN"][i % 2]}]},
            "CODE": {"text": f"{i:05d}"},
        }
        for i in range(40)
    ]
    text = suggest_rules(responses)
    rules = RuleSet.from_toml(text)
    by_kind = {r["kind"]: r for r in rules.rules}
    assert by_kind["answer"]["allowed"] == ["RAIN", "SUN"]
    assert by_kind["text"]["pattern"] == "^[0-9]+$"
    assert by_kind["text"]["min_length"] == 3 and by_kind["text"]["max_length"] == 8
    assert rules.has_errors(rules.validate({"WEATHER": {"categories": [{"name": "SNOW"}]}}))
    assert rules.has_errors(rules.validate({"CODE": {"text": "12a45"}}))
    assert not rules.validate(responses[3])
    # fewer samples than the support threshold: no rule is guessed from them
    assert "[[rule]]" not in suggest_rules(responses[:5])

    source = tmp_path / "labels.json"
    source.write_text(json.dumps([{"jsonResponse": r} for r in responses]), encoding="utf-8")
    out = tmp_path / "rules.toml"
    out.write_text("keep me")
    refused = _cli("suggest", str(source), "-o", str(out))
    assert refused.returncode != 0 and "pass --force" in refused.stderr
    assert out.read_text() == "keep me"
    assert _cli("suggest", str(source), "-o", str(out), "--force").returncode == 0
    assert 'kind = "answer"' in out.read_text()
