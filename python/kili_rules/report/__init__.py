"""Batch reports: the rows a batch run found, and views of them (text, JSON, CSV, JUnit, HTML,
pandas). The views live in the modules of this package; the :class:`Report` class lives here.

A :class:`Report` is what ``RuleSet.validate_many`` and ``RuleSet.validate_export`` return. It holds
one row per issue (an Issue plus the asset and label it belongs to) and the counts of what was
read, so that "no rows" can be told apart from "nothing checked".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped, unused-ignore]

    from kili_rules._native import BatchResult, Row
    from kili_rules.kili.apply import ApplyResult
    from kili_rules.verdict import ActionPolicy

# The kinds of the rows the core makes itself, defined once, in the core (src/batch/mod.rs).
from kili_rules._native import INVALID_KIND, UNCHECKED_KIND
from kili_rules.report.context import Context

__all__ = [
    "COLUMNS",
    "FAIL_ON",
    "INVALID_KIND",
    "UNCHECKED_KIND",
    "Context",
    "Progress",
    "Report",
    "Summary",
    "SummaryRow",
    "progress_bar",
    "row_to_dict",
]

#: Column order of every tabular view (JSON rows, JSON Lines, DataFrame, HTML, text).
COLUMNS: tuple[str, ...] = (
    "asset_id",
    "external_id",
    "label_id",
    "rule",
    "kind",
    "severity",
    "job",
    "category",
    "mid",
    "frame",
    "value",
    "limit",
    "text",
    "source",
    "author",
    "label_type",
    "created_at",
    "asset_status",
)

#: The columns about the label and asset (labeler, label type and date, asset status): present
#: when the input carries them, None otherwise.
LABEL_COLUMNS: tuple[str, ...] = ("author", "label_type", "created_at", "asset_status")

#: Accepted values of ``fail_on`` (``Report.exit_code``, ``kili-rules check --fail-on``).
FAIL_ON: tuple[str, ...] = ("error", "warning", "never")

FailOn = Literal["error", "warning", "never"]

# INVALID_KIND (rows for labels the reader could not read: they always fail a run, a label that
# cannot be read cannot be said to pass) and UNCHECKED_KIND (a label record without a
# jsonResponse, rule "unchecked"; or one rule a label could not be judged by, e.g. a pixel rule
# without the asset's size: its rule id) are the core's, imported above.


class Applier(Protocol):
    """``kili_rules.kili.apply.apply_report``'s signature (what ``Report.apply`` delegates to)."""

    def __call__(
        self,
        report: Report,
        kili: Any,
        *,
        project_id: str | None = ...,
        dry_run: bool = ...,
        reconcile: bool = ...,
        policy: ActionPolicy | None = ...,
        progress: bool | None = ...,
    ) -> ApplyResult: ...


# Report.apply's implementation lives in kili/ (the only layer that calls Kili), which sits above
# this one: kili_rules/__init__ registers it, so this module never imports upwards.
_applier: Applier | None = None


def register_applier(applier: Applier) -> None:
    """Set what ``Report.apply`` delegates to (done once, by ``kili_rules/__init__``)."""
    global _applier
    _applier = applier


def row_to_dict(row: Row) -> dict[str, Any]:
    """One row as a plain dict with the keys of :data:`COLUMNS`, in that order."""
    # getattr with a default: rows of an older core have no label columns.
    return {name: getattr(row, name, None) for name in COLUMNS}


def asset_key(row: Row) -> str | None:
    """What identifies the asset of a row: its id, else its external id, else its source file."""
    return row.asset_id or row.external_id or row.source


def _json_number(value: float | None) -> float | None:
    # JSON has no NaN or infinity; a measure that is not finite is written as null.
    if value is None or not math.isfinite(value):
        return None
    return value


def _json_row(row: Row) -> dict[str, Any]:
    data = row_to_dict(row)
    data["value"] = _json_number(data["value"])
    data["limit"] = _json_number(data["limit"])
    return data


@dataclass(frozen=True)
class SummaryRow:
    """Issues of one rule (and one category of its job): how many, and in how many assets."""

    rule: str
    kind: str
    severity: str
    job: str | None
    category: str | None
    issues: int
    assets: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "job": self.job,
            "category": self.category,
            "issues": self.issues,
            "assets": self.assets,
        }


