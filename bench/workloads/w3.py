"""W3: a Kili export zip on disk (100 MiB and 1 GiB of JSON), each side in a fresh process."""

from __future__ import annotations

import importlib
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import gen
from results import Config, Result, Row, Target
from timing import Timing, median_time

from workloads.common import fmt_count

CHILD = Path(__file__).resolve().parent.parent / "w3_child.py"
MIB = 1 << 20


def warm(path: Path) -> None:
    """Read the file once so every side starts from the page cache."""
    with path.open("rb") as f:
        while f.read(16 * MIB):
            pass


def raw_members(path: Path) -> list[tuple[bytes, int]]:
    """The raw deflate stream and size of every deflated member, read straight from the
    local headers (so inflating them times nothing but the inflater)."""
    out = []
    with zipfile.ZipFile(path) as zf, path.open("rb") as f:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_DEFLATED:
                continue
            f.seek(info.header_offset)
            head = f.read(30)
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            out.append((f.read(info.compress_size), info.file_size))
    return out


def inflate_floor(path: Path, repeat: int) -> list[str]:
    """How long inflating alone takes, per core, with the C inflaters at hand: a floor for
    any reader of this zip, whatever it does after."""
    raws = raw_members(path)
    total = sum(size for _, size in raws)
    inflaters: list[tuple[str, Any]] = [("zlib (CPython's)", zlib)]
    for name, module in (("zlib-ng", "zlib_ng.zlib_ng"), ("ISA-L", "isal.isal_zlib")):
        try:
            inflaters.append((name, importlib.import_module(module)))
        except ImportError:
            pass
    lines = ["| Inflater | Core-seconds | MB/s per core |", "|---|---|---|"]
    for name, mod in inflaters:

        def inflate_all(mod: Any = mod) -> None:
            for raw, size in raws:
                mod.decompress(raw, -15, size)

        t = median_time(inflate_all, repeat, warmup=0)
        lines.append(f"| {name} | {t.median:.2f} s | {total / t.median / 1e6:,.0f} |")
    return lines


def child(side: str, path: Path, repeat: int, rules: Path, threads: str) -> dict[str, Any]:
    cmd = [sys.executable, str(CHILD), side, str(path), str(repeat), str(rules), threads]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def run(cfg: Config) -> Result:
    # (JSON bytes, name, small members): the two sizes of the targets, then a memory probe
    # with as many members as the large export but a sixth of its bytes.
    if cfg.smoke:
        sizes = [(2 * MIB, "2 MiB", False), (10 * MIB, "10 MiB", False), (3 * MIB, "", True)]
    else:
        sizes = [(100 * MIB, "100 MiB", False), (1024 * MIB, "1 GiB", False)]
        sizes.append((160 * MIB, "", True))
    prefix = "smoke-export" if cfg.smoke else "export"
    rows: list[Row] = []
    memory = [
        "| Export | Side | RSS after imports | Peak RSS (VmHWM) | Issues in the result |",
        "|---|---|---|---|---|",
    ]
    checks: list[str] = []
    peaks: dict[str, int] = {}
    big: dict[str, Row] = {}
    for size, label, small in sizes:
        tail = "-small" if small else ""
        path = cfg.data_dir / f"{prefix}-{size // MIB}MiB{tail}.zip"
        meta = gen.ensure_export(path, size, small=small)
        name = label or f"{size // MIB} MiB in {meta['assets'] / 1000:.0f}k small members"
        warm(path)
        mb = meta["json_bytes"] / 1e6
        base_reps = cfg.repeat if size < 512 * MIB and not small else max(2, min(cfg.repeat, 3))
        runs = {
            "python": child("python", path, base_reps, cfg.rules, "all"),
            "kili": child("kili", path, cfg.repeat, cfg.rules, "all"),
        }
        if not small:
            runs["kili1"] = child("kili", path, cfg.repeat, cfg.rules, "1")
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
        rows += [b, k]
        if "kili1" in runs:
            rows.append(
                Row(
                    f"{name}: kili-rules `validate_export(threads=1)`",
                    Timing(runs["kili1"]["times"]),
                    mb,
                    "MB",
                    b,
                )
            )
        sides = [("python", "baseline"), ("kili", "kili-rules, all cores")]
        sides.append(("kili1", "kili-rules, 1 thread"))
        for side, who in sides:
            if side not in runs:
                continue
            v = runs[side]
            memory.append(
                f"| {name} | {who} | {v['start_kib'] / 1024:.0f} MiB | "
                f"{v['hwm_kib'] / 1024:.0f} MiB | {fmt_count(v['issues'])} |"
            )
        if not small:
            peaks[name] = runs["kili"]["hwm_kib"]
            big = {"base": b, "kili": k}
            floor_of, floor_path = name, path

    setup = (
        'A Kili export zip as `kili.export_labels(fmt="kili")` writes it: `README.kili.txt` and '
        "one `labels/<externalId>.json` per asset, the asset record dumped with "
        "`json.dumps(asset, sort_keys=True, indent=4)`: id, externalId, resolution, "
        "latestLabel.jsonResponse with 1-4 objects (60% rectangles, 40% polygons of 6-24 "
        "vertices; pixel `vertices` beside `normalizedVertices`, as the exporter adds them). "
        "Generated once by `bench/gen.py: write_export` (seed 3, deflate) into `bench/data/` "
        "and reused. Rules: `examples/rules.toml`. Baseline: `bench/baselines.py: export_zip` "
        "(`zipfile.ZipFile`, `json.load` per member, the tutorial's rules: a box's area is its "
        "vertices' extent, polygons' too, as `box.max_area` measures it). Each side runs in a "
        "fresh subprocess "
        "(`bench/w3_child.py`) that imports only what it needs; the zip is read once beforehand "
        "so every side starts from a warm page cache. MB = 10^6 bytes of uncompressed JSON. "
        "A third export, minimal one-box assets (~1.7 KB each) with about as many members as "
        "the large one but a sixth of its bytes, tells whether memory grows with the number of "
        "members or with the bytes (not a target)."
    )
    check = (
        "Asserted equal issue digests (sorted asset id, rule, mid, text): "
        + "; ".join(checks)
        + "."
    )
    res = Result("W3", "Kili export zip on disk", setup, check, rows)
    first, last = sizes[0][1], sizes[1][1]
    res.extra.append(
        "Peak memory of each side (whole process, `VmHWM` of `/proc/self/status`; the peak of "
        "run 1 is read before the benchmark builds its issue keys, then reset through "
        "`/proc/self/clear_refs` for the other runs):\n\n" + "\n".join(memory)
    )
    res.extra.append(
        f"Inflate alone ({floor_of} export, every member's raw deflate stream, no JSON): the "
        "floor under any reader of this zip. 10x the baseline means "
        f"{big['base'].timing.median / 10:.2f} s on 2 cores, i.e. "
        f"{big['base'].timing.median / 5:.2f} core-seconds for everything:\n\n"
        + "\n".join(inflate_floor(floor_path, min(cfg.repeat, 3)))
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
