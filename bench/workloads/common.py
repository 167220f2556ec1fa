"""Helpers shared by the workloads."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

Key = tuple[Any, ...]


@contextmanager
def frozen(make: Callable[[], T]) -> Iterator[T]:
    """Build a fixture with the collector off, then freeze it: neither side of a comparison
    pays for the collector walking millions of fixture objects (a cost the pure-Python side
    would otherwise carry in long-lived processes)."""
    gc.collect()
    gc.disable()
    try:
        data = make()
    finally:
        gc.enable()
    gc.freeze()
    try:
        yield data
    finally:
        del data
        gc.unfreeze()
        gc.collect()


def kili_keys(rows: Iterable[Any], *, text: bool) -> set[Key]:
    """(label id, rule, mid[, text]) of kili-rules report rows."""
    if text:
        return {(r.label_id, r.rule, r.mid, r.text) for r in rows}
    return {(r.label_id, r.rule, r.mid, None) for r in rows}


def assert_same(name: str, baseline: set[Key], kili: set[Key]) -> None:
    """Equal issue sets, or an error listing a few differences on each side."""
    if baseline == kili:
        return
    only_b = sorted(baseline - kili, key=repr)[:5]
    only_k = sorted(kili - baseline, key=repr)[:5]
    raise AssertionError(
        f"{name}: baseline and kili-rules disagree "
        f"({len(baseline - kili)} only in baseline, e.g. {only_b}; "
        f"{len(kili - baseline)} only in kili-rules, e.g. {only_k})"
    )


def fmt_count(n: float) -> str:
    return f"{n:,.0f}"
