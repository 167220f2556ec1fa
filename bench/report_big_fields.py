"""HTML report pages whose labels hold huge fields (issue 18): size and time to open.

    python bench/report_big_fields.py     # prints a markdown table

Cases: one issue whose message holds a 200,000-character transcription; the same string in
ten fields (asset id, external id, label id, labeler, label type, date, status, job, category,
mid); one 10 MB category in the message; 1,000 issues each with its own 200,000-character
message. Each page is opened in headless Chromium: the wall time of ``--screenshot`` (process
start to PNG) and the page's own time to ready (``performance.now()`` when its script drew the
table, read back from ``--dump-dom``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def chromium(page: Path, profile: Path, *extra: str) -> tuple[float, str]:
    binary = shutil.which("chromium") or sys.exit("needs chromium (apt-get install chromium)")
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    command += [f"--user-data-dir={profile}", "--window-size=1400,1000", *extra, page.as_uri()]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=True, timeout=600)
    return time.perf_counter() - start, done.stdout.decode("utf-8", errors="replace")


def box(job: str, category: str, mid: str) -> dict[str, Any]:
    vertices = [{"x": 0.05, "y": 0.95}, {"x": 0.05, "y": 0.05}, {"x": 0.95, "y": 0.05}]
    annotation = {
        "boundingPoly": [{"normalizedVertices": vertices}],
        "categories": [{"name": category}],
        "mid": mid,
        "type": "polygon",
    }
    return {job: {"annotations": [annotation]}}


def record(n: int, text: str, *, everywhere: bool) -> dict[str, Any]:
    field = text if everywhere else None
    return {
        "id": field or f"asset-{n}",
        "externalId": field or f"img_{n}.jpg",
        "status": field or "LABELED",
        "latestLabel": {
            "id": field or f"label-{n}",
            "author": {"email": field or "ann@example.com"},
            "labelType": field or "DEFAULT",
            "createdAt": field or "2024-03-03T09:08:17.046Z",
            "jsonResponse": box(field or "JOB_0", text, field or f"m{n}"),
        },
    }


def main() -> None:
    from kili_rules import RuleSet

    transcription = ("lorem ipsum dolor sit amet " * 7500)[:200_000]
    cases = [
        ("one 200,000-character message", [record(0, transcription, everywhere=False)]),
        ("the same string in 10 fields", [record(0, transcription, everywhere=True)]),
        ("one 10 MB category in the message", [record(0, "C" * 10 * 2**20, everywhere=False)]),
        (
            "1,000 issues, each its own 200,000-character message",
            [record(n, f"{n} " + transcription, everywhere=False) for n in range(1000)],
        ),
    ]
    print("| page | size | `to_html()` | page ready | `--screenshot` wall time |")
    print("|---|---|---|---|---|")
    for name, items in cases:
        job = items[0]["latestLabel"]["jsonResponse"]
        rules = RuleSet.from_dict(
            {"rule": [{"id": "big", "kind": "area", "job": next(iter(job)), "max": 0.1,
                       "message": "{category} is too large"}]}
        )  # fmt: skip
        report = rules.validate_many(items, progress=False)
        assert len(report) == len(items), (name, len(report))
        start = time.perf_counter()
        html = report.to_html()
        built = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            page = Path(tmp) / "page.html"
            page.write_text(html, encoding="utf-8")
            _, dom = chromium(page, Path(tmp) / "p1", "--dump-dom")
            ready = re.search(r'data-kr-ms="(\d+)"', dom)
            wall, _ = chromium(page, Path(tmp) / "p2", f"--screenshot={Path(tmp) / 'shot.png'}")
        size = len(html.encode())
        shown = f"{size / 1024:.0f} KiB" if size < 2**20 else f"{size / 2**20:.1f} MiB"
        ms = f"{int(ready[1]) / 1000:.2f} s" if ready else "not ready"
        print(f"| {name} | {shown} | {built:.2f} s | {ms} | {wall:.1f} s |")


if __name__ == "__main__":
    main()
