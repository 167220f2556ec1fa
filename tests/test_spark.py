"""The Spark mapInArrow example (examples/spark) on a local Spark: same rows as validate_many.

Needs pyspark and a Java runtime (not in the default test extras: pyspark is ~300 MB).
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyspark", reason="the Spark example needs pyspark (pip install pyspark)")
if shutil.which("java") is None:
    pytest.skip("the Spark example needs a Java runtime", allow_module_level=True)

from _pyrules_checks import wide_box
from kili_rules import RuleSet

TESTS = Path(__file__).resolve().parent

EXAMPLE = Path(__file__).parent.parent / "examples" / "spark" / "validate_spark.py"
RULES = RuleSet.from_dict(
    {
        "rule": [
            {"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1},
            {"kind": "area", "job": "JOB_0", "max": 0.05, "severity": "warning"},
        ]
    }
)
#: One RuleSet with a native rule and a Python rule (as tests/test_every_path.py).
WITH_PYTHON = RuleSet(
    [{"id": "one-a", "kind": "count", "job": "JOB_0", "category": "OBJECT_A", "max": 1}, wide_box]
)


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("validate_spark", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def box(mid: str, x: float, s: float) -> dict[str, Any]:
    points = [(x, 0.1), (x, 0.1 + s), (x + s, 0.1 + s), (x + s, 0.1)]
    return {
        "mid": mid,
        "type": "rectangle",
        "categories": [{"name": "OBJECT_A"}],
        "boundingPoly": [{"normalizedVertices": [{"x": a, "y": b} for a, b in points]}],
    }


@pytest.mark.filterwarnings("ignore::FutureWarning")  # pyspark about pandas 3
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_map_in_arrow_gives_the_rows_of_validate_many(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = run_spark(RULES, monkeypatch)
    assert any(r["kind"] == "invalid_label" and r["asset_id"] == "bad" for r in rows)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_spark_runs_the_python_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The every-path test's Spark leg: a Python rule's rows come out of the executors too."""
    rows = run_spark(WITH_PYTHON, monkeypatch)
    assert {r["rule"] for r in rows} >= {"one-a", "wide-box", "invalid_label"}


def run_spark(rules: RuleSet, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The example on a local Spark over 401 labels; its rows equal validate_many's."""
    from pyspark.sql import SparkSession

    # Spark's Python workers import the Python rule by reference (tests/_pyrules_checks.py):
    # the JVM, started by the first session, hands its PYTHONPATH on to them.
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), path) if p))

    example = load_example()
    rng = random.Random(4)
    data = []
    for i in range(400):
        n = rng.randint(0, 3)
        jr = {
            "JOB_0": {
                "annotations": [
                    box(f"m{k}", 0.2 * k, rng.choice([0.1, 0.3, 0.6])) for k in range(n)
                ]
            }
        }
        data.append((f"a{i}", f"e{i}", f"l{i}", json.dumps(jr)))
    # one label the native reader refuses: an invalid_label row
    data.append(("bad", "bad-e", "bad-l", '{"JOB_0": {"annotations": 3}}'))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("kili-rules-test")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "512m")
            .getOrCreate()
        )
    try:
        labels = spark.createDataFrame(
            data, "asset_id string, external_id string, label_id string, json_response string"
        ).repartition(3)
        rows = [r.asDict() for r in example.validate_spark(labels, rules).collect()]
    finally:
        spark.stop()
    items = [
        {"id": a, "externalId": e, "latestLabel": {"id": lb, "jsonResponse": j}}
        for a, e, lb, j in data
    ]
    expected = rules.validate_many(items, progress=False).to_dicts()

    def same(row: dict[str, Any]) -> dict[str, Any]:
        # an unreadable item is named by its position, which is per Arrow batch in Spark
        out = dict(row, source=None)
        out["text"] = re.sub(r"^item \d+: ", "", out["text"])
        return out

    key = lambda r: (r["asset_id"], r["rule"], r["mid"] or "", r["text"])  # noqa: E731
    assert len(expected) > 100
    assert sorted(map(same, rows), key=key) == sorted(map(same, expected), key=key)
    return rows
