"""Run one RuleSet on assets three ways (dicts, JSON bytes, a zip export written here) and
return the findings of each, so tests can assert the three agree."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from kili_rules import RuleSet

Key = tuple[Any, ...]


def rows_key(rows: Any) -> list[Key]:
    return sorted(
        (r.asset_id, r.rule, r.kind, r.severity, r.text, r.mid, r.job, r.category, r.frame, r.value)
        for r in rows
        if r.kind != "invalid"
    )


def three_ways(rs: RuleSet, assets: list[dict[str, Any]], tmp_path: Path) -> list[Key]:
    """The rows of `assets` from dicts, from JSON bytes and from a zip export; all equal."""
    direct = sorted(
        (a["id"], i.rule, i.kind, i.severity, i.text, i.mid, i.job, i.category, i.frame, i.value)
        for a in assets
        for i in rs.validate(a)
    )
    from_json = sorted(
        (a["id"], i.rule, i.kind, i.severity, i.text, i.mid, i.job, i.category, i.frame, i.value)
        for a in assets
        for i in rs.validate(json.dumps(a).encode())
    )
    many = rows_key(rs.validate_many([json.dumps(a).encode() for a in assets], threads=1))
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for a in assets:
            z.writestr(f"project/labels/{a['externalId']}.json", json.dumps(a))
    exported = rows_key(rs.validate_export(path, threads=1))
    assert direct == from_json == many == exported
    return direct


def asset(asset_id: str, json_response: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": asset_id,
        "externalId": f"ext-{asset_id}",
        "latestLabel": {"id": f"label-{asset_id}", "jsonResponse": json_response},
        **extra,
    }
