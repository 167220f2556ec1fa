"""Crafted export zips and folders must not pass `kili-rules check` (issue "Nothing passes
unchecked, part 2", point 1): the zip's central directory is the truth, hidden label files are
rows. Each test builds its input with zipfile/bytes and runs the CLI as a subprocess; a clean zip, a
zip with data descriptors and an export stored under a hidden folder still pass."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

from kili_rules import RuleSet

RULES = '[[rule]]\nkind = "count"\njob = "JOB"\nmax = 0\n'


def record(name: str, objects: int) -> bytes:
    ann = [{"mid": f"m{i}", "categories": [{"name": "A"}]} for i in range(objects)]
    rec = {
        "id": name,
        "externalId": name,
        "latestLabel": {"jsonResponse": {"JOB": {"annotations": ann}}},
    }
    return json.dumps(rec).encode()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    return buf.getvalue()


def check(tmp: Path, target: Path) -> subprocess.CompletedProcess[str]:
    rules = tmp / "rules.toml"
    rules.write_text(RULES)
    cmd = [
        sys.executable,
        "-m",
        "kili_rules.cli",
        "check",
        str(target),
        "--rules",
        str(rules),
        "--no-progress",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_concatenated_zips_fail(tmp_path: Path) -> None:
    clean = make_zip({"labels/clean.json": record("clean", 0)})
    real = make_zip({f"labels/bad{i}.json": record(f"bad{i}", 2) for i in range(5)})
    p = tmp_path / "export.zip"
    p.write_bytes(clean + real)
    assert len(zipfile.ZipFile(p).namelist()) == 5  # what unzip and zipfile see
    r = check(tmp_path, p)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "labels/bad0.json" in out, out
    assert "central directory" in out, out
    rows = rows_of(tmp_path, p)
    # The five members unzip lists are read and checked; the one it does not list is a row.
    assert sorted(r[0] for r in rows if r[1] == "count") == [f"bad{i}" for i in range(5)]
    texts = {r[2]: r[3] for r in rows if r[1] == "invalid_label" and "does not name" in r[3]}
    assert set(texts) == {"labels/clean.json"}, rows
    reached = [r for r in rows if "not reached" in r[3]]
    assert len(reached) == 5, rows


def test_fake_central_directory_signature_before_a_bad_member(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("labels/clean.json", record("clean", 0))
        # Bytes a streaming reader takes for the central directory; zipfile's offsets skip them.
        assert z.fp is not None
        z.fp.write(b"PK\x01\x02" + bytes(42))
        z.start_dir = z.fp.tell()
        z.writestr("labels/bad.json", record("bad", 3))
    p = tmp_path / "export.zip"
    p.write_bytes(buf.getvalue())
    with zipfile.ZipFile(p) as z:
        assert z.testzip() is None and len(z.namelist()) == 2
    r = check(tmp_path, p)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "labels/bad.json" in out, out
    rows = rows_of(tmp_path, p)
    assert [r[0] for r in rows if r[1] == "count"] == ["bad"], rows
    assert [r[2] for r in rows if "not reached" in r[3]] == ["labels/bad.json"], rows


def test_hidden_label_files_in_a_zip_are_rows(tmp_path: Path) -> None:
    p = tmp_path / "export.zip"
    p.write_bytes(
        make_zip(
            {
                "labels/clean.json": record("clean", 0),
                "labels/.hidden.json": record("hidden", 2),
                "__MACOSX/labels/._clean.json": b"\x00\x05\x16\x07 AppleDouble",
            }
        )
    )
    r = check(tmp_path, p)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "labels/.hidden.json" in out, out
    assert "__MACOSX/labels/._clean.json" in out, out
    rows = rows_of(tmp_path, p)
    hidden = sorted((r[2], r[1]) for r in rows if "not read" in r[3])
    want = [
        ("__MACOSX/labels/._clean.json", "invalid_label"),
        ("labels/.hidden.json", "invalid_label"),
    ]
    assert hidden == want, rows
    assert not [r for r in rows if r[1] == "count"], rows  # the hidden label is not read


def test_hidden_label_files_in_a_folder_are_rows(tmp_path: Path) -> None:
    root = tmp_path / "export"
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "clean.json").write_bytes(record("clean", 0))
    (root / "labels" / ".hidden.json").write_bytes(record("hidden", 2))
    r = check(tmp_path, root)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert ".hidden.json" in out, out
    (root / "__MACOSX" / "labels").mkdir(parents=True)
    (root / "__MACOSX" / "labels" / "._clean.json").write_bytes(b"\x00\x05\x16\x07")
    (root / "labels" / ".cache").mkdir()
    (root / "labels" / ".cache" / "x.json").write_bytes(record("cached", 0))
    rows = rows_of(tmp_path, root)
    hidden = sorted(r[2] for r in rows if "not read" in r[3])
    assert hidden == ["__MACOSX/labels/._clean.json", "labels/.cache/x.json", "labels/.hidden.json"]


def rows_of(tmp: Path, target: Path) -> list[tuple[str | None, str, str | None, str]]:
    rules = RuleSet.from_toml(RULES)
    return [(r.external_id, r.kind, r.source, r.text) for r in rules.validate_export(target)]


def test_clean_exports_pass(tmp_path: Path) -> None:
    """No false alarm: a plain zip, one with data descriptors (an unseekable writer), and an
    export stored under a hidden folder of its own are read with no row."""
    members = {f"labels/ok{i}.json": record(f"ok{i}", 0) for i in range(30)}
    plain = tmp_path / "plain.zip"
    plain.write_bytes(make_zip(members))

    class Sink(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.data += b
            return len(b)

    sink = Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    streamed = tmp_path / "streamed.zip"
    streamed.write_bytes(bytes(sink.data))
    assert zipfile.ZipFile(streamed).infolist()[0].flag_bits & 0x08  # data descriptors
    folder = tmp_path / ".cache" / "export"
    zipfile.ZipFile(plain).extractall(folder)
    for target in (plain, streamed, folder):
        r = check(tmp_path, target)
        assert r.returncode == 0, (target, r.stdout + r.stderr)
        assert rows_of(tmp_path, target) == [], target


def _end(data: bytes) -> tuple[int, int, int]:
    """Entries, size and offset of a zip's central directory (no comment, no zip64)."""
    _, _, _, _, entries, size, offset, _ = struct.unpack("<IHHHHIIH", data[-22:])
    return entries, size, offset


