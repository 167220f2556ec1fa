"""Profile the kili-rules side of a workload with Linux perf (the evidence in
docs/benchmarks.md's analysis).

    python bench/perf_profile.py W1               # needs `perf` (apt-get install linux-perf)
    python bench/perf_profile.py W1 --baseline    # the pure-Python loop, for comparison

A child process builds the workload's input, then perf attaches to it (so the generator is
not in the profile) while the kili-rules call runs a few times. Prints the inclusive share of
the native functions that matter and the top functions by self time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# What the child runs: build the input (not profiled), print READY, then run the call.
CHILD = """
import gc, sys, time
sys.path.insert(0, {here!r})
import gen
from kili_rules import RuleSet
w = {workload!r}
if w == "W1" and {baseline!r}:
    import baselines
    data = gen.w1_labels(100_000)
    call = lambda: baselines.tutorial_many(data)
elif w == "W1":
    rs = RuleSet.from_file({rules!r}); data = gen.w1_labels(100_000)
    call = lambda: rs.validate_many(data, threads=1, progress=False)
elif w == "W2":
    from workloads import w2
    rs = RuleSet.from_dict(w2.RULES); data = gen.w2_labels(20_000, w2.SEED)
    call = lambda: rs.validate_many(data, threads=1, progress=False)
elif w == "W3":
    rs = RuleSet.from_file({rules!r}); data = {export!r}
    call = lambda: rs.validate_export(data)
elif w == "W4":
    rs = RuleSet.from_file({rules!r}); data = gen.tutorial_label()
    def call():
        for _ in range(200_000):
            rs.validate(data)
else:
    from workloads import w5
    rs = RuleSet.from_dict(w5.RULES); data = gen.w5_label(100_000)
    def call():
        for _ in range(20):
            rs.validate(data)
gc.freeze()
print("READY", flush=True)
time.sleep(0.5)
t = time.perf_counter()
for _ in range({runs}):
    call()
print("seconds per run", (time.perf_counter() - t) / {runs}, flush=True)
time.sleep(0.5)
"""

KEEP = ("_native::", "i_overlay::", "miniz_oxide::", "serde_json::", "rayon", "malloc", "free")


def report(data: str, children: bool) -> list[str]:
    cmd = ["perf", "report", "-i", data, "--stdio", "-g", "none", "--sort", "symbol"]
    cmd.append("--children" if children else "--no-children")
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    return [line.rstrip() for line in out.splitlines() if "%" in line and "[.]" in line]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=["W1", "W2", "W3", "W4", "W5"])
    p.add_argument("--runs", type=int, default=2)
    p.add_argument(
        "--baseline", action="store_true", help="W1 only: profile the pure-Python loop instead"
    )
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    if not shutil.which("perf"):
        print("perf not found: apt-get install -y linux-perf", file=sys.stderr)
        return 2
    export = HERE / "data" / "export-1024MiB.zip"
    code = CHILD.format(
        here=str(HERE),
        workload=args.workload,
        rules=str(ROOT / "examples" / "rules.toml"),
        export=str(export),
        runs=args.runs,
        baseline=args.baseline,
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        while (line := child.stdout.readline()) and "READY" not in line:
            pass
        record = ["perf", "record", "-F", "499", "--call-graph", "dwarf,8192", "-o", data]
        perf = subprocess.Popen(
            [*record, "-p", str(child.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        rest = child.stdout.read()
        child.wait()
        time.sleep(0.3)
        perf.send_signal(2)
        perf.wait()
        print(rest.strip())
        print("\n-- inclusive (children) share, selected symbols")
        lines = report(data, children=True)
        kept = [x[:160] for x in lines if any(k in x for k in KEEP)]
        print("\n".join(kept[: 2 * args.top]))
        print("\n-- self time, top symbols")
        print("\n".join(x[:160] for x in report(data, children=False)[: args.top]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
