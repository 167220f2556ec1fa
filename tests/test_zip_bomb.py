"""A zip whose members lie about their sizes is checked in bounded memory, at any thread count:
each bomb member is a row, the good members' issues are kept. Peak RSS is measured on a real
child process (RUSAGE_CHILDREN of a wrapper that runs only that child)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

BOMB_BYTES = 1_200 * 2**20  # what each bomb member really inflates to (about 1.2 GiB)
BOMBS = 8
PEAK_LIMIT_MB = 300

RULES = """
[[rule]]
id = "too-many-object-a"
kind = "count"
job = "JOB_0"
category = "OBJECT_A"
max = 1
"""


def _deflate_spaces(n: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b" " * (64 << 20)
    out = []
    while n > 0:
        out.append(c.compress(block[: min(n, len(block))]))
        n -= len(block)
    out.append(c.flush())
    return b"".join(out)


def _member(name: str, data: bytes, declared: int, crc: int) -> tuple[bytes, bytes]:
    """A deflated member (local header + data) and its central directory entry."""
    fn = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), declared, len(fn), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), declared, len(fn), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    return local + fn + data, central + fn


def _asset(i: int, boxes: int) -> dict[str, Any]:
    boxes_json = [
        {
            "categories": [{"name": "OBJECT_A"}],
            "mid": f"m{k}",
            "type": "rectangle",
            "boundingPoly": [{"normalizedVertices": [{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.2}]}],
        }
        for k in range(boxes)
    ]
    return {
        "id": f"a{i}",
        "externalId": f"good{i}",
        "latestLabel": {"jsonResponse": {"JOB_0": {"annotations": boxes_json}}},
    }


def write_bomb(path: Path) -> None:
    bomb = _deflate_spaces(BOMB_BYTES)
    members = []
    for i in range(4):  # good members: two break the rule
        raw = json.dumps(_asset(i, boxes=2 if i % 2 else 1)).encode()
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = c.compress(raw) + c.flush()
        members.append(_member(f"labels/good{i}.json", data, len(raw), zlib.crc32(raw)))
    for i in range(BOMBS):
        # Half claim a small size, half a large one just under the per-document limit.
        declared = 2_000 if i % 2 else 900 * 2**20
        members.append(_member(f"labels/bomb{i}.json", bomb, declared, 0))
    blob, central, offsets = b"", b"", []
    for local, _ in members:
        offsets.append(len(blob))
        blob += local
    for (_, c), off in zip(members, offsets, strict=True):
        central += c[:42] + struct.pack("<I", off) + c[46:]
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(blob), 0
    )
    path.write_bytes(blob + central + end)


CHILD = """
import json, sys
from kili_rules import RuleSet
rules = RuleSet.from_file(sys.argv[1])
report = rules.validate_export(sys.argv[2], threads=int(sys.argv[3]))
print(json.dumps([[r.external_id, r.source, r.kind, r.text] for r in report]))
"""

WRAPPER = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=False)
sys.stderr.write(r.stderr)
print(r.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB on Linux
print(r.stdout)
"""


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("bomb")
    write_bomb(d / "bomb.zip")
    (d / "rules.toml").write_text(RULES)
    assert (d / "bomb.zip").stat().st_size < 15 * 2**20
    return d / "bomb.zip", d / "rules.toml"


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_lying_zip_bomb_in_bounded_memory(bomb: tuple[Path, Path], threads: int) -> None:
    path, rules = bomb
    out = subprocess.run(
        [sys.executable, "-c", WRAPPER, sys.executable, "-c", CHILD, rules, path, str(threads)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    code, peak_kib, rows_json = out.stdout.split("\n", 2)
    assert code == "0", out.stderr
    peak_mb = int(peak_kib) / 1024
    rows = json.loads(rows_json)
    bombs = [r for r in rows if r[1] and "bomb" in r[1]]
    assert len(bombs) == BOMBS, rows
    assert all(r[2] == "invalid_label" for r in bombs)
    assert sum("declared size" in r[3] for r in bombs) == BOMBS // 2, bombs
    good = sorted(r[0] for r in rows if r[2] == "count")
    assert good == ["good1", "good3"], rows
    print(f"peak RSS {peak_mb:.0f} MB at {threads} threads")
    assert peak_mb < PEAK_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB at {threads} threads"