def test_two_directory_entries_on_one_local_header(tmp_path: Path) -> None:
    data = make_zip({"labels/a.json": record("a", 0)})
    _, size, offset = _end(data)
    cd = data[offset : offset + size]
    twin = cd.replace(b"labels/a.json", b"labels/b.json")
    body = data[:offset] + cd + twin
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, 2 * size, offset, 0)
    p = tmp_path / "export.zip"
    p.write_bytes(body + end)
    assert zipfile.ZipFile(p).namelist() == ["labels/a.json", "labels/b.json"]
    r = check(tmp_path, p)
    assert r.returncode == 1, r.stdout + r.stderr
    rows = rows_of(tmp_path, p)
    assert [r[2] for r in rows if "shares its local header" in r[3]] == ["labels/b.json"], rows


def test_directory_holding_more_entries_than_its_end_record_counts(tmp_path: Path) -> None:
    """zipfile reads the directory by its size (2 members), the zip crate by its count (1)."""
    data = make_zip({"labels/a.json": record("a", 0), "labels/b.json": record("b", 4)})
    entries, size, offset = _end(data)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries - 1, entries - 1, size, offset, 0)
    p = tmp_path / "export.zip"
    p.write_bytes(data[:-22] + end)
    assert len(zipfile.ZipFile(p).namelist()) == 2
    r = check(tmp_path, p)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "inconsistent" in out, out
    rows = rows_of(tmp_path, p)
    assert [r[0] for r in rows if r[1] == "count"] == ["b"], rows


def test_data_descriptors_after_a_plain_member(tmp_path: Path) -> None:
    """A zip whose later members have data descriptors is read through its central directory
    from the first of them on: all members checked, no row (it used to stop as corrupt)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("labels/first.json", record("first", 1))
        z._seekable = False  # what an unseekable output makes zipfile write from here on
        for i in range(3):
            z.writestr(f"labels/dd{i}.json", record(f"dd{i}", 1))
    p = tmp_path / "export.zip"
    p.write_bytes(buf.getvalue())
    with zipfile.ZipFile(p) as z:
        flags = [i.flag_bits & 0x08 for i in z.infolist()]
    assert flags == [0, 8, 8, 8]
    rows = rows_of(tmp_path, p)
    assert sorted((r[0], r[1]) for r in rows) == [
        ("dd0", "count"),
        ("dd1", "count"),
        ("dd2", "count"),
        ("first", "count"),
    ], rows
