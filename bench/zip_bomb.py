"""Peak memory of `validate_export` on a zip whose members lie about their sizes.

Builds the 8 x 1.2 GiB bomb of tests/test_zip_bomb.py (about 10 MB on disk) and runs the
check in a child process per thread count, printing the child's peak RSS (RUSAGE_CHILDREN of a
wrapper that runs only that child). Run it against an installed (release) wheel:
    python bench/zip_bomb.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_zip_bomb import CHILD, RULES, WRAPPER, write_bomb


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        path, rules = Path(d) / "bomb.zip", Path(d) / "rules.toml"
        write_bomb(path)
        rules.write_text(RULES)
        size = path.stat().st_size / 1e6
        for threads in (1, 2, 4):
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    WRAPPER,
                    sys.executable,
                    "-c",
                    CHILD,
                    rules,
                    path,
                    str(threads),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            code, peak_kib, _ = out.stdout.split("\n", 2)
            print(
                f"{size:.1f} MB zip, threads={threads}: exit {code}, "
                f"peak RSS {int(peak_kib) / 1024:.0f} MiB"
            )


if __name__ == "__main__":
    main()
