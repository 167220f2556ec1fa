"""Screenshots of the example export's HTML report for the README (docs/report-*.png).

    python scripts/report_screenshots.py

Runs ``kili-rules check`` on examples/export/example_export.zip, opens the page in headless
Chromium and saves the top of it (what was checked, the charts) and the whole page (drawings
of the labels with findings, the issues table).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from kili_rules.cli import main as cli

    chromium = shutil.which("chromium") or sys.exit("needs chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        cli(
            [
                "check",
                str(ROOT / "examples" / "export" / "example_export.zip"),
                "--rules",
                "examples/rules.toml",
                "--project",
                "clq5w0s7d000008l49m0c1uv5",
                "--no-progress",
                "-o",
                str(page),
            ]
        )
        # Screenshots from a path that says nothing about this machine.
        html = page.read_text().replace(str(ROOT) + "/", "")
        page.write_text(html)
        # The top of the page (what was checked, charts), then the whole page.
        shots = {"report-top.png": "1200,1000", "report-page.png": "1840,1380"}
        for name, size in shots.items():
            subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    f"--user-data-dir={Path(tmp) / name}",
                    f"--window-size={size}",
                    f"--screenshot={ROOT / 'docs' / name}",
                    page.as_uri(),
                ],
                check=True,
                capture_output=True,
            )
            print(f"docs/{name}")


if __name__ == "__main__":
    main()
