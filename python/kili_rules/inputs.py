"""Inputs users have that are not an iterable of records: a pandas DataFrame
(``kili.assets(..., format="pandas")``) is read row by row, each row a record.

pandas is an optional extra: it is never imported here; a DataFrame is recognized by its type.
(kili's ``ParsedLabel`` objects are handled by the native reader, per item.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any


def is_dataframe(items: object) -> bool:
    """Whether ``items`` is a pandas DataFrame (iterating one gives its column names)."""
    kind = type(items)
    return kind.__name__ == "DataFrame" and kind.__module__.split(".", 1)[0] == "pandas"


def _missing(value: object) -> bool:
    # pandas marks a missing cell with NaN (float or numpy float), NaT or NA. Containers (a label
    # dict, a list of labels) are never missing.
    if isinstance(value, float):
        return math.isnan(value)
    kind = type(value)
    return kind.__name__ in ("NAType", "NaTType") and kind.__module__.startswith("pandas")


def dataframe_records(frame: Any) -> Iterator[dict[str, Any]]:
    """Each row of a DataFrame as a record, the column names as keys.

    A missing cell is None, what pandas stands it for (``latestLabel`` NaN: no label;
    ``resolution`` NaN: unknown), except ``jsonResponse``: a record missing it is left without
    the key, so that the label is reported ``unchecked`` rather than judged empty.
    """
    columns = [str(c) for c in frame.columns]
    rows: Iterable[tuple[Any, ...]] = frame.itertuples(index=False, name=None)
    for row in rows:
        record: dict[str, Any] = {}
        for key, value in zip(columns, row, strict=True):
            if _missing(value):
                if key != "jsonResponse":
                    record[key] = None
            elif type(value).__module__ == "numpy":
                # numeric columns give numpy scalars; the reader takes Python's own types
                record[key] = value.item()
            else:
                record[key] = value
        yield record
