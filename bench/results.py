"""What a workload hands back to run.py: table rows, target verdicts, notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from timing import Timing


@dataclass(frozen=True)
class Config:
    smoke: bool
    repeat: int  # timed runs per measurement (medians)
    data_dir: Path  # generated inputs (gitignored)
    rules: Path  # examples/rules.toml: the tutorial's rules


@dataclass
class Row:
    """One implementation's measurement. ``per``: how many units one run handles (labels,
    bytes, vertices), for the throughput column; ``baseline``: the row it is compared to."""

    impl: str
    timing: Timing
    per: float
    unit: str  # "labels", "MB", "calls", "vertices"
    baseline: Row | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        return self.baseline.timing.median / self.timing.median


@dataclass
class Target:
    text: str  # what was asked, e.g. ">= 2.5x the baseline on 1 thread"
    measured: str  # what was measured, e.g. "3.1x"
    met: bool


@dataclass
class Result:
    key: str  # "W1"
    title: str
    setup: str  # Markdown: data, rules, what each side runs
    check: str  # how equality was asserted, and what it found
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # extra Markdown blocks (tables, notes)
