"""One side of W3 in a fresh process, so its peak RSS is its own.

    python bench/w3_child.py {kili,python} EXPORT.zip REPEAT RULES.toml [THREADS]

Prints one JSON object: run times, peak RSS (VmHWM) of the runs and at start-up, the number of
issues and a digest of their sorted (asset id, rule, mid, text) keys. Only the side's own
modules are imported (no numpy, no shapely), so start-up memory is comparable.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import peak_rss_kib

Key = tuple[Any, ...]


def digest(keys: list[Key]) -> str:
    def text(k: Key) -> str:
        return "\t".join("" if v is None else str(v) for v in k)

    h = hashlib.sha256()
    for line in sorted(text(k) for k in keys):
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux: "5" > /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main() -> None:
    side, path, repeat, rules = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    threads = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] != "all" else None
    timed: Callable[[], Any]
    keys_of: Callable[[Any], tuple[list[Key], int]]
    if side == "kili":
        from kili_rules import RuleSet

        rs = RuleSet.from_file(rules)

        def timed() -> Any:
            return rs.validate_export(path, threads=threads)

        def keys_of(report: Any) -> tuple[list[Key], int]:
            if report.invalid:
                raise SystemExit(f"{report.invalid} invalid labels in {path}")
            return [(r.asset_id, r.rule, r.mid, r.text) for r in report.rows], report.bytes_read
    else:
        from baselines import export_zip

        def timed() -> Any:
            return export_zip(path)

        def keys_of(result: Any) -> tuple[list[Key], int]:
            issues, total = result
            return list(issues), int(total)

    gc.collect()
    start_kib = peak_rss_kib()
    # Run 1 is timed and checked; its peak is read before the issue keys are built and
    # hashed (that is the benchmark's own overhead), then the peak is reset for runs 2..N.
    t = time.perf_counter()
    first = timed()
    times = [time.perf_counter() - t]
    peaks = [peak_rss_kib()]
    keys, total = keys_of(first)
    del first
    result = {"issues": len(keys), "digest": digest(keys), "bytes": total}
    del keys
    gc.collect()
    can_reset = reset_peak()
    for _ in range(repeat - 1):
        gc.collect()
        t = time.perf_counter()
        out = timed()
        times.append(time.perf_counter() - t)
        del out
    if can_reset:
        peaks.append(peak_rss_kib())
    json_out = {"side": side, "times": times, "hwm_kib": max(peaks), "start_kib": start_kib}
    print(json.dumps(json_out | result))


if __name__ == "__main__":
    main()
