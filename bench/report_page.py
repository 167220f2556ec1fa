"""The HTML report of a 200,000-issue run, opened in headless Chromium (issue 12: under 5 s).

    python bench/report_page.py              # 200,000 issues, 3 runs; prints a markdown section
    python bench/report_page.py --issues 20000 --repeat 1

Builds the report the way a user does (``validate_many`` on 100,000 generated labels with two
issues each, then ``Report.to_html()``), writes the page, and times Chromium two ways: the wall
time of ``chromium --headless --screenshot`` (process start to PNG written: start-up, parsing,
script, layout, paint) and the page's own time to ready (``performance.now()`` when its script
has drawn the first page of the table, read back from ``--dump-dom``).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "examples" / "export" / "example_export.zip"
RULES = ROOT / "examples" / "rules.toml"


def chromium(page: Path, profile: Path, *extra: str) -> tuple[float, str]:
    binary = shutil.which("chromium") or sys.exit("needs chromium (apt-get install chromium)")
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    command += [f"--user-data-dir={profile}", "--window-size=1300,2000", *extra, page.as_uri()]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=True, timeout=600)
    return time.perf_counter() - start, done.stdout.decode("utf-8", errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from kili_rules import RuleSet

    rules = RuleSet.from_file(RULES)
    with zipfile.ZipFile(EXPORT) as archive:
        record = json.loads(archive.read("labels/tutorial_three_boxes.jpg.json"))
    items = []
    for i in range(args.issues // 2):
        item = copy.copy(record)
        item["id"], item["externalId"] = f"asset-{i:07d}", f"img_{i:07d}.jpg"
        items.append(item)
    report = rules.validate_many(items, progress=False)
    start = time.perf_counter()
    html = report.to_html()
    build = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        walls, ready = [], []
        for i in range(args.repeat):
            wall, _ = chromium(page, Path(tmp) / f"p{i}", f"--screenshot={Path(tmp) / 's.png'}")
            walls.append(wall)
            _, dom = chromium(page, Path(tmp) / f"d{i}", "--dump-dom")
            found = re.search(r'data-kr-ms="(\d+)"', dom)
            if found is None or f'data-kr-ready="{len(report)}"' not in dom:
                sys.exit("the page's script did not finish")
            ready.append(int(found.group(1)) / 1000)

    print(f"### HTML report: {len(report):,} issues in headless Chromium\n")
    print(f"Command: `python bench/report_page.py --issues {args.issues} --repeat {args.repeat}`")
    print("(median of the runs; the machine is shared, so figures vary by a second or so).\n")
    print("| what | figure |\n|---|---|")
    print(f"| page size | {len(html.encode()) / 2**20:.1f} MiB |")
    print(f"| `Report.to_html()` in Python | {build:.1f} s |")
    ready_s = statistics.median(ready)
    print(f"| page ready (its script drew the first table page) | {ready_s:.1f} s |")
    print(
        f"| `chromium --headless --screenshot`, process start to PNG | "
        f"{statistics.median(walls):.1f} s |"
    )


if __name__ == "__main__":
    main()
