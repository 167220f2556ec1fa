"""W1: the tutorial's rules on 100k label dicts of 3 rectangles."""

from __future__ import annotations

from collections import Counter

import baselines
import gen
from kili_rules import RuleSet
from results import Config, Result, Row, Target
from timing import interleaved

from workloads.common import assert_same, fmt_count, frozen, kili_keys

SEED = 1


def run(cfg: Config) -> Result:
    n = 2_000 if cfg.smoke else 100_000
    rs = RuleSet.from_file(cfg.rules)
    with frozen(lambda: gen.w1_labels(n, SEED)) as labels:
        base = set(baselines.tutorial_many(labels))
        many = kili_keys(rs.validate_many(labels, threads=1, progress=False), text=True)
        assert_same("W1 validate_many", base, many)
        loop = {(lab["id"], i.rule, i.mid, i.text) for lab in labels for i in rs.validate(lab)}
        assert_same("W1 validate loop", base, loop)
        by_rule = Counter(k[1] for k in base)

        t_base, t_one, t_all, t_loop = interleaved(
            [
                lambda: baselines.tutorial_many(labels),
                lambda: rs.validate_many(labels, threads=1, progress=False),
                lambda: rs.validate_many(labels, progress=False),
                lambda: [rs.validate(lab) for lab in labels],
            ],
            cfg.repeat,
        )

    b = Row("pure-Python tutorial loop over the dicts (baseline)", t_base, n, "labels")
    rows = [
        b,
        Row("kili-rules `validate_many(labels, threads=1)`", t_one, n, "labels", b),
        Row("kili-rules `validate_many(labels)` (all cores)", t_all, n, "labels", b),
        Row("kili-rules `validate(label)` in a Python loop", t_loop, n, "labels", b),
    ]
    one = rows[1].ratio or 0.0
    setup = (
        f'{fmt_count(n)} label dicts `{{"id", "jsonResponse": {{"JOB_0": {{"annotations"'
        ": [3 rectangles]}}}` (seed 1; corner uniform in [0, 0.8), width and height in "
        "[0.01, 0.2), category OBJECT_A or OBJECT_B with p = 0.5). Rules: "
        "`examples/rules.toml` (count JOB_0.OBJECT_A max 1; box max_area 0.33: the extent, "
        "as the tutorial computes it). The baseline is "
        "`bench/baselines.py: tutorial_many`: one pass over the dicts, the category count and the "
        "tutorial's `_get_area` (extent of the vertices) with running min/max, no `search` field."
    )
    check = (
        f"Asserted equal sets of (label id, rule, mid, text) for the baseline, `validate_many` "
        f"and the `validate` loop: {fmt_count(len(base))} issues "
        f"({', '.join(f'{k}: {fmt_count(v)}' for k, v in sorted(by_rule.items()))}). "
        "No box here can reach the 0.33 extent bound (at most 0.2 x 0.2), so the box rule is "
        "evaluated on every box but never fires; W4 uses the tutorial's label, which breaks both."
    )
    res = Result("W1", "Tutorial rules on label dicts", setup, check, rows)
    res.targets.append(Target(">= 2.5x the baseline on 1 thread", f"{one:.2f}x", one >= 2.5))
    return res
