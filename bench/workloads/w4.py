"""W4: one label, as a webhook gets it: the tutorial's rules per call, from a dict and bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import baselines
import gen
from kili_rules import RuleSet
from results import Config, Result, Row, Target
from timing import per_call


def run(cfg: Config) -> Result:
    rs = RuleSet.from_file(cfg.rules)
    label = gen.tutorial_label()
    body = baselines.to_json_bytes(label)
    loads: list[tuple[str, Callable[[bytes], Any]]] = [("json.loads", json.loads)]
    try:
        import orjson

        loads.append(("orjson.loads", orjson.loads))
    except ImportError:
        pass

    want = {(i["mid"], i["text"]) for i in baselines.tutorial_webhook(label)}
    for source in (label, body):
        got = {(i.mid, i.text) for i in rs.validate(source)}
        if got != want:
            raise AssertionError(f"W4: kili-rules {got} != baseline {want}")
    for name, fn in loads:
        got = {(i["mid"], i["text"]) for i in baselines.tutorial_webhook(fn(body))}
        if got != want:
            raise AssertionError(f"W4: {name} + loop {got} != {want}")

    r, secs = cfg.repeat, (0.02 if cfg.smoke else 0.5)
    b_dict = Row(
        "dict: pure-Python tutorial loop (baseline)",
        per_call(lambda: baselines.tutorial_webhook(label), r, secs),
        1,
        "calls",
    )
    k_dict = Row(
        "dict: kili-rules `validate(label)`",
        per_call(lambda: rs.validate(label), r, secs),
        1,
        "calls",
        b_dict,
    )
    rows = [b_dict, k_dict]
    byte_rows = []
    for name, fn in loads:

        def parse_and_loop(fn: Callable[[bytes], Any] = fn) -> object:
            return baselines.tutorial_webhook(fn(body))

        byte_rows.append(
            Row(
                f"bytes: `{name}` + pure-Python loop (baseline)",
                per_call(parse_and_loop, r, secs),
                1,
                "calls",
            )
        )
    rows += byte_rows
    fastest = min(byte_rows, key=lambda row: row.timing.median)
    rows.append(
        Row(
            "bytes: kili-rules `validate(body)`",
            per_call(lambda: rs.validate(body), r, secs),
            1,
            "calls",
            fastest,
        )
    )
    setup = (
        "The tutorial's Step 5 label (three OBJECT_A boxes, the first one 35.5% of the image) "
        f"with its id; as bytes: compact JSON, {len(body)} bytes. Rules: `examples/rules.toml`. "
        "Baseline: `bench/baselines.py: tutorial_webhook` (the tutorial's handler logic, a list "
        "of `{text, mid}` issues). Time per call with `timeit` (loop count from `autorange`, "
        "scaled to ~0.5 s per repeat); median of the repeats. The bytes row of kili-rules is "
        "compared with the fastest parse + loop."
    )
    check = (
        "Asserted the same (mid, text) issues from every path: the count issue "
        '("There are too many BBox (3) - ...") and "BBox too large" on the first box.'
    )
    res = Result("W4", "One label (webhook path)", setup, check, rows)
    us = k_dict.timing.median * 1e6
    res.targets.append(Target("<= 2 µs per call from a dict", f"{us:.2f} µs", us <= 2.0))
    return res
