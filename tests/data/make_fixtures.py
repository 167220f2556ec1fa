"""Writes the label fixtures of tests/data/kili-shapes/ and tests/data/invoice/json_interface.json.

The project writes its own fixtures, in the shapes Kili's API and exports use (asset records,
jsonResponses, jsonInterfaces), rather than committing other projects' files. Everything here is
deterministic (fixed seeds, rounded coordinates), so running it again rewrites the same bytes:

    python tests/data/make_fixtures.py          # write
    python tests/data/make_fixtures.py --check  # fail if a committed file differs
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHAPES = HERE / "kili-shapes"
INVOICE = HERE / "invoice"

Point = tuple[float, float]


def vertices(points: list[Point]) -> list[dict[str, float]]:
    return [{"x": x, "y": y} for x, y in points]


def blob(
    rng: random.Random, cx: float, cy: float, r: float, n: int, sx: float = 1.0
) -> list[Point]:
    """A simple (star-shaped) ring of n vertices around (cx, cy): angles strictly increasing,
    radii in [0.7 r, r], so it never crosses itself. sx stretches x (degrees of longitude)."""
    out = []
    for i in range(n):
        a = 2 * math.pi * (i + rng.uniform(0.1, 0.9)) / n
        rad = r * rng.uniform(0.7, 1.0)
        out.append((round(cx + sx * rad * math.cos(a), 7), round(cy + rad * math.sin(a), 7)))
    return out


def circle(cx: float, cy: float, r: float, n: int, sx: float = 1.0) -> list[Point]:
    """A regular ring, clockwise (holes run the other way than blob's counter-clockwise rings)."""
    return [
        (
            round(cx + sx * r * math.cos(-2 * math.pi * i / n), 7),
            round(cy + r * math.sin(-2 * math.pi * i / n), 7),
        )
        for i in range(n)
    ]


def rect(x0: float, y0: float, x1: float, y1: float) -> list[Point]:
    x0, y0, x1, y1 = (round(v, 7) for v in (x0, y0, x1, y1))  # no 0.30000000000000004
    return [(x0, y1), (x0, y0), (x1, y0), (x1, y1)]


def author(n: int) -> dict[str, str]:
    return {
        "id": f"user-fx-{n}",
        "email": f"labeler{n}@example.org",
        "firstname": "Labeler",
        "lastname": str(n),
    }


def label(n: int, response: Any, created: str) -> dict[str, Any]:
    return {
        "author": author(n),
        "createdAt": created,
        "isLatestLabelForUser": True,
        "isSentBackToQueue": False,
        "jsonResponse": response,
        "labelType": "DEFAULT",
        "modelName": None,
    }


# -- IMAGE: semantic masks in parts sharing a mid, with holes -------------------------------


def semantic(mid: str, category: str, rings: list[list[Point]]) -> dict[str, Any]:
    return {
        "boundingPoly": [{"normalizedVertices": vertices(r)} for r in rings],
        "categories": [{"name": category}],
        "children": {},
        "labelVersion": "default",
        "mid": mid,
        "type": "semantic",
    }


def image_assets() -> list[dict[str, Any]]:
    rng = random.Random(20260101)
    assets = []
    # (resolution, [(job, mid, category, [(cx, cy, r, n, hole radii)] one entry per part)])
    Part = tuple[float, float, float, int, list[float]]
    plans: list[tuple[dict[str, int], list[tuple[str, str, str, list[Part]]]]] = [
        (
            {"height": 3000, "width": 4000},
            [
                (
                    "OBJECT_DETECTION_JOB",
                    "fx-img1-car",
                    "OBJECT_A",
                    [(0.25, 0.3, 0.12, 48, [0.04]), (0.55, 0.3, 0.08, 40, [])],
                ),
                (
                    "OBJECT_DETECTION_JOB_0",
                    "fx-img1-tree",
                    "OBJECT_B",
                    [(0.3, 0.75, 0.1, 41, []), (0.7, 0.7, 0.12, 35, [0.03, 0.02])],
                ),
            ],
        ),
        (
            {"height": 2400, "width": 4800},
            [
                (
                    "OBJECT_DETECTION_JOB",
                    "fx-img2-road",
                    "OBJECT_A",
                    [(0.2, 0.5, 0.15, 60, []), (0.5, 0.5, 0.1, 58, [0.05])],
                ),
                (
                    "OBJECT_DETECTION_JOB",
                    "fx-img2-lake",
                    "OBJECT_A",
                    [(0.8, 0.25, 0.1, 53, []), (0.8, 0.75, 0.12, 41, [])],
                ),
            ],
        ),
        (
            {"height": 4000, "width": 2250},
            [
                (
                    "OBJECT_DETECTION_JOB_0",
                    "fx-img3-roof",
                    "OBJECT_B",
                    [
                        (0.5, 0.3, 0.2, 11, [0.06]),
                        (0.3, 0.75, 0.1, 5, []),
                        (0.7, 0.75, 0.08, 4, []),
                    ],
                ),
            ],
        ),
    ]
    for i, (res, objects) in enumerate(plans, start=1):
        response: dict[str, Any] = {}
        for job, mid, cat, parts in objects:
            anns = response.setdefault(job, {"annotations": []})["annotations"]
            for k, (cx, cy, r, n, holes) in enumerate(parts):
                # holes sit off-centre, inside the outer ring's inner radius (0.7 r)
                hx = [(cx + (j - (len(holes) - 1) / 2) * 0.5 * r, cy) for j in range(len(holes))]
                rings = [blob(rng, cx, cy, r, n)] + [
                    circle(x, y, hr, 8 + 2 * k) for (x, y), hr in zip(hx, holes, strict=True)
                ]
                anns.append(semantic(mid, cat, rings))
        assets.append(
            {
                "content": f"https://storage.example.org/fixtures/image-{i}.jpg",
                "externalId": f"image-{i}.jpg",
                "id": f"fx-asset-image-{i}",
                "jsonContent": "",
                "jsonMetadata": {},
                "latestLabel": label(1, response, f"2026-01-0{i}T09:00:00.000Z"),
                "pageResolutions": None,
                "resolution": res,
                "status": "LABELED",
            }
        )
    return assets


# -- VIDEO: frame-keyed jsonResponse, isKeyFrame, assetLevel --------------------------------


def video_assets() -> list[dict[str, Any]]:
    response: dict[str, Any] = {str(f): {} for f in range(13)}
    # one car tracked over frames 4..9 (key frames at 4 and 9), a second from 10 to 12
    for f in range(4, 10):
        x = round(0.1 + 0.05 * (f - 4), 4)
        response[str(f)] = {
            "OBJECT_DETECTION_JOB": {
                "annotations": [
                    {
                        "boundingPoly": [
                            {"normalizedVertices": vertices(rect(x, 0.4, x + 0.12, 0.55))}
                        ],
                        "categories": [{"name": "A"}],
                        "children": {},
                        "isKeyFrame": f in (4, 9),
                        "mid": "fx-video-car-1",
                        "type": "rectangle",
                    }
                ]
            }
        }
    for f in range(10, 13):
        y = round(0.2 + 0.02 * (f - 10), 4)
        response[str(f)] = {
            "OBJECT_DETECTION_JOB": {
                "annotations": [
                    {
                        "boundingPoly": [
                            {"normalizedVertices": vertices(rect(0.6, y, 0.7, y + 0.1))}
                        ],
                        "categories": [{"name": "B"}],
                        "children": {},
                        "isKeyFrame": f == 10,
                        "mid": "fx-video-bike-1",
                        "type": "rectangle",
                    }
                ]
            }
        }
    response["assetLevel"] = {"CLASSIFICATION_JOB": {"categories": [{"name": "DAYTIME"}]}}
    return [
        {
            "content": "https://storage.example.org/fixtures/street.mp4",
            "externalId": "street.mp4",
            "id": "fx-asset-video-1",
            "jsonContent": "",
            "jsonMetadata": {
                "processingParameters": {
                    "codec": "h264",
                    "delayDueToMinPts": 0,
                    "framesPlayedPerSecond": 25,
                    "numberOfFrames": 13,
                    "shouldKeepNativeFrameRate": True,
                    "shouldUseNativeVideo": True,
                    "startTime": 0,
                }
            },
            "latestLabel": label(2, response, "2026-01-05T10:00:00.000Z"),
            "pageResolutions": None,
            "resolution": {"height": 720, "width": 1280},
        }
    ]


# -- PDF: two layers of annotations, nested normalizedVertices, pageNumberArray -------------


def pdf_box(mid: str, category: str, page: int, box: list[Point]) -> dict[str, Any]:
    layer = {"normalizedVertices": [vertices(box)]}
    return {
        "annotations": [{"boundingPoly": [layer], "pageNumberArray": [page], "polys": [layer]}],
        "categories": [{"confidence": 100, "name": category}],
        "children": {},
        "content": "",
        "mid": mid,
    }


def pdf_assets() -> list[dict[str, Any]]:
    response = {
        "CLASSIFICATION_JOB": {"categories": [{"confidence": 100, "name": "C"}]},
        "OBJECT_DETECTION_JOB": {
            "annotations": [
                pdf_box("fx-pdf-header", "A", 1, rect(0.05, 0.02, 0.2, 0.15)),
                pdf_box("fx-pdf-total", "B", 1, rect(0.75, 0.8, 0.9, 0.92)),
                pdf_box("fx-pdf-stamp", "A", 2, rect(0.3, 0.4, 0.6, 0.55)),
            ]
        },
    }
    return [
        {
            "content": "https://storage.example.org/fixtures/report.pdf",
            "externalId": "report.pdf",
            "id": "fx-asset-pdf-1",
            "jsonContent": "",
            "jsonMetadata": {},
            "latestLabel": label(2, response, "2026-01-06T11:00:00.000Z"),
            # A4 portrait then A5 landscape, in points: different sizes, so the pixel area
            # of a box tells which page it was read on
            "pageResolutions": [
                {"height": 842, "pageNumber": 1, "rotation": 0, "width": 595},
                {"height": 420, "pageNumber": 2, "rotation": 0, "width": 595},
            ],
        }
    ]


# -- GEOSPATIAL: lon/lat degrees, jsonContent with useClassicCoordinates false --------------

# A made-up area (degrees) inside the bounds tests/test_geospatial.py declares.
WEST, EAST, SOUTH, NORTH = 4.3236, 4.4728, 52.1669, 52.2586
SX = 1.6  # a degree of longitude is ~0.61 of a degree of latitude at 52 N: stretch x


def geo_layer(asset: str) -> dict[str, Any]:
    return {
        "bounds": [[EAST, SOUTH], [WEST, NORTH]],
        "epsg": "EPSG4326",
        "imageUrl": f"https://storage.example.org/fixtures/{asset}/satellite/image",
        "initEpsg": 4326,
        "useClassicCoordinates": False,
    }


def geo_ann(mid: str | int, job_tool: str, category: str, **geometry: Any) -> dict[str, Any]:
    return {
        "categories": [{"name": category}],
        "children": {},
        "mid": mid,
        "type": job_tool,
        **geometry,
    }


def geo_poly(points: list[Point]) -> list[dict[str, Any]]:
    return [{"normalizedVertices": vertices(points)}]


def geotiff_assets() -> list[dict[str, Any]]:
    rng = random.Random(4326)
    response = {
        "LINE_DETECTION_JOB": {
            "annotations": [
                # an integer mid, as some GeoTIFF labels carry
                geo_ann(
                    1,
                    "polyline",
                    "LINE_A",
                    polyline=vertices([(4.35, 52.20), (4.38, 52.21), (4.43, 52.215)]),
                ),
            ]
        },
        "POINT_DETECTION_JOB": {
            "annotations": [
                geo_ann("fx-geo-well", "marker", "POINT_A", point={"x": 4.4161, "y": 52.2396}),
            ]
        },
        "POLYGON_DETECTION_JOB": {
            "annotations": [
                geo_ann(
                    "fx-geo-field-w",
                    "polygon",
                    "POLYGON_A",
                    boundingPoly=geo_poly(blob(rng, 4.345, 52.235, 0.01, 9, SX)),
                ),
                geo_ann(
                    "fx-geo-field-c",
                    "polygon",
                    "POLYGON_A",
                    boundingPoly=geo_poly(blob(rng, 4.39, 52.18, 0.008, 7, SX)),
                ),
                geo_ann(
                    "fx-geo-field-e",
                    "polygon",
                    "POLYGON_A",
                    boundingPoly=geo_poly(blob(rng, 4.45, 52.19, 0.009, 12, SX)),
                ),
            ]
        },
    }
    return [
        {
            "content": "https://storage.example.org/fixtures/fields.tif",
            "externalId": "fields.tif",
            "id": "fx-asset-geotiff-1",
            "jsonContent": [geo_layer("fx-asset-geotiff-1")],
            "jsonMetadata": {},
            "latestLabel": label(3, response, "2026-01-07T12:00:00.000Z"),
            "pageResolutions": None,
            "resolution": {"height": 8000, "width": 8000},
        }
    ]


def every_geo_tool(rng: random.Random) -> dict[str, Any]:
    """A GEOSPATIAL jsonResponse with every tool; the segmentation is one object (one mid) in
    two parts, the second with three holes."""
    lake = blob(rng, 4.44, 52.235, 0.012, 64, SX)
    marsh_cx, marsh_cy = 4.36, 52.19
    marsh = blob(rng, marsh_cx, marsh_cy, 0.015, 48, SX)
    holes = [
        circle(marsh_cx + dx * SX, marsh_cy + dy, 0.002, 10 + i, SX)
        for i, (dx, dy) in enumerate([(-0.005, 0.0), (0.004, 0.004), (0.003, -0.005)])
    ]
    return {
        "BBOX_DETECTION_JOB": {
            "annotations": [
                geo_ann(
                    "fx-geo-bbox-1",
                    "rectangle",
                    "B_BOX_A",
                    boundingPoly=geo_poly(rect(4.446, 52.205, 4.4647, 52.216)),
                ),
                geo_ann(
                    "fx-geo-bbox-2",
                    "rectangle",
                    "B_BOX_A",
                    boundingPoly=geo_poly(rect(4.3301, 52.221, 4.3452, 52.2262)),
                ),
            ]
        },
        "POINT_DETECTION_JOB": {
            "annotations": [
                geo_ann(f"fx-geo-point-{i}", "marker", "POINT_A", point={"x": x, "y": y})
                for i, (x, y) in enumerate(
                    [(4.3982, 52.2481), (4.3710, 52.2417), (4.4512, 52.1702)]
                )
            ]
        },
        "POLYGON_DETECTION_JOB": {
            "annotations": [
                geo_ann(
                    "fx-geo-poly-1",
                    "polygon",
                    "POLYGON_A",
                    boundingPoly=geo_poly(blob(rng, 4.42, 52.24, 0.006, 9, SX)),
                ),
                geo_ann(
                    "fx-geo-poly-2",
                    "polygon",
                    "POLYGON_A",
                    boundingPoly=geo_poly(rect(4.335, 52.172, 4.35, 52.18)),
                ),
            ]
        },
        "LINE_DETECTION_JOB": {
            "annotations": [
                geo_ann(
                    "fx-geo-line-1",
                    "polyline",
                    "LINE_A",
                    polyline=vertices(
                        [(4.446, 52.168), (4.4476, 52.1721), (4.4394, 52.1853), (4.4305, 52.1989)]
                    ),
                ),
                geo_ann(
                    "fx-geo-line-2",
                    "polyline",
                    "LINE_A",
                    polyline=vertices([(4.3301, 52.25), (4.3587, 52.2444), (4.3891, 52.2556)]),
                ),
            ]
        },
        "SEGMENTATION_JOB": {
            "annotations": [
                geo_ann(
                    "fx-geo-wetland", "semantic", "SEGMENTATION_A", boundingPoly=geo_poly(lake)
                ),
                geo_ann(
                    "fx-geo-wetland",
                    "semantic",
                    "SEGMENTATION_A",
                    boundingPoly=[{"normalizedVertices": vertices(r)} for r in [marsh, *holes]],
                ),
            ]
        },
    }


def geo_interface() -> dict[str, Any]:
    def job(cat: str, name: str, tool: str, color: str) -> dict[str, Any]:
        return {
            "content": {
                "categories": {cat: {"children": [], "color": color, "name": name}},
                "input": "radio",
            },
            "instruction": f"{name} ({tool})",
            "isChild": False,
            "mlTask": "OBJECT_DETECTION",
            "required": 0,
            "tools": [tool],
        }

    return {
        "jobs": {
            "BBOX_DETECTION_JOB": job("B_BOX_A", "Building", "rectangle", "#1F77B4"),
            "POINT_DETECTION_JOB": job("POINT_A", "Well", "marker", "#FF7F0E"),
            "POLYGON_DETECTION_JOB": job("POLYGON_A", "Field", "polygon", "#2CA02C"),
            "LINE_DETECTION_JOB": job("LINE_A", "Track", "polyline", "#D62728"),
            "SEGMENTATION_JOB": job("SEGMENTATION_A", "Wetland", "semantic", "#9467BD"),
        }
    }


def geospatial_case() -> dict[str, Any]:
    """The API's shape: an asset whose latestLabel.jsonResponse is JSON *text*, plus the
    project's jsonInterface and that same response text under json_response."""
    response = json.dumps(every_geo_tool(random.Random(52)), separators=(",", ":"))
    asset = {
        "id": "fx-asset-geo-api-1",
        "externalId": "polder",
        "createdAt": "2026-01-08T13:00:00.000Z",
        "isHoneypot": False,
        "jsonContent": [geo_layer("fx-asset-geo-api-1")],
        "jsonMetadata": "{}",
        "latestLabel": {
            "__typename": "Label",
            "id": "fx-label-geo-api-1",
            "author": {**author(4), "__typename": "User"},
            "createdAt": "2026-01-08T13:05:00.000Z",
            "isLatestLabelForUser": True,
            "isSentBackToQueue": False,
            "jsonResponse": response,
            "labelType": "DEFAULT",
        },
        "status": "LABELED",
        "__typename": "Asset",
    }
    return {"assets": [asset], "json_interface": geo_interface(), "json_response": response}


# -- the invoice project's jsonInterface ----------------------------------------------------


def transcription(kind: str, instruction: str) -> dict[str, Any]:
    return {
        "content": {"input": kind},
        "instruction": instruction,
        "isChild": True,
        "mlTask": "TRANSCRIPTION",
        "required": 0,
    }


def invoice_interface() -> dict[str, Any]:
    def cat(name: str, child: str, color: str) -> dict[str, Any]:
        return {"children": [child], "color": color, "name": name}

    return {
        "jobs": {
            "JOB_0": {
                "content": {
                    "categories": {
                        "IBAN": cat("Bank account (IBAN)", "TRANSCRIPTION_JOB", "#17BECF"),
                        "CURRENCY": cat("Currency", "TRANSCRIPTION_JOB_2", "#BCBD22"),
                        "AMOUNT": cat("Total amount", "TRANSCRIPTION_JOB_3", "#E377C2"),
                    },
                    "input": "radio",
                },
                "instruction": "Box the payment fields",
                "isChild": False,
                "mlTask": "OBJECT_DETECTION",
                "required": 0,
                "tools": ["rectangle"],
            },
            "TRANSCRIPTION_JOB": transcription("textField", "IBAN as printed"),
            "TRANSCRIPTION_JOB_2": transcription("textField", "Currency as printed"),
            "TRANSCRIPTION_JOB_3": transcription("number", "Amount"),
            "DATES_JOB": {
                "content": {
                    "categories": {
                        "ISSUE_DATE": cat("Issue date", "TRANSCRIPTION_JOB_4", "#7F7F7F"),
                        "DUE_DATE": cat("Due date", "TRANSCRIPTION_JOB_5", "#8C564B"),
                    },
                    "input": "radio",
                },
                "instruction": "Box the dates",
                "isChild": False,
                "mlTask": "OBJECT_DETECTION",
                "required": 0,
                "tools": ["rectangle"],
            },
            "TRANSCRIPTION_JOB_4": transcription("date", "Issue date"),
            "TRANSCRIPTION_JOB_5": transcription("date", "Due date"),
            "CURRENCY_CLASSIFICATION_JOB": {
                "content": {
                    "categories": {
                        "EURO": {"children": [], "name": "Euro"},
                        "DOLLAR": {"children": [], "name": "Dollar"},
                        "OTHER": {"children": [], "name": "Other"},
                    },
                    "input": "radio",
                },
                "instruction": "Invoice currency",
                "isChild": False,
                "mlTask": "CLASSIFICATION",
                "required": 0,
            },
        }
    }


def outputs() -> dict[Path, Any]:
    return {
        SHAPES / "image_project_assets_for_coco.json": image_assets(),
        SHAPES / "video_project_assets.json": video_assets(),
        SHAPES / "pdf_project_assets.json": pdf_assets(),
        SHAPES / "geotiff_image_project_assets.json": geotiff_assets(),
        SHAPES / "geojson_tutorial_kili_label.json": every_geo_tool(random.Random(7)),
        SHAPES / "geospatial_test_case_13.json": geospatial_case(),
        INVOICE / "json_interface.json": invoice_interface(),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, data in outputs().items():
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(
            f"{path.relative_to(HERE)}: differs from what make_fixtures.py writes", file=sys.stderr
        )
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