@dataclass(frozen=True)
class Summary(Sequence[SummaryRow]):
    """Per rule and category counts of a report, most frequent first. ``str()`` is a text table."""

    rows: tuple[SummaryRow, ...]

    @overload
    def __getitem__(self, index: int) -> SummaryRow: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[SummaryRow]: ...
    def __getitem__(self, index: int | slice) -> SummaryRow | Sequence[SummaryRow]:
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [row.to_dict() for row in self.rows]

    def __str__(self) -> str:
        from kili_rules.report.text import summary_table

        return summary_table(self)

    def _repr_html_(self) -> str:
        from kili_rules.report.html import summary_table

        return summary_table(self)


def summarize(rows: Iterable[Row]) -> Summary:
    """Group rows by (rule, kind, severity, job, category); count issues and distinct assets."""
    issues: dict[tuple[str, str, str, str | None, str | None], int] = {}
    assets: dict[tuple[str, str, str, str | None, str | None], set[str | None]] = {}
    for row in rows:
        key = (row.rule, row.kind, row.severity, row.job, row.category)
        issues[key] = issues.get(key, 0) + 1
        assets.setdefault(key, set()).add(asset_key(row))
    ordered = sorted(issues, key=lambda k: (-issues[k], k[0], k[4] or "", k[3] or "", k[2]))
    return Summary(
        tuple(SummaryRow(*key, issues=issues[key], assets=len(assets[key])) for key in ordered)
    )


