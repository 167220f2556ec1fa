"""Generated Kili-shaped labels for the suggest/backtest recipe of docs/recipes.md.

Writes, in the current folder: interface.json (boxes and polygons in three categories, a
transcription child of CAR), accepted.json (assets LABELED or REVIEWED, and some sent back,
which suggest leaves out), history.json (past assets: accepted ones, labels sent back for a box
ten times too big, reviewer issues on a missing plate) and new.json (a fresh batch, one bad).
"""

from __future__ import annotations

import json
import random
from typing import Any

CATS = {"CAR": (0.12, 0.08), "PERSON": (0.04, 0.10), "SIGN": (0.03, 0.03)}


def obj(rng: random.Random, n: int, cat: str, scale: float = 1.0) -> dict[str, Any]:
    w = min(CATS[cat][0] * scale * rng.lognormvariate(0, 0.2), 1.0)
    h = min(CATS[cat][1] * scale * rng.lognormvariate(0, 0.2), 1.0)
    x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
    if cat == "SIGN":
        pts = [(x + w / 2, y), (x + w, y + h / 2), (x + w / 2, y + h), (x, y + h / 2)]
    else:
        pts = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    ann: dict[str, Any] = {
        "mid": f"m{n}",
        "type": "polygon" if cat == "SIGN" else "rectangle",
        "categories": [{"name": cat}],
        "boundingPoly": [{"normalizedVertices": [{"x": a, "y": b} for a, b in pts]}],
    }
    if cat == "CAR":
        plate = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ0123456789") for _ in range(7))
        ann["children"] = {"PLATE": {"text": plate}}
    return ann


def label(rng: random.Random) -> dict[str, Any]:
    anns: list[dict[str, Any]] = []
    for cat, most in (("CAR", 4), ("PERSON", 6), ("SIGN", 3)):
        anns += [obj(rng, len(anns) + i, cat) for i in range(rng.randint(0, most))]
    return {"DETECTION": {"annotations": anns}}


def main() -> None:
    rng = random.Random(0)
    interface = {
        "jobs": {
            "DETECTION": {
                "mlTask": "OBJECT_DETECTION",
                "tools": ["rectangle", "polygon"],
                "required": 1,
                "isChild": False,
                "content": {
                    "input": "radio",
                    "categories": {
                        c: {"name": c, "children": ["PLATE"] if c == "CAR" else []} for c in CATS
                    },
                },
            },
            "PLATE": {
                "mlTask": "TRANSCRIPTION",
                "required": 0,
                "isChild": True,
                "content": {"input": "textField"},
            },
        }
    }
    accepted = [
        {
            "id": f"a{i}",
            "status": rng.choice(["LABELED", "REVIEWED"]),
            "latestLabel": {"jsonResponse": label(rng)},
        }
        for i in range(2000)
    ]
    history: list[dict[str, Any]] = []
    for i in range(200):
        history.append(
            {
                "id": f"h{i}",
                "issues": [],
                "labels": [{"jsonResponse": label(rng), "isSentBackToQueue": False}],
            }
        )
    for i in range(20):
        bad = label(rng)
        bad["DETECTION"]["annotations"].append(obj(rng, 99, "CAR", scale=10))
        history.append(
            {
                "id": f"big{i}",
                "issues": [],
                "labels": [{"jsonResponse": bad, "isSentBackToQueue": True}],
            }
        )
    for i in range(10):
        bad = label(rng)
        car = obj(rng, 99, "CAR")
        del car["children"]
        bad["DETECTION"]["annotations"].append(car)
        history.append(
            {
                "id": f"plate{i}",
                "issues": [{"type": "ISSUE", "status": "OPEN"}],
                "latestLabel": {"jsonResponse": bad},
            }
        )
    new = [{"externalId": f"n{i}", "latestLabel": {"jsonResponse": label(rng)}} for i in range(99)]
    bad = label(rng)
    bad["DETECTION"]["annotations"].append(obj(rng, 99, "PERSON", scale=10))
    new.append({"externalId": "n99", "latestLabel": {"jsonResponse": bad}})
    for name, data in (
        ("interface", interface),
        ("accepted", accepted),
        ("history", history),
        ("new", new),
    ):
        with open(f"{name}.json", "w", encoding="utf-8") as out:
            json.dump(data, out)


if __name__ == "__main__":
    main()
