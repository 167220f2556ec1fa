"""One definition of each shared constant: the kinds of the rows the core makes itself are the
core's (src/batch/mod.rs), and Python reads them from there instead of spelling them again."""

from __future__ import annotations

import re
from pathlib import Path

import kili_rules
from kili_rules import RuleSet, _native
from kili_rules.kili import apply, project
from kili_rules.report import INVALID_KIND, UNCHECKED_KIND

PACKAGE = Path(kili_rules.__file__).resolve().parent


def test_the_python_names_are_the_cores_values() -> None:
    rules = RuleSet([{"kind": "count", "job": "JOB_0", "max": 1}])
    report = rules.validate_many(
        [
            {"id": "a", "latestLabel": {"id": "l1"}},  # no jsonResponse: not checked
            {"id": "b", "latestLabel": {"id": "l2", "jsonResponse": {"JOB_0": 3}}},  # unreadable
        ],
        threads=1,
    )
    assert {row.kind for row in report} == {UNCHECKED_KIND, INVALID_KIND}
    assert (UNCHECKED_KIND, INVALID_KIND) == (_native.UNCHECKED_KIND, _native.INVALID_KIND)
    assert apply.UNCHECKED_KIND is project.UNCHECKED_KIND is _native.UNCHECKED_KIND


def test_no_module_spells_the_kinds_again() -> None:
    spelled = re.compile(r"""=\s*["'](unchecked|invalid_label)["']""")
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if spelled.search(line)
    ]
    assert found == []