def by_labeler(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Issues per labeler (``author``), most first: ``{labeler, issues, errors, warnings,
    assets}``. Rows without an author are one entry with ``labeler`` None; no entry at all when
    no row has an author (the input carries none)."""
    if not any(getattr(row, "author", None) for row in rows):
        return []
    counts: dict[str | None, dict[str, Any]] = {}
    assets: dict[str | None, set[str | None]] = {}
    for row in rows:
        author = getattr(row, "author", None) or None
        entry = counts.setdefault(
            author, {"labeler": author, "issues": 0, "errors": 0, "warnings": 0, "assets": 0}
        )
        entry["issues"] += 1
        if row.severity == "error":
            entry["errors"] += 1
        elif row.severity == "warning":
            entry["warnings"] += 1
        assets.setdefault(author, set()).add(asset_key(row))
    for author, entry in counts.items():
        entry["assets"] = len(assets[author])
    # Most issues first; the rows without an author last among equals.
    return sorted(
        counts.values(), key=lambda e: (-e["issues"], e["labeler"] is None, e["labeler"] or "")
    )


def _authors_of(items: Sequence[object]) -> dict[str | None, int] | None:
    """Labels per author email in a list given to ``validate_many`` (assets with a
    ``latestLabel``, or labels); None when the items are not of that shape."""
    out: dict[str | None, int] = {}
    for item in items:
        if not isinstance(item, Mapping):
            return None
        label = item if "jsonResponse" in item else item.get("latestLabel")
        if not isinstance(label, Mapping):
            return None
        author = label.get("author")
        email = author.get("email") if isinstance(author, Mapping) else None
        key = email if isinstance(email, str) and email else None
        out[key] = out.get(key, 0) + 1
    return out


class Report(Sequence["Row"]):
    """The result of a batch validation: one row per issue, plus what was read.

    ``len(report)`` is the number of issues; iterate or index it for the :class:`Row` objects.
    ``labels`` and ``assets`` count what was checked (clean ones included), ``invalid`` the
    labels that could not be read (each also has a row of kind ``"invalid_label"``),
    ``unchecked`` the labels with no jsonResponse to check (each has a row of kind
    ``"unchecked"``, severity error, naming the ``fields=`` to fetch; not in ``labels``).
    """

    #: How many issue rows ``_repr_html_`` shows in a notebook (the summary is always complete).
    html_max_rows: int = 50

    def __init__(
        self,
        rows: Iterable[Row] = (),
        *,
        labels: int = 0,
        assets: int = 0,
        invalid: int = 0,
        bytes_read: int = 0,
        fingerprint: str | None = None,
        context: Context | None = None,
        jobs: Iterable[str] = (),
        unchecked: int = 0,
        tolerances: Mapping[str, float] | None = None,
    ) -> None:
        self._rows: list[Row] = list(rows)
        #: Rule id -> ``max_fraction`` (the rules' tolerances, ``RuleSet.tolerances``): such a
        #: rule fails the run only when more than that fraction of the labels break it.
        self.tolerances: dict[str, float] = dict(tolerances or {})
        self.labels = labels
        self.assets = assets
        self.invalid = invalid
        self.unchecked = unchecked
        self.bytes_read = bytes_read
        #: sha256 of the rules that produced this report, when known (``RuleSet.fingerprint``).
        self.fingerprint = fingerprint
        #: What was checked (inputs, rules file, version, time) and where the assets live in Kili
        #: (project id, base URL): the header of the HTML page and the asset links.
        self.context = context if context is not None else Context()
        #: The assets given to ``validate_many`` when they were a sequence: the drawings of the
        #: HTML page look their geometry up there (exports are read again from ``context``).
        self.items: Sequence[object] | None = None
        #: ``(asset id, label id)`` of every label checked, clean ones included, when the
        #: producer knows them (``validate_project``); ``apply`` reconciles those labels too.
        #: When None, ``apply`` takes them from ``items``, else only from the rows.
        self.checked: list[tuple[str, str]] | None = None
        #: What became of the issues kili-rules created in Kili, per rule, labeler and
        #: category (``kili_rules.kili.waivers.issue_outcomes``): set by ``audit``, else None.
        self.issue_outcomes: list[dict[str, Any]] | None = None
        #: The jobs that appear in the labels checked.
        self.jobs: frozenset[str] = frozenset(jobs)
        #: Labels checked per labeler (author email; None for labels without one), clean ones
        #: included, when the producer knows them (``validate_project``, ``validate_many`` over
        #: a list): the per-labeler pass rates. None when not known.
        self.label_authors: dict[str | None, int] | None = None
        #: Run-level warnings shown in the report header (e.g. rules that matched no job).
        self.notes: list[str] = []
        #: Each rule's rate against an earlier report (``check --baseline``), see
        #: :mod:`kili_rules.report.trends`; None when no baseline was given.
        self.trends: list[dict[str, Any]] | None = None
        #: The severity the verdict (headline, ``passed``) is judged at; ``kili-rules check
        #: --fail-on`` sets it.
        self.fail_on: str = "error"

    @classmethod
    def from_batch(
        cls,
        result: BatchResult,
        *,
        fingerprint: str | None = None,
        context: Context | None = None,
        tolerances: Mapping[str, float] | None = None,
    ) -> Report:
        """Wrap what the native batch run returned."""
        return cls(
            result.rows,
            labels=result.labels,
            assets=result.assets,
            invalid=result.invalid,
            bytes_read=result.bytes_read,
            fingerprint=fingerprint,
            context=context,
            jobs=result.jobs,
            unchecked=result.unchecked,
            tolerances=tolerances,
        )

    @classmethod
    def concat(cls, reports: Iterable[Report]) -> Report:
        """One report holding the rows and counts of several (e.g. several export files).

        The fingerprint is kept when every report has the same one, else it is None.
        """
        reports = list(reports)
        prints = {report.fingerprint for report in reports}
        merged = cls(
            (row for report in reports for row in report._rows),
            labels=sum(report.labels for report in reports),
            assets=sum(report.assets for report in reports),
            invalid=sum(report.invalid for report in reports),
            bytes_read=sum(report.bytes_read for report in reports),
            fingerprint=prints.pop() if len(prints) == 1 else None,
            context=Context.merge(report.context for report in reports),
            jobs=(job for report in reports for job in report.jobs),
            unchecked=sum(report.unchecked for report in reports),
            tolerances={k: v for report in reports for k, v in report.tolerances.items()},
        )
        items = [report.items for report in reports if report.items is not None]
        merged.items = items[0] if len(items) == 1 else None
        if all(report.checked is not None for report in reports):
            merged.checked = [pair for report in reports for pair in report.checked or ()]
        if reports and all(report.label_authors is not None for report in reports):
            authors: dict[str | None, int] = {}
            for report in reports:
                for author, n in (report.label_authors or {}).items():
                    authors[author] = authors.get(author, 0) + n
            merged.label_authors = authors
        return merged

    def __add__(self, other: object) -> Report:
        if not isinstance(other, Report):
            return NotImplemented
        return Report.concat([self, other])

    # -- rows -------------------------------------------------------------------------------

    @property
    def rows(self) -> list[Row]:
        """The issue rows (a copy)."""
        return list(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        return self._rows[index]

    def __repr__(self) -> str:
        return (
            f"<Report {self.labels} labels in {self.assets} assets: {len(self)} issues "
            f"({self.errors} error(s), {self.warnings} warning(s)), {self.invalid} invalid, "
            f"{self.unchecked} unchecked>"
        )

    # -- counts -----------------------------------------------------------------------------

    @property
    def errors(self) -> int:
        """Number of issues of severity ``"error"``."""
        return sum(1 for row in self._rows if row.severity == "error")

    @property
    def warnings(self) -> int:
        """Number of issues of severity ``"warning"``."""
        return sum(1 for row in self._rows if row.severity == "warning")

    @property
    def assets_with_issues(self) -> int:
        """Number of distinct assets that have at least one issue."""
        return len({asset_key(row) for row in self._rows})

    @property
    def ok(self) -> bool:
        """True when no issue has severity error and every label could be read."""
        return not self._fails("error")

    def _fails(self, fail_on: str) -> bool:
        if fail_on not in FAIL_ON:
            raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
        if fail_on == "never":
            return False
        failing = {"error"} if fail_on == "error" else {"error", "warning"}
        tolerated = {t["rule"] for t in self.tolerance_status() if t["within"]}
        return self.invalid > 0 or any(
            (row.severity in failing and row.rule not in tolerated) or row.kind == INVALID_KIND
            for row in self._rows
        )

    def tolerance_status(self) -> list[dict[str, Any]]:
        """Each rule with a ``max_fraction``: ``{"rule", "max_fraction", "labels" (checked),
        "breaking" (distinct labels with a row of the rule), "fraction", "within"}``. A rule
        within its tolerance does not fail the run (its rows stay in the report); with no
        label checked, nothing is within."""
        if not self.tolerances:
            return []
        breaking: dict[str, set[tuple[str | None, str | None]]] = {}
        for row in self._rows:
            if row.rule in self.tolerances:
                breaking.setdefault(row.rule, set()).add((asset_key(row), row.label_id))
        out = []
        for rule, limit in self.tolerances.items():
            n = len(breaking.get(rule, ()))
            fraction = n / self.labels if self.labels else None
            out.append(
                {
                    "rule": rule,
                    "max_fraction": limit,
                    "labels": self.labels,
                    "breaking": n,
                    "fraction": fraction,
                    "within": fraction is not None and fraction <= limit,
                }
            )
        return out

    def apply(
        self,
        kili: Any,
        *,
        project_id: str | None = None,
        dry_run: bool = True,
        reconcile: bool = True,
        policy: ActionPolicy | None = None,
        progress: bool | None = None,
    ) -> ApplyResult:
        """Push this report's findings to Kili (a dry run by default: ``print()`` the result).

        Issues are created in bulk with their object mids; an issue already open on the asset
        with the same text and mid is not created again; issues kili-rules created earlier
        that no longer fire are solved (``reconcile``); the actions of ``policy`` (the rules
        file's ``[actions]``; default: send back on error) are performed. Applying again
        changes nothing. ``project_id`` defaults to ``context.project_id``. A report from
        any source is applied: where it has no label id (a Kili export), the assets' latest
        labels are read from Kili first; an asset that cannot be applied (deleted since) is
        counted in the result's headline and makes ``result.ok`` False. ``progress``: one
        progress bar on stderr over the assets acted on (default: when stderr is a terminal;
        the SDK's own bars stay off). See :mod:`kili_rules.kili.apply`.
        """
        if _applier is None:
            raise RuntimeError("Report.apply: no implementation registered (import kili_rules)")
        return _applier(
            self,
            kili,
            project_id=project_id,
            dry_run=dry_run,
            reconcile=reconcile,
            policy=policy,
            progress=progress,
        )

    def unmatched_rules(self, rules: Iterable[Mapping[str, Any]]) -> list[str]:
        """Ids of the rules (normalized dicts, ``RuleSet.rules``) whose job appears in no
        label of this report and that produced no row: they checked nothing. A rule that
        produced issues (a ``required`` job missing from every label) did check something."""
        fired = {row.rule for row in self._rows}
        return [
            str(rule.get("id"))
            for rule in rules
            if isinstance(rule.get("job"), str)
            and rule["job"] not in self.jobs
            and str(rule.get("id")) not in fired
        ]

    def exit_code(self, fail_on: FailOn | str = "error") -> int:
        """Process exit code for CI: 1 when an issue at or above ``fail_on`` exists, else 0.

        ``fail_on="error"`` fails on errors and unreadable labels, ``"warning"`` on warnings
        too, ``"never"`` always returns 0.
        """
        return 1 if self._fails(fail_on) else 0

    def pass_rates(self) -> dict[str, Any]:
        """Labels that pass (no issue at the report's ``fail_on`` severity, readable), overall
        and per labeler: ``{"labels", "passed", "rate", "by_labeler": [{"labeler", "labels",
        "passed", "rate"}]}``; ``rate`` is None when no label was checked. ``by_labeler`` is
        empty when the report does not know how many labels each labeler made
        (:attr:`label_authors`)."""
        failing = {"error"} if self.fail_on != "warning" else {"error", "warning"}
        failed: dict[tuple[str | None, str | None], str | None] = {}
        if self.fail_on != "never":
            for row in self._rows:
                if row.kind == UNCHECKED_KIND and row.rule == UNCHECKED_KIND:
                    continue  # a label with nothing read: not in ``labels`` either
                if row.severity in failing or row.kind == INVALID_KIND:
                    key = (asset_key(row), row.label_id)
                    failed[key] = getattr(row, "author", None) or None
        passed = max(self.labels - len(failed), 0)
        out: dict[str, Any] = {
            "labels": self.labels,
            "passed": passed,
            "rate": passed / self.labels if self.labels else None,
            "by_labeler": [],
        }
        authors = self.label_authors
        if authors is None and self.items is not None:
            authors = _authors_of(self.items)
        elif authors is None and self.context.inputs and self.labels:
            from kili_rules.report.drawings import export_authors

            # read once: the page asks again for the header
            authors = self.label_authors = export_authors(self.context.inputs, self.labels)
        if authors:
            fails: dict[str | None, int] = {}
            for author in failed.values():
                fails[author] = fails.get(author, 0) + 1
            for author, n in sorted(authors.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
                ok = max(n - fails.get(author, 0), 0)
                out["by_labeler"].append(
                    {"labeler": author, "labels": n, "passed": ok, "rate": ok / n if n else None}
                )
        return out

    def summary(self) -> Summary:
        """Issues and distinct assets per rule and category, most frequent first."""
        return summarize(self._rows)

    def by_labeler(self) -> list[dict[str, Any]]:
        """Issues, errors, warnings and distinct assets per labeler (the label's ``author``),
        most issues first; empty when the input carries no author (see :func:`by_labeler`)."""
        return by_labeler(self._rows)

    def totals(self) -> dict[str, Any]:
        """The headline counts, as in the ``summary`` object of :meth:`to_json`."""
        return {
            "ok": self.ok,
            "labels": self.labels,
            "assets": self.assets,
            "invalid": self.invalid,
            "unchecked": self.unchecked,
            "issues": len(self),
            "errors": self.errors,
            "warnings": self.warnings,
            "assets_with_issues": self.assets_with_issues,
            "bytes_read": self.bytes_read,
            "fingerprint": self.fingerprint,
            **({"notes": list(self.notes)} if self.notes else {}),
        }

    # -- views ------------------------------------------------------------------------------

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as plain dicts (keys: :data:`COLUMNS`)."""
        return [row_to_dict(row) for row in self._rows]

    def to_json(self, *, indent: int | None = 2) -> str:
        """``{"summary": {totals..., "by_rule": [...], "by_labeler": [...]}, "checked": {what
        was checked}, "rows": [...]}`` as a JSON string.

        Non-finite measures (``inf``, ``nan``) are written as null.
        """
        summary = self.totals()
        summary["by_rule"] = self.summary().to_dicts()
        summary["by_labeler"] = self.by_labeler()
        if self.issue_outcomes is not None:
            summary["issue_outcomes"] = self.issue_outcomes
        if self.trends is not None:
            summary["trends"] = self.trends
        if self.tolerances:
            summary["tolerances"] = self.tolerance_status()
        document = {
            "summary": summary,
            "checked": self.context.to_dict(),
            "rows": [_json_row(row) for row in self._rows],
        }
        return json.dumps(document, indent=indent, ensure_ascii=False, allow_nan=False)

    def to_jsonl(self) -> str:
        """One JSON object per row and line (empty string when there is no row)."""
        return "".join(
            json.dumps(_json_row(row), ensure_ascii=False, allow_nan=False) + "\n"
            for row in self._rows
        )

    def to_csv(self) -> str:
        """The rows as CSV (header :data:`COLUMNS`), the format spreadsheets and BI tools read."""
        from kili_rules.report.csv import render_csv

        return render_csv(self)

    def to_junit(self, *, group: Literal["asset", "rule"] = "asset") -> str:
        """JUnit XML for CI: a test case per asset (label) with issues, or per rule.

        Error rows (and unreadable labels) are ``<failure>``s; warnings go to
        ``<system-out>`` of a passing test case. With ``group="asset"`` the labels without any
        issue are one passing test case, so a clean run is never an empty suite.
        """
        from kili_rules.report.junit import render_junit

        return render_junit(self, group=group)

    def to_text(self, *, max_rows: int | None = None) -> str:
        """Readable report for a terminal: totals, a per-rule summary, then the issues."""
        from kili_rules.report.text import render_text

        return render_text(self, max_rows=max_rows)

    def __str__(self) -> str:
        return self.to_text(max_rows=self.html_max_rows)

    def to_html(
        self,
        *,
        title: str = "kili-rules report",
        max_rows: int = 200_000,
        drawings_per_rule: int = 6,
        images: bool | Sequence[str] = False,
    ) -> str:
        """A standalone HTML page that works offline: what was checked, charts (issues per rule,
        category, labeler and label date), drawings of the labels with findings, and the issues
        in a table with filter, sort and pages (all label data escaped).

        ``max_rows``: issues embedded in the page's table (the charts and counts cover all; the
        full list stays in JSON / JSONL / CSV). ``drawings_per_rule``: labels drawn per rule.
        ``images``: draw the asset's image under its objects when its content is a local file
        (``True``), or a URL starting with one of the given prefixes (a list, which may also
        hold ``"local"`` for local files). Never by default: a page that loads URLs tells
        their server who opened it.
        """
        from kili_rules.report.html import render_page

        return render_page(
            self,
            title=title,
            max_rows=max_rows,
            drawings_per_rule=drawings_per_rule,
            images=images,
        )

    def _repr_html_(self) -> str:
        from kili_rules.report.html import render_fragment

        return render_fragment(self, max_rows=self.html_max_rows)

    def to_pandas(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (columns :data:`COLUMNS`; ``frame`` is nullable Int64).

        Needs pandas: ``pip install 'kili-rules[pandas]'``.
        """
        try:
            import pandas  # type: ignore[import-untyped, unused-ignore]
        except ImportError as error:
            raise ImportError(
                "Report.to_pandas() needs pandas; install it with: pip install 'kili-rules[pandas]'"
            ) from error
        frame = pandas.DataFrame.from_records(self.to_dicts(), columns=list(COLUMNS))
        frame["frame"] = frame["frame"].astype("Int64")
        frame["value"] = frame["value"].astype("float64")
        frame["limit"] = frame["limit"].astype("float64")
        return frame


class Progress(Protocol):
    """What :func:`progress_bar` yields: advance it by the number of items done."""

    def update(self, n: int = 1) -> object: ...


class _NoProgress:
    def update(self, n: int = 1) -> None:
        return None


@contextmanager
def progress_bar(
    total: int | None,
    disable: bool = False,
    desc: str = "labels",
    *,
    unit: str = "label",
    leave: bool = False,
) -> Iterator[Progress]:
    """A progress bar on stderr (tqdm when installed), or an object whose ``update`` does nothing.

    Install tqdm with ``pip install 'kili-rules[progress]'``. ``leave``: keep the bar's last
    state on screen when done (else it is erased).
    """
    if disable:
        yield _NoProgress()
        return
    try:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        yield _NoProgress()
        return
    bar = tqdm(total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
