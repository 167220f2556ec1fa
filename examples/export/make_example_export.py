"""Write example_export.zip: a small Kili export, as ``kili.export_labels(fmt="kili")`` writes it.

The project is the one of Kili's webhook tutorial: an IMAGE project with one object detection job,
JOB_0, drawing rectangles of category OBJECT_A or OBJECT_B. Checked against ../rules.toml (at most
one OBJECT_A per image; no box over 33% of the image), 7 of the 12 assets are clean and 5 are not:

    kili-rules check examples/export/example_export.zip --rules examples/rules.toml

The layout follows the SDK's Kili exporter: ``README.kili.txt`` and one
``labels/<externalId, spaces as _>.json`` per asset, holding the asset record (id, externalId,
resolution, latestLabel.jsonResponse, ...) dumped with ``sort_keys=True, indent=4``. Rectangles
carry pixel ``vertices`` beside ``normalizedVertices``, as the exporter adds them when the
resolution is known. Everything is deterministic (fixed seed, fixed zip timestamps), so running
this script again rewrites the same bytes; ``--check`` verifies the committed file.

Standard library only: ``python examples/export/make_example_export.py [--check]``.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "example_export.zip"
SEED = 20221124
PROJECT_ID = "clp3x9k2a00a8081mexample1"
ZIP_TIME = (2024, 3, 12, 10, 15, 2)
AUTHOR = {
    "email": "labeler@example.com",
    "firstname": "Ada",
    "id": "user-labeler-1",
    "lastname": "Labeler",
    "name": "Ada Labeler",
}

# The tutorial's three-box label: three OBJECT_A, the first one
# covering 35.5% of the image. It breaks both rules.
TUTORIAL_THREE_BOXES = [
    ("OBJECT_A", "20221124161451411-13314", (0.15, 0.31, 0.82, 0.84)),
    ("OBJECT_A", "20221124161456406-47055", (0.79, 0.13, 0.91, 0.2)),
    ("OBJECT_A", "20221124161459298-45160", (0.87, 0.27, 0.99, 0.36)),
]

# (externalId, (width, height), what to draw). "small" boxes are at most 30% x 30% of the image;
# a tuple is a box given as (x_min, y_min, x_max, y_max), normalized.
Box = tuple[float, float, float, float]
ASSETS: list[tuple[str, tuple[int, int], list[tuple[str, str | Box]]]] = [
    ("street_001.jpg", (1920, 1080), [("OBJECT_A", "small"), ("OBJECT_B", "small")]),
    ("street_002.jpg", (1920, 1080), [("OBJECT_A", "small")]),
    ("street_003.jpg", (1920, 1080), [("OBJECT_A", "small"), ("OBJECT_A", "small")]),
    ("street_004.jpg", (1280, 720), [("OBJECT_B", "small"), ("OBJECT_B", "small")]),
    ("street_005.jpg", (1920, 1080), []),
    ("street_006.jpg", (1920, 1080), [("OBJECT_A", (0.1, 0.15, 0.8, 0.75))]),  # 42% of the image
    ("street scene 007.jpg", (1280, 720), [("OBJECT_A", "small"), ("OBJECT_B", "small")]),
    ("street_008.jpg", (1920, 1080), [("OBJECT_B", (0.05, 0.1, 0.65, 0.7))]),  # 36% of the image
    ("street_009.jpg", (1920, 1080), [("OBJECT_A", "small"), ("OBJECT_B", "small")]),
    ("street_010.jpg", (1920, 1080), [("OBJECT_A", "small"), ("OBJECT_A", "small")]),
    ("street_011.jpg", (1280, 720), [("OBJECT_B", "small")]),
]
TUTORIAL_EXTERNAL_ID = "tutorial_three_boxes.jpg"


def _cuid(rng: random.Random) -> str:
    return "cl" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(23))


def _mid(rng: random.Random) -> str:
    return f"2024031210{rng.randrange(10**7):07d}-{rng.randrange(10**5):05d}"


def _small_box(rng: random.Random) -> Box:
    width, height = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3)
    x_min, y_min = rng.uniform(0, 1 - width), rng.uniform(0, 1 - height)
    return (round(x_min, 4), round(y_min, 4), round(x_min + width, 4), round(y_min + height, 4))


def _rectangle(category: str, mid: str, box: Box, resolution: tuple[int, int]) -> dict[str, Any]:
    x_min, y_min, x_max, y_max = box
    # Kili's rectangle order: bottom-left, top-left, top-right, bottom-right.
    corners = [(x_min, y_max), (x_min, y_min), (x_max, y_min), (x_max, y_max)]
    width, height = resolution
    return {
        "boundingPoly": [
            {
                "normalizedVertices": [{"x": x, "y": y} for x, y in corners],
                "vertices": [
                    {"x": round(x * width, 2), "y": round(y * height, 2)} for x, y in corners
                ],
            }
        ],
        "categories": [{"confidence": 100, "name": category}],
        "children": {},
        "mid": mid,
        "type": "rectangle",
    }


def _asset(
    rng: random.Random,
    index: int,
    external_id: str,
    resolution: tuple[int, int],
    objects: list[Any],
) -> dict[str, Any]:
    width, height = resolution
    return {
        "content": f"https://storage.example.com/kili-tutorial/{external_id.replace(' ', '%20')}",
        "externalId": external_id,
        "id": _cuid(rng),
        "jsonContent": "",
        "jsonMetadata": {},
        "latestLabel": {
            "author": AUTHOR,
            "createdAt": f"2024-03-{1 + index:02d}T09:{index * 4:02d}:17.046Z",
            "isLatestLabelForUser": True,
            "isSentBackToQueue": False,
            "jsonResponse": {
                "JOB_0": {
                    "annotations": [
                        _rectangle(category, mid, box, resolution) for category, mid, box in objects
                    ]
                }
            },
            "labelType": "DEFAULT",
            "modelName": None,
        },
        "pageResolutions": None,
        "resolution": {"height": height, "width": width},
        "status": "LABELED",
    }


def build_assets() -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    assets = []
    for index, (external_id, resolution, draws) in enumerate(ASSETS):
        objects = [
            (category, _mid(rng), _small_box(rng) if shape == "small" else shape)
            for category, shape in draws
        ]
        assets.append(_asset(rng, index, external_id, resolution, objects))
    assets.append(
        _asset(rng, len(ASSETS), TUTORIAL_EXTERNAL_ID, (1920, 1080), list(TUTORIAL_THREE_BOXES))
    )
    return assets


README = """Exported Labels from KILI
=========================

- Project name: Webhook tutorial (kili-rules example)
- Project identifier: {project_id}
- Project description: Rectangles of Object A and Object B on street images
- Export date: 20240312-101502
- Exported format: kili
- Exported labels: latest
"""


def build_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = (0o40755 if name.endswith("/") else 0o100644) << 16
            info.compress_type = zipfile.ZIP_STORED if name.endswith("/") else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)

        add("README.kili.txt", README.format(project_id=PROJECT_ID).encode())
        add("labels/", b"")
        for asset in build_assets():
            name = asset["externalId"].replace(" ", "_")
            add(f"labels/{name}.json", json.dumps(asset, sort_keys=True, indent=4).encode())
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the committed zip instead")
    args = parser.parse_args()
    data = build_zip()
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_bytes() != data:
            print(f"{OUTPUT} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{OUTPUT.name} is up to date")
        return 0
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
