"""validate_export on every export layout, against validate and validate_many on the same data."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import KILI_SDK, load
from kili_rules import RuleSet

RULES = RuleSet.from_dict(
    {
        "rule": [
            {"kind": "count", "job": "OBJECT_DETECTION_JOB", "max": 0},
            {"kind": "area", "job": "SEMANTIC_JOB", "max": 0, "unit": "pixels"},
            {"kind": "valid_polygon", "job": "SEMANTIC_JOB"},
            {"kind": "count", "job": "CLASSIFICATION_JOB", "max": 0},
            {"kind": "count", "job": "POINT_DETECTION_JOB", "max": 0},
        ]
    }
)


def assets() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in (
        "image_project_assets_for_coco.json",
        "video_project_assets.json",
        "pdf_project_assets.json",
        "geotiff_image_project_assets.json",
    ):
        out.extend(load(KILI_SDK / name))
    for i, a in enumerate(out):
        a["externalId"] = f"asset {i}"  # unique, with a space as real ones have
    return out


def key(rows: Any) -> list[tuple[Any, ...]]:
    return [(r.asset_id, r.external_id, r.rule, r.mid, r.frame, r.text, r.value) for r in rows]


def expected(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows = []
    for a in items:
        for i in RULES.validate(a):
            rows.append((a["id"], a["externalId"], i.rule, i.mid, i.frame, i.text, i.value))
    return rows


def write_zip(path: Path, items: list[dict[str, Any]], single_file: bool = False) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project/README.kili.txt", "Exported from Kili")
        if single_file:
            z.writestr("project/data.json", json.dumps(items, sort_keys=True, indent=4))
        else:
            for a in items:
                name = a["externalId"].replace(" ", "_")
                z.writestr(f"project/labels/{name}.json", json.dumps(a, sort_keys=True, indent=4))


def test_every_layout_gives_the_same_rows(tmp_path: Path) -> None:
    items = assets()
    want = expected(items)
    assert len(want) > 5
    assert key(RULES.validate_many(items)) == want
    assert key(RULES.validate_many([json.dumps(a) for a in items], threads=1)) == want

    write_zip(tmp_path / "split.zip", items)
    write_zip(tmp_path / "single.zip", items, single_file=True)
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(tmp_path / "split.zip").extractall(folder)
    (tmp_path / "list.json").write_text(json.dumps(items))
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(a) for a in items) + "\n")

    # Zip members and folder files come in name order; sort both sides to compare.
    for path in ("split.zip", "unzipped"):
        report = RULES.validate_export(tmp_path / path)
        assert sorted(key(report), key=repr) == sorted(want, key=repr), path
        assert report.labels == len(items) and report.invalid == 0
    for path in ("single.zip", "list.json", "lines.jsonl"):
        report = RULES.validate_export(tmp_path / path, threads=2)
        assert key(report) == want, path


def test_bad_members_become_rows_and_the_run_goes_on(tmp_path: Path) -> None:
    items = assets()[:4]
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for a in items:
            z.writestr(f"labels/{a['id']}.json", json.dumps(a))
        z.writestr("labels/broken.json", '{"id": "x", "latestLabel": {"jsonResponse": {"JOB": [')
        z.writestr("labels/garbage.json", b"\xff\xfe\x00garbage")
        polygon = {"boundingPoly": [{"normalizedVertices": [{"x": "?"}]}]}
        bad_asset: dict[str, Any] = {"id": "bad", "externalId": "b"}
        bad_asset["latestLabel"] = {"jsonResponse": {"SEMANTIC_JOB": {"annotations": [polygon]}}}
        z.writestr("labels/bad-asset.json", json.dumps(bad_asset))
        z.writestr("labels/stored.json", json.dumps(items[0]))  # deflated by default; see below
    # Corrupt the compressed bytes of one member in place.
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("labels/stored.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(start, start + min(info.compress_size, 40)):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))

    report = RULES.validate_export(path)
    bad = {r.source: r for r in report if r.kind == "invalid_label"}
    names = ["broken", "garbage", "bad-asset", "stored"]
    assert set(bad) == {f"labels/{n}.json" for n in names}
    where = "SEMANTIC_JOB.annotations[0].boundingPoly[0].normalizedVertices[0].x"
    assert where in bad["labels/bad-asset.json"].text
    assert bad["labels/bad-asset.json"].asset_id == "bad"
    good = [r for r in report if r.kind != "invalid_label"]
    assert sorted(key(good), key=repr) == sorted(expected(items), key=repr)


def test_truncated_list_keeps_what_was_read(tmp_path: Path) -> None:
    items = assets()[:3]
    text = json.dumps(items)
    (tmp_path / "cut.json").write_text(text[: len(text) - 40])
    report = RULES.validate_export(tmp_path / "cut.json")
    assert key([r for r in report if r.kind != "invalid_label"]) == expected(items[:2])
    (last,) = [r for r in report if r.kind == "invalid_label"]
    assert "cut.json" in last.text


def test_unreadable_inputs_raise_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError, match=r"missing\.zip"):
        RULES.validate_export(tmp_path / "missing.zip")
    (tmp_path / "fake.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(OSError, match="not a readable zip"):
        RULES.validate_export(tmp_path / "fake.zip")
    (tmp_path / "empty.json").write_text("  \n")
    with pytest.raises(OSError, match="empty"):
        RULES.validate_export(tmp_path / "empty.json")


def test_progress_is_reported(tmp_path: Path) -> None:
    items = assets()
    write_zip(tmp_path / "e.zip", items)
    seen: list[tuple[int, int]] = []
    RULES.engine.validate_export(str(tmp_path / "e.zip"), None, lambda d, t: seen.append((d, t)))
    # Units are the source's own (zip: bytes read); the last call says all is done.
    assert seen and seen[-1][0] == seen[-1][1] > 0
    report = RULES.validate_export(tmp_path / "e.zip", progress=True)
    assert report.labels == len(items)


class _Unseekable:
    """A write-only stream: zipfile then writes data descriptors after each member."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)

    def flush(self) -> None:
        pass


def test_zip_with_data_descriptors_and_one_thread(tmp_path: Path) -> None:
    items = assets()
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as z:  # type: ignore[arg-type]
        for a in items:
            z.writestr(f"labels/{a['id']}.json", json.dumps(a))
    (tmp_path / "streamed.zip").write_bytes(bytes(sink.data))
    write_zip(tmp_path / "plain.zip", items)
    want = sorted(expected(items), key=repr)
    for name in ("streamed.zip", "plain.zip"):
        for threads in (1, 2, None):
            report = RULES.validate_export(tmp_path / name, threads=threads)
            assert sorted(key(report), key=repr) == want, (name, threads)
