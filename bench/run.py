"""kili-rules benchmarks: W1-W5 side by side with what a user would otherwise run.

    python bench/run.py                 # full sizes; writes docs/benchmarks.md
    python bench/run.py --smoke         # tiny sizes, seconds; prints, writes nothing
    python bench/run.py --only W1,W4    # some workloads (add --write to update the doc)

Every workload first asserts that the baseline and kili-rules find the same issues, then
times both (medians of --repeat runs). Inputs are generated with fixed seeds; the W3 export
zips are generated once into bench/data/ (gitignored) and reused.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from render import document  # noqa: E402
from results import Config, Result  # noqa: E402

WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
DOC = ROOT / "docs" / "benchmarks.md"
ANALYSIS = HERE / "analysis.md"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(command: str, started: datetime, seconds: float, load: tuple[str, str]) -> str:
    import kili_rules
    import shapely

    native = Path(kili_rules.__file__).parent
    so = next(native.glob("_native*.so"), None)
    build = "unknown build"
    if so is not None:
        digest = hashlib.sha256(so.read_bytes()).hexdigest()[:12]
        built = datetime.fromtimestamp(so.stat().st_mtime, timezone.utc)
        build = f"native module sha256 {digest}…, installed {built:%Y-%m-%d %H:%M} UTC"
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %ci"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head = "unknown"
    lines = [
        f"- Command: `{command}` (from the repository root; {seconds / 60:.1f} min)",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores, {ram_gib()}; load average before / after: "
        f"{load[0]} / {load[1]}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
        f"- kili-rules {version('kili-rules')} (release wheel: {build}; repository at {head})",
        f"- shapely {version('shapely')} (GEOS {shapely.geos_version_string}), "
        f"numpy {version('numpy')}, orjson {version('orjson')}",
    ]
    return "\n".join(lines)


def ram_gib() -> str:
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return f"{kib / (1 << 20):.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        return "RAM unknown"


def loadavg() -> str:
    """The 1/5/15-minute load averages, and the share of time some task waited for a CPU
    over the last minute (Linux PSI), which tells a noisy neighbour from a quiet machine."""
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"
    try:
        with open("/proc/pressure/cpu") as f:
            some = dict(kv.split("=") for kv in f.readline().split()[1:])
        return f"{load} (CPU pressure {some['avg60']}%)"
    except (OSError, KeyError, ValueError):
        return load


def busy() -> bool:
    """Is other work using the CPUs? Linux PSI (some task waited for a CPU more than 5% of
    the last 10 s) when available, else the 1-minute load average."""
    try:
        with open("/proc/pressure/cpu") as f:
            some = dict(kv.split("=") for kv in f.readline().split()[1:])
        return float(some["avg10"]) > 5.0
    except (OSError, KeyError, ValueError):
        pass
    try:
        return os.getloadavg()[0] >= 0.5
    except OSError:
        return False


def psi_total() -> int | None:
    """Microseconds some task has waited for a CPU since boot (Linux PSI), or None."""
    try:
        with open("/proc/pressure/cpu") as f:
            return int(dict(kv.split("=") for kv in f.readline().split()[1:])["total"])
    except (OSError, KeyError, ValueError):
        return None


def wait_idle(limit: float) -> None:
    """Benchmarks on a shared machine: wait (bounded) for other work to calm down."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and busy():
        time.sleep(5)


HEAD = """# Benchmarks

kili-rules against what a user would otherwise run, on the same generated data, side by side
in one run: the tutorial's rules as a plain Python loop, and a careful shapely 2
implementation of the geometry rules. Each workload first asserts that both sides find the same
issues, then times them; medians of the runs, with the fastest and slowest run beside them.
Both sides of a comparison run back to back on the same machine (in W1 and W2 in turns: A B C,
A B C, ...), so the ratios hold up better than the absolute times when other work shares the
cores; each workload says how much other work competed for the CPUs while it ran.
Generated by `bench/run.py`; do not edit by hand (the hand-written analysis at the end comes
from `bench/analysis.md`).

Fixtures are built with the collector off and then `gc.freeze()`d, so neither side pays for
the collector walking the fixture's millions of objects (a long-lived Python process holding
that much would make the pure-Python side slower than shown here)."""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    p.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3")
    p.add_argument("--repeat", type=int, default=None, help="timed runs (default 5; smoke 2)")
    p.add_argument("--write", action="store_true", help="write the doc even with --smoke/--only")
    p.add_argument("--no-write", action="store_true", help="never write the doc")
    p.add_argument("--out", type=Path, default=DOC, help=f"where to write (default {DOC})")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for other work on the CPUs to calm down",
    )
    args = p.parse_args(argv)

    only = [w.strip().upper() for w in args.only.split(",") if w.strip()] or list(WORKLOADS)
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        p.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    repeat = args.repeat or (2 if args.smoke else 5)
    if not args.smoke and repeat < 5:
        print("note: fewer than 5 runs per measurement", file=sys.stderr)
    cfg = Config(
        smoke=args.smoke,
        repeat=repeat,
        data_dir=HERE / "data",
        rules=ROOT / "examples" / "rules.toml",
    )
    cfg.data_dir.mkdir(exist_ok=True)

    wait_idle(args.wait_idle)
    started, t0, load0 = datetime.now(timezone.utc), time.perf_counter(), loadavg()
    results: list[Result] = []
    for n, key in enumerate(only):
        if n:
            wait_idle(min(args.wait_idle, 120))
        t, stall = time.perf_counter(), psi_total()
        print(f"== {key}", file=sys.stderr, flush=True)
        module = importlib.import_module(f"workloads.{key.lower()}")
        res: Result = module.run(cfg)
        results.append(res)
        if stall is not None and (after := psi_total()) is not None:
            share = (after - stall) / 1e6 / (time.perf_counter() - t)
            res.check += (
                f" While this workload ran, some task was waiting for a CPU {share:.0%} of the "
                "time (Linux PSI): near 0% means no other work competed for the cores."
            )
        for target in res.targets:
            verdict = "met" if target.met else "MISSED"
            print(f"   {target.text}: {target.measured} [{verdict}]", file=sys.stderr)
        print(f"   ({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)

    argv_used = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "bench/run.py", *argv_used])
    head = HEAD + ("\n\n**Smoke run: tiny sizes, figures mean nothing.**" if args.smoke else "")
    head += "\n\n## Machine and command\n\n" + machine(
        command, started, time.perf_counter() - t0, (load0, loadavg())
    )
    tail = ANALYSIS.read_text().strip() if ANALYSIS.is_file() else ""
    text = document(head, results, tail)
    print(text)
    full = not args.smoke and only == list(WORKLOADS)
    if not args.no_write and (args.write or full):
        # bench/project.py and bench/drain.py own the sections between their markers: keep them
        old = args.out.read_text() if args.out.is_file() else ""
        for name in ("project", "drain"):
            begin, end = old.find(f"<!-- {name}:begin -->"), old.find(f"<!-- {name}:end -->")
            if 0 <= begin < end:
                kept = old[begin : end + len(f"<!-- {name}:end -->")]
                text = text.rstrip() + "\n\n" + kept + "\n"
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
