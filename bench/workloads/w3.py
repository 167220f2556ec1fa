"""W3: a Kili export zip on disk (100 MiB and 1 GiB of JSON), each side in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import gen
from results import Config, Result, Row, Target
from timing import Timing

from workloads.common import fmt_count

CHILD = Path(__file__).resolve().parent.parent / "w3_child.py"
MIB = 1 << 20


def warm(path: Path) -> None:
    """Read the file once so every side starts from the page cache."""
    with path.open("rb") as f:
        while f.read(16 * MIB):
            pass


def child(side: str, path: Path, repeat: int, rules: Path, threads: str) -> dict[str, Any]:
    cmd = [sys.executable, str(CHILD), side, str(path), str(repeat), str(rules), threads]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def run(cfg: Config) -> Result:
    sizes = (
        [(2 * MIB, "2 MiB"), (10 * MIB, "10 MiB")]
        if cfg.smoke
        else [
            (100 * MIB, "100 MiB"),
            (1024 * MIB, "1 GiB"),
        ]
    )
    prefix = "smoke-export" if cfg.smoke else "export"
    rows: list[Row] = []
    memory = [
        "| Export | Side | RSS after imports | Peak RSS (VmHWM) | Issues in the result |",
        "|---|---|---|---|---|",
    ]
    checks: list[str] = []
    peaks: dict[str, int] = {}
    big: dict[str, Row] = {}
    for size, name in sizes:
        path = cfg.data_dir / f"{prefix}-{size // MIB}MiB.zip"
        meta = gen.ensure_export(path, size)
        warm(path)
        mb = meta["json_bytes"] / 1e6
        base_reps = cfg.repeat if size < 512 * MIB else max(2, min(cfg.repeat, 3))
        runs = {
            "python": child("python", path, base_reps, cfg.rules, "all"),
            "kili": child("kili", path, cfg.repeat, cfg.rules, "all"),
            "kili1": child("kili", path, cfg.repeat, cfg.rules, "1"),
        }
        digests = {k: (v["digest"], v["issues"], v["bytes"]) for k, v in runs.items()}
        if len(set(digests.values())) != 1:
            raise AssertionError(f"W3 {name}: sides disagree: {digests}")
        if runs["python"]["bytes"] != meta["json_bytes"]:
            raise AssertionError(f"W3 {name}: read {runs['python']['bytes']} bytes, wrote {meta}")
        checks.append(
            f"{name}: {fmt_count(meta['assets'])} assets, {fmt_count(meta['json_bytes'])} bytes "
            f"of JSON in a {meta['zip_bytes'] / 1e6:.0f} MB zip; "
            f"{fmt_count(runs['python']['issues'])} issues, same digest on every side"
        )
        b = Row(
            f"{name}: `zipfile` + `json.load` + pure-Python rules (baseline, {base_reps} runs)",
            Timing(runs["python"]["times"]),
            mb,
            "MB",
        )
        k = Row(
            f"{name}: kili-rules `validate_export` (all cores)",
            Timing(runs["kili"]["times"]),
            mb,
            "MB",
            b,
        )
        k1 = Row(
            f"{name}: kili-rules `validate_export(threads=1)`",
            Timing(runs["kili1"]["times"]),
            mb,
            "MB",
            b,
        )
        rows += [b, k, k1]
        big = {"base": b, "kili": k}
        for side, label in (
            ("python", "baseline"),
            ("kili", "kili-rules, all cores"),
            ("kili1", "kili-rules, 1 thread"),
        ):
            v = runs[side]
            memory.append(
                f"| {name} | {label} | {v['start_kib'] / 1024:.0f} MiB | "
                f"{v['hwm_kib'] / 1024:.0f} MiB | {fmt_count(v['issues'])} |"
            )
        peaks[name] = runs["kili"]["hwm_kib"]

    setup = (
        'A Kili export zip as `kili.export_labels(fmt="kili")` writes it: `README.kili.txt` and '
        "one `labels/<externalId>.json` per asset, the asset record dumped with "
        "`json.dumps(asset, sort_keys=True, indent=4)`: id, externalId, resolution, "
        "latestLabel.jsonResponse with 1-4 objects (60% rectangles, 40% polygons of 6-24 "
        "vertices; pixel `vertices` beside `normalizedVertices`, as the exporter adds them). "
        "Generated once by `bench/gen.py: write_export` (seed 3, deflate) into `bench/data/` "
        "and reused. Rules: `examples/rules.toml`. Baseline: `bench/baselines.py: export_zip` "
        "(`zipfile.ZipFile`, `json.load` per member, the tutorial's rules with a shoelace area "
        "so polygons count right). Each side runs in a fresh subprocess "
        "(`bench/w3_child.py`) that imports only what it needs; the zip is read once beforehand "
        "so every side starts from a warm page cache. MB = 10^6 bytes of uncompressed JSON."
    )
    check = (
        "Asserted equal issue digests (sorted asset id, rule, mid, text): "
        + "; ".join(checks)
        + "."
    )
    res = Result("W3", "Kili export zip on disk", setup, check, rows)
    first, last = sizes[0][1], sizes[-1][1]
    res.extra.append(
        "Peak memory of each side (whole process, `VmHWM` of `/proc/self/status`; the peak of "
        "run 1 is read before the benchmark builds its issue keys, then reset through "
        "`/proc/self/clear_refs` for the other runs):\n\n" + "\n".join(memory)
    )
    x = big["kili"].ratio or 0.0
    mbps = big["kili"].per / big["kili"].timing.median
    peak = peaks[last] / 1024
    res.targets += [
        Target(f">= 10x the baseline ({last}, all cores)", f"{x:.1f}x", x >= 10),
        Target(f">= 400 MB/s of JSON ({last}, 2 cores)", f"{mbps:.0f} MB/s", mbps >= 400),
        Target(f"peak RSS <= 200 MB ({last})", f"{peak:.0f} MiB", peak * MIB <= 200e6),
        Target(
            f"memory flat from {first} to {last} (peak within +20%)",
            f"{peaks[first] / 1024:.0f} -> {peak:.0f} MiB",
            peaks[last] <= 1.2 * peaks[first],
        ),
    ]
    return res
