"""Profiles (issue 20, point 2): per job and category statistics, against numpy."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kili_rules import profile
from kili_rules.profile import ProfileError

MEDIANS = {"car": 0.02, "person": 0.005, "sign": 0.001}  # median box areas, normalized


def generate(
    n_labels: int, seed: int = 3, outliers: float = 0.0, injected: set[str] | None = None
) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """Labels with three categories of log-normal box sizes, a fraction ``outliers`` of the
    boxes 20 times too big or too small (their mids added to ``injected``); returns the
    labels and every area."""
    rng = random.Random(seed)
    labels, areas = [], {c: [] for c in MEDIANS}
    for i in range(n_labels):
        anns = []
        for k in range(rng.randint(1, 6)):
            cat = rng.choice(sorted(MEDIANS))
            area = MEDIANS[cat] * math.exp(rng.gauss(0.0, 0.4))
            if rng.random() < outliers:
                area *= rng.choice((20.0, 1 / 20))
                assert injected is not None
                injected.add(f"m{i}-{k}")
            aspect = math.exp(rng.gauss(0.0, 0.2))
            w, h = math.sqrt(area * aspect), math.sqrt(area / aspect)
            x, y = rng.uniform(0, max(0.0, 1 - w)), rng.uniform(0, max(0.0, 1 - h))
            pts = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
            areas[cat].append(w * h)
            anns.append(
                {
                    "mid": f"m{i}-{k}",
                    "type": "rectangle",
                    "categories": [{"name": cat}],
                    "boundingPoly": [{"normalizedVertices": [{"x": a, "y": b} for a, b in pts]}],
                }
            )
        labels.append({"jsonResponse": {"OBJ": {"annotations": anns}}})
    return labels, areas


def test_profile_matches_numpy_and_round_trips(tmp_path: Path) -> None:
    labels, areas = generate(400)
    prof = profile.build(labels)
    assert prof["format"] == "kili-rules-profile" and prof["version"] == 1
    assert prof["labels"] == 400
    cats = prof["jobs"]["OBJ"]["categories"]
    assert sorted(cats) == sorted(MEDIANS)
    for cat, xs in areas.items():
        a = np.array(xs)
        s = cats[cat]["area"]
        assert s["count"] == len(xs)
        for q, v in s["quantiles"].items():
            assert v == pytest.approx(float(np.quantile(a, float(q))), rel=1e-9)
        assert s["median"] == pytest.approx(float(np.median(a)), rel=1e-9)
        assert s["mad"] == pytest.approx(float(np.median(np.abs(a - np.median(a)))), rel=1e-9)
        la = np.log(a)
        assert s["log_median"] == pytest.approx(float(np.median(la)), rel=1e-9)
        assert s["log_mad"] == pytest.approx(float(np.median(np.abs(la - np.median(la)))), rel=1e-9)
        # the generator's median is recovered (log-normal, sigma 0.4, a few hundred samples)
        assert s["median"] == pytest.approx(MEDIANS[cat], rel=0.1)
        assert cats[cat]["vertices"]["median"] == 4
    for cat in MEDIANS:
        counts = [
            sum(
                a["categories"][0]["name"] == cat for a in lab["jsonResponse"]["OBJ"]["annotations"]
            )
            for lab in labels
        ]
        held = np.array([c for c in counts if c])
        s = cats[cat]["objects_per_label"]
        assert s["count"] == len(held)
        assert s["median"] == float(np.median(held))
    path = tmp_path / "profile.json"
    profile.dump(prof, path)
    assert profile.load(path) == json.loads(json.dumps(prof))


def test_answers_and_text_lengths() -> None:
    records = [
        {"CLS": {"categories": [{"name": "A"}]}, "TXT": {"text": "hello"}},
        json.dumps({"CLS": {"categories": [{"name": "B"}]}, "TXT": {"text": "hi"}}),
        {"latestLabel": {"jsonResponse": json.dumps({"CLS": {"categories": [{"name": "A"}]}})}},
        {"latestLabel": None},
    ]
    prof = profile.build(records)
    assert prof["labels"] == 3
    assert prof["jobs"]["CLS"]["answers"] == {"A": 2, "B": 1}
    assert prof["jobs"]["TXT"]["categories"][""]["text_length"]["quantiles"]["0"] == 2
    assert prof["jobs"]["TXT"]["categories"][""]["text_length"]["quantiles"]["1"] == 5


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([42], "record 0: expected an object, got int"),
        (["{not json"], "record 0: not JSON"),
        ([{"J": {"annotations": {}}}], "record 0: job 'J' annotations is not a list"),
        (
            [{"J": {"annotations": [{"boundingPoly": [{"normalizedVertices": [{"x": "a"}]}]}]}}],
            "record 0, job 'J', annotation 0: a vertex without numeric x and y",
        ),
        ([{"J": {"categories": [{"nom": "A"}]}}], "a category without a string name"),
    ],
)
def test_bad_records_name_what_and_where(records: list[Any], message: str) -> None:
    with pytest.raises(ProfileError, match=message.replace("(", r"\(")):
        profile.build(records)


def test_bad_profile_files(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_text('{"format": "kili-rules-profile", "version": 9, "jobs": {}}')
    with pytest.raises(ProfileError, match="profile version 9; this kili-rules reads 1"):
        profile.load(p)
    p.write_text("[]")
    with pytest.raises(ProfileError, match="not a kili-rules profile"):
        profile.load(p)
    with pytest.raises(ProfileError, match="No such file"):
        profile.load(tmp_path / "missing.json")


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kili_rules.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_profile_of_list_jsonl_zip_and_folder_agree(tmp_path: Path) -> None:
    labels, _ = generate(60)
    assets = [
        {"id": f"a{i}", "externalId": f"x{i}", "latestLabel": lab} for i, lab in enumerate(labels)
    ]
    sources = {"list": tmp_path / "records.json", "jsonl": tmp_path / "records.jsonl"}
    sources["list"].write_text(json.dumps(labels))
    sources["jsonl"].write_text("\n".join(json.dumps(a) for a in assets) + "\n")
    folder = tmp_path / "export"
    (folder / "labels").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as z:
        for a in assets:
            body = json.dumps(a)
            z.writestr(f"labels/{a['externalId']}.json", body)
            (folder / "labels" / f"{a['externalId']}.json").write_text(body)
    sources["zip"], sources["folder"] = tmp_path / "export.zip", folder
    expected = json.loads(json.dumps(profile.build(labels)))
    for name, src in sources.items():
        out = tmp_path / f"{name}.profile.json"
        result = run_cli("profile", src, "-o", out)
        assert result.returncode == 0, result.stderr
        assert "profile of 60 labels, 1 jobs" in result.stdout
        assert json.loads(out.read_text()) == expected, name


def test_cli_profile_errors_are_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    for src, needle in [
        (empty, "no labels to profile"),
        (bad, "record 0: expected an object, got int"),
        (tmp_path / "missing.json", "No such file"),
        (tmp_path, "a folder without data.json or labels/*.json"),
    ]:
        result = run_cli("profile", src, "-o", tmp_path / "out.json")
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kili-rules: error: "), result.stderr
        assert needle in lines[0], lines[0]
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_outliers_found_at_recall_and_precision_090(seed: int) -> None:
    injected: set[str] = set()
    labels, _ = generate(3000, seed=seed, outliers=0.01, injected=injected)
    assert len(injected) > 60
    found = {o.mid for o in profile.find_outliers(labels, job="OBJ", measure="area")}
    hits = len(found & injected)
    assert hits / len(injected) >= 0.9  # recall
    assert hits / len(found) >= 0.9  # precision


def test_outlier_rows_show_value_and_median_and_need_support() -> None:
    injected: set[str] = set()
    labels, _ = generate(300, seed=5, outliers=0.02, injected=injected)
    rows = profile.find_outliers(labels, job="OBJ", measure="area")
    assert rows and all(r.z > 3.5 for r in rows)
    for r in rows:
        assert r.median == pytest.approx(MEDIANS[r.category], rel=0.2)
        ratio = r.value / r.median
        assert ratio > 5 or ratio < 1 / 5
    assert profile.find_outliers(labels, job="OBJ", measure="area", min_support=10**6) == []
    with pytest.raises(ProfileError, match="measure 'size': expected one of area"):
        profile.find_outliers(labels, job="OBJ", measure="size")


def test_one_label_judged_against_a_profile() -> None:
    clean, _ = generate(500, seed=8)
    prof = json.loads(json.dumps(profile.build(clean)))
    w = h = math.sqrt(MEDIANS["car"] * 40)  # a triangle of area 20x the median
    big = {
        "mid": "big",
        "categories": [{"name": "car"}],
        "boundingPoly": [
            {"normalizedVertices": [{"x": 0, "y": 0}, {"x": w, "y": 0}, {"x": w, "y": h}]}
        ],
    }
    ok = dict(big, mid="ok")
    s = math.sqrt(MEDIANS["car"] * 2)  # a right triangle of area s*s/2 = the median
    ok["boundingPoly"] = [
        {"normalizedVertices": [{"x": 0, "y": 0}, {"x": s, "y": 0}, {"x": s, "y": s}]}
    ]
    one = {"OBJ": {"annotations": [big, ok]}}
    # on its own, one label has no support: nothing judged
    assert profile.find_outliers([one], job="OBJ", measure="area") == []
    rows = profile.find_outliers([one], job="OBJ", measure="area", baseline=prof)
    assert [r.mid for r in rows] == ["big"]
    assert rows[0].median == prof["jobs"]["OBJ"]["categories"]["car"]["area"]["median"]


def test_share_findings_objects_and_answers() -> None:
    def box(cat: str) -> dict[str, Any]:
        return {"categories": [{"name": cat}]}

    records = [
        {"OBJ": {"annotations": [box("a")] * 8 + [box("b")]}},
        {"OBJ": {"annotations": [box("c")]}},
    ]
    rows = profile.share_findings(records, job="OBJ", min_share=0.15)
    assert [(r.category, r.count, r.total) for r in rows] == [("b", 1, 10), ("c", 1, 10)]
    rows = profile.share_findings(records, job="OBJ", max_share=0.5)
    assert [(r.category, r.share) for r in rows] == [("a", 0.8)]
    assert profile.share_findings(records, job="OBJ", min_share=0.1, max_share=0.8) == []
    answers = [{"CLS": {"categories": [{"name": n}]}} for n in "xxxy"]
    rows = profile.share_findings(answers, job="CLS", of="answers", max_share=0.7)
    assert [(r.category, r.share) for r in rows] == [("x", 0.75)]
    assert profile.share_findings([], job="OBJ", min_share=0.5) == []
    with pytest.raises(ProfileError, match="max_share 2: expected a fraction"):
        profile.share_findings(records, job="OBJ", max_share=2)
    with pytest.raises(ProfileError, match="give min_share, max_share or both"):
        profile.share_findings(records, job="OBJ")
