"""Timing and memory helpers: medians of repeated runs, per-call timeit, peak RSS."""

from __future__ import annotations

import gc
import statistics
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timing:
    """Wall-clock seconds of each run; ``median`` is what the report uses."""

    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy the runs were."""
        return (max(self.runs) - min(self.runs)) / self.median if self.median > 0 else 0.0


def median_time(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times timed. A full collection
    runs before each timed run so one run's garbage is not billed to the next."""
    for _ in range(warmup):
        fn()
    t = Timing()
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        t.runs.append(time.perf_counter() - start)
    return t


def interleaved(fns: list[Callable[[], Any]], repeat: int, warmup: int = 1) -> list[Timing]:
    """Like ``median_time`` for several implementations at once, run in turns (A B C, A B C,
    ...), so a slow spell of a shared machine hits every side alike instead of one."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    timings = [Timing() for _ in fns]
    for _ in range(repeat):
        for fn, t in zip(fns, timings, strict=True):
            gc.collect()
            start = time.perf_counter()
            fn()
            t.runs.append(time.perf_counter() - start)
    return timings


def per_call(fn: Callable[[], Any], repeat: int, min_seconds: float = 0.2) -> Timing:
    """Seconds per call: ``timeit`` (collector off, as timeit does) with a loop count chosen
    so that one repeat lasts about ``min_seconds``, repeated ``repeat`` times."""
    timer = timeit.Timer(fn)
    one = min(timer.repeat(repeat=3, number=1))
    number = max(1, int(min_seconds / max(one, 1e-9)))
    return Timing([s / number for s in timer.repeat(repeat=repeat, number=number)])


def peak_rss_kib() -> int:
    """This process's peak resident set size (VmHWM), in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def current_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
