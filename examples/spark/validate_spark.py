"""Validate labels held in a Spark DataFrame with kili-rules, through ``mapInArrow``.

Input: one row per label, columns ``asset_id``, ``external_id``, ``label_id`` and
``json_response`` (the jsonResponse as the JSON string Kili returns). Output: a DataFrame of
issue rows with the columns of a kili-rules Report. Each Spark task receives the RuleSet's
engine (it pickles as the native rules' normalized JSON and the Python rules by reference, so
a ``@python_rule``'s module must be importable on the executors) and checks its Arrow batches
with it; the jsonResponse strings go to the native reader as they are.

    from pyspark.sql import SparkSession
    spark = SparkSession.builder.getOrCreate()
    # columns asset_id, external_id, label_id, json_response
    labels = spark.read.parquet("labels.parquet")
    issues = validate_spark(labels, RuleSet.from_file("rules.toml"))
    issues.groupBy("rule").count().show()
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from kili_rules import RuleSet
from kili_rules.engine import Engine
from kili_rules.report import COLUMNS

NUMERIC = {"frame": pa.int64(), "value": pa.float64(), "limit": pa.float64()}
#: The Report's columns as an Arrow schema (what the Spark result is made of).
SCHEMA = pa.schema([(name, NUMERIC.get(name, pa.string())) for name in COLUMNS])
INPUT = ("asset_id", "external_id", "label_id", "json_response")


def check_batches(engine: Engine, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The function Spark runs per partition: Arrow batches of labels in, issue rows out."""
    rules = RuleSet.of_engine(engine)
    for batch in batches:
        columns = [batch.column(name).to_pylist() for name in INPUT]
        items = [
            {"id": a, "externalId": e, "latestLabel": {"id": lb, "jsonResponse": j}}
            for a, e, lb, j in zip(*columns, strict=True)
        ]
        rows = rules.validate_many(items, threads=1, progress=False).to_dicts()
        yield pa.RecordBatch.from_pylist(rows, schema=SCHEMA)


def validate_spark(labels: Any, rules: RuleSet) -> Any:
    """Issue rows of every label of a Spark DataFrame (see the module docstring)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    engine = rules.engine  # native and Python rules: the one engine every path uses

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return check_batches(engine, batches)

    return labels.select(*INPUT).mapInArrow(run, from_arrow_schema(SCHEMA))
