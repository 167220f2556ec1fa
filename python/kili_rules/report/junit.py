"""JUnit XML view of a report, the test-result format CI systems (GitLab, Jenkins, GitHub
actions reporters, Azure) display: one test case per asset and label, or one per rule."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Literal

from kili_rules.report import INVALID_KIND, asset_key

if TYPE_CHECKING:
    from kili_rules._native import Row
    from kili_rules.report import Report

# XML 1.0 cannot hold these characters even escaped; ElementTree would write them raw and the
# file would not parse. Label text is user data, so they are replaced.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: object) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _fails(row: Row) -> bool:
    return row.severity == "error" or row.kind == INVALID_KIND


def _line(row: Row, *, with_asset: bool) -> str:
    where = []
    if with_asset:
        where.append(row.external_id or row.asset_id or row.source or "?")
    where.append(row.rule)
    if row.category:
        where.append(row.category)
    if row.mid:
        where.append(f"mid {row.mid}")
    if row.frame is not None:
        where.append(f"frame {row.frame}")
    return f"[{row.severity}] {' / '.join(where)}: {row.text}"


def _case(suite: ET.Element, classname: str, name: str, rows: list[Row], with_asset: bool) -> bool:
    """Add a test case for ``rows``; returns whether it failed."""
    case = ET.SubElement(suite, "testcase", classname=_xml(classname), name=_xml(name), time="0")
    failing = [row for row in rows if _fails(row)]
    others = [row for row in rows if not _fails(row)]
    if failing:
        first = failing[0].text
        message = first if len(failing) == 1 else f"{first} (and {len(failing) - 1} more)"
        failure = ET.SubElement(case, "failure", message=_xml(message), type="error")
        failure.text = _xml("\n".join(_line(row, with_asset=with_asset) for row in failing))
    if others:
        out = ET.SubElement(case, "system-out")
        out.text = _xml("\n".join(_line(row, with_asset=with_asset) for row in others))
    return bool(failing)


def render_junit(report: Report, *, group: Literal["asset", "rule"]) -> str:
    if group not in ("asset", "rule"):
        raise ValueError(f"group must be 'asset' or 'rule', not {group!r}")
    root = ET.Element("testsuites", name="kili-rules")
    suite = ET.SubElement(root, "testsuite", name=f"kili-rules.{group}")
    if report.fingerprint:
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="rules_fingerprint", value=report.fingerprint)

    groups: dict[tuple[str | None, ...], list[Row]] = {}
    for row in report:
        key: tuple[str | None, ...]
        key = (asset_key(row), row.label_id) if group == "asset" else (row.rule,)
        groups.setdefault(key, []).append(row)

    failures = 0
    for key, rows in groups.items():
        if group == "asset":
            first = rows[0]
            name = first.external_id or first.asset_id or first.source or "(unnamed asset)"
            if first.label_id:
                name += f" (label {first.label_id})"
            failures += _case(suite, "kili-rules.asset", name, rows, with_asset=False)
        else:
            failures += _case(suite, "kili-rules.rule", str(key[0]), rows, with_asset=True)

    # Labels without issues have no row; one passing case stands for them, so that a clean run
    # is a passing suite rather than an empty one (which some CI systems reject).
    clean = report.labels + report.unchecked - len(groups) if group == "asset" else 0
    if clean > 0 or not groups:
        name = f"{max(clean, 0)} labels without issues" if group == "asset" else "no issues"
        ET.SubElement(suite, "testcase", classname=f"kili-rules.{group}", name=name, time="0")

    tests = len(suite.findall("testcase"))
    for element in (root, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
    suite.set("skipped", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
