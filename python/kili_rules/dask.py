"""Scale-out on a ``dask.distributed`` cluster (extra ``kili-rules[dask]``).

Two kinds of shards: export files (one task per file) and a live project split into ranges of
asset offsets (one task per range, each paging the Kili API itself). The RuleSet is sent to
each worker once (``client.scatter(..., broadcast=True)``; it pickles as its normalized
rules). Each task returns its rows as a pandas DataFrame with the counts of what it read, so
nothing native crosses processes. A failing shard is reported in ``failures`` while the others
are kept. Tasks are named ``kili-rules-export-*`` / ``kili-rules-project-*`` so the dashboard's
task stream and progress bars show them by name.

>>> from dask.distributed import Client                                # doctest: +SKIP
>>> from kili_rules import RuleSet
>>> from kili_rules.dask import validate_exports
>>> with Client() as client:                                           # doctest: +SKIP
...     result = validate_exports(RuleSet.from_file("rules.toml"), paths, client=client)
>>> result.frame, result.failures, result.totals()                     # doctest: +SKIP
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped, unused-ignore]
    import pyarrow  # type: ignore[import-untyped, unused-ignore]

    from kili_rules.report import Report
    from kili_rules.ruleset import RuleSet

__all__ = ["ShardResult", "ShardedResult", "validate_exports", "validate_project"]

COUNTS = ("labels", "assets", "invalid", "unchecked", "bytes_read")


@dataclass(frozen=True)
class ShardResult:
    """What one task sends back: its rows and its counts."""

    shard: str
    frame: pandas.DataFrame
    counts: dict[str, int]
    #: a project shard: the ids of the assets it read (the merge checks their coverage)
    asset_ids: frozenset[str] = frozenset()


@dataclass
class ShardedResult:
    """The gathered result: every row (``frame``), counts per shard, failed shards."""

    frame: pandas.DataFrame
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    #: shard name -> error text, for the shards that failed (their rows are missing)
    failures: dict[str, str] = field(default_factory=dict)
    #: rule id -> ``max_fraction`` (``RuleSet.tolerances``), judged over every shard at once
    tolerances: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No failed shard, no error row (errors, unreadable and unchecked labels), except
        those of rules within their tolerance over the whole run (:meth:`tolerated`)."""
        errors = self.frame["severity"] == "error"
        tolerated = self.tolerated()
        if tolerated:
            errors &= ~self.frame["rule"].isin(sorted(tolerated))
        return not self.failures and not errors.any()

    def tolerated(self) -> set[str]:
        """The rules with a ``max_fraction`` that at most that fraction of all the shards'
        labels break (distinct labels with a row of the rule); none when a shard failed."""
        labels = self.totals()["labels"]
        if self.failures or not labels or not self.tolerances:
            return set()
        out = set()
        for rule, limit in self.tolerances.items():
            rows = self.frame[self.frame["rule"] == rule]
            keys = rows[["asset_id", "external_id", "source", "label_id"]].drop_duplicates()
            if len(keys) / labels <= limit:
                out.add(rule)
        return out

    def totals(self) -> dict[str, int]:
        out = {name: sum(c.get(name, 0) for c in self.counts.values()) for name in COUNTS}
        out["issues"] = len(self.frame)
        out["failed_shards"] = len(self.failures)
        return out

    def to_arrow(self) -> pyarrow.Table:
        """The rows as an Arrow table (needs pyarrow)."""
        import pyarrow

        return pyarrow.Table.from_pandas(self.frame, preserve_index=False)


def _shard_of(name: str, report: Report, asset_ids: frozenset[str] = frozenset()) -> ShardResult:
    return ShardResult(
        name,
        report.to_pandas(),
        {name_: int(getattr(report, name_)) for name_ in COUNTS},
        asset_ids,
    )


def _export_task(ruleset: RuleSet, path: str, threads: int | None) -> ShardResult:
    return _shard_of(path, ruleset.validate_export(path, threads=threads))


def _project_task(
    ruleset: RuleSet,
    api: Mapping[str, Any],
    project_id: str,
    where: dict[str, Any],
    start: int,
    stop: int,
    options: Mapping[str, Any],
) -> ShardResult:
    from kili_rules.kili.project import GraphQLPoster, validate_range

    poster = GraphQLPoster(api["endpoint"], api["api_key"], api["verify"])
    seen: set[str] = set()
    report = validate_range(ruleset, poster, project_id, where, start, stop, seen=seen, **options)
    return _shard_of(f"{project_id}[{start}:{stop}]", report, frozenset(seen))


def _check_coverage(
    result: ShardedResult,
    shards: Mapping[str, frozenset[str]],
    ranges: Mapping[str, tuple[int, int]],
    total: int,
) -> None:
    """Offsets shift and a page can be served twice: the shards must together have read every
    asset exactly once. A shard that read fewer assets than its range, or an asset that more
    than one shard read, fails the shard(s) by name (their rows are kept; the run is not ok).
    """
    owner: dict[str, str] = {}
    shared: dict[tuple[str, str], int] = {}
    for name, ids in shards.items():
        for asset_id in ids:
            first = owner.setdefault(asset_id, name)
            if first != name:
                shared[(first, name)] = shared.get((first, name), 0) + 1
    for (first, second), n in shared.items():
        text = (
            f"{n} asset(s) were read by more than one shard ({first} and {second}): the "
            "offsets shifted or Kili served a page twice, so other assets may be unread"
        )
        for name in (first, second):
            previous = result.failures.get(name)
            result.failures[name] = text if previous is None else f"{previous}; {text}"
    for name, ids in shards.items():
        start, stop = ranges[name]
        if len(ids) < stop - start and name not in result.failures:
            result.failures[name] = (
                f"read {len(ids)} distinct asset(s) of the {stop - start} at offsets "
                f"[{start}:{stop}]: {stop - start - len(ids)} not read, so not checked (a page "
                "repeated or skipped, or the project changed during the run)"
            )
    if not result.failures and len(owner) != total:
        result.failures["coverage"] = (
            f"countAssets said {total} asset(s), the shards read {len(owner)} distinct ones"
        )


def _gather(
    client: Any,
    futures: Sequence[Any],
    names: Sequence[str],
    tolerances: dict[str, float] | None = None,
    shards: dict[str, frozenset[str]] | None = None,
) -> ShardedResult:
    import pandas
    from dask.distributed import wait

    from kili_rules.report import COLUMNS

    wait(futures)  # type: ignore[no-untyped-call]
    frames: list[pandas.DataFrame] = []
    result = ShardedResult(
        frame=pandas.DataFrame(columns=list(COLUMNS)), tolerances=dict(tolerances or {})
    )
    for name, future in zip(names, futures, strict=True):
        if future.status == "error":
            error = future.exception()
            result.failures[name] = f"{type(error).__name__}: {error}"
            continue
        shard: ShardResult = future.result()
        result.counts[name] = shard.counts
        if shards is not None:
            shards[name] = shard.asset_ids
        if len(shard.frame):
            frames.append(shard.frame)
    if frames:  # in shard order, as the inputs were given
        result.frame = pandas.concat(frames, ignore_index=True)
    return result


def _client(client: Any | None) -> Any:
    if client is not None:
        return client
    from dask.distributed import get_client

    return get_client()  # the current one; raises ValueError naming the problem when none


def validate_exports(
    ruleset: RuleSet,
    paths: Iterable[str | os.PathLike[str]],
    *,
    client: Any | None = None,
    threads: int | None = 1,
) -> ShardedResult:
    """Validate export files (zip, folder, JSON, JSON Lines), one task per file.

    ``threads``: native threads per task (default 1: the cluster's workers are the
    parallelism). Paths must be readable from the workers (a shared disk or mount).
    """
    client = _client(client)
    names = [os.fspath(p) for p in paths]
    [rules] = client.scatter([ruleset], broadcast=True)
    run = uuid.uuid4().hex  # keys are unique per call: dask would reuse a live result by key
    futures = [
        client.submit(
            _export_task, rules, name, threads, key=f"kili-rules-export-{i}-{run}", pure=False
        )
        for i, name in enumerate(names)
    ]
    return _gather(client, futures, names, ruleset.tolerances)


def validate_project(
    ruleset: RuleSet,
    kili: Any,
    project_id: str,
    *,
    client: Any | None = None,
    shard_size: int = 5_000,
    since: Any = None,
    status_in: Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
    labels: str = "latest",
    concurrency: int = 2,
    page_size: int = 200,
    threads: int | None = 1,
) -> ShardedResult:
    """Validate a live project split into ranges of ``shard_size`` assets, one task each.

    The asset count is read here; each task pages its own range with the client's endpoint
    and API key (they travel to the workers in the task). Each worker process keeps its own
    rate limit, so keep ``concurrency`` x workers modest against Kili's per-client budget.
    Shards are offsets: the merge checks that together they read every asset exactly once
    (else the shards concerned are in ``failures``); there is no repair by id across shards.
    """
    from kili_rules.kili.project import (
        GraphQLPoster,
        asset_selection,
        asset_where,
        count_assets,
    )

    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, not {shard_size}")
    asset_selection(ruleset, labels)  # type: ignore[arg-type]  # checked inside
    client = _client(client)
    poster = GraphQLPoster.of(kili)
    scan_where = asset_where(project_id, since=since, status_in=status_in, where=where)
    total = count_assets(poster, project_id, scan_where)
    api = {"endpoint": poster.endpoint, "api_key": poster.api_key, "verify": poster.verify}
    options = {
        "labels": labels,
        "concurrency": concurrency,
        "page_size": page_size,
        "threads": threads,
    }
    [rules] = client.scatter([ruleset], broadcast=True)
    run = uuid.uuid4().hex
    ranges = [(start, min(start + shard_size, total)) for start in range(0, total, shard_size)]
    futures = [
        client.submit(
            _project_task,
            rules,
            api,
            project_id,
            scan_where,
            start,
            stop,
            options,
            key=f"kili-rules-project-{start}-{stop}-{run}",
            pure=False,
        )
        for start, stop in ranges
    ]
    names = [f"{project_id}[{start}:{stop}]" for start, stop in ranges]
    shards: dict[str, frozenset[str]] = {}
    result = _gather(client, futures, names, ruleset.tolerances, shards)
    _check_coverage(result, shards, dict(zip(names, ranges, strict=True)), total)
    if not result.failures:
        _check_none_left(result, poster, scan_where, shards)
    return result


def _check_none_left(
    result: ShardedResult, poster: Any, where: Mapping[str, Any], shards: Mapping[str, Any]
) -> None:
    """The shards were cut from one countAssets; a total that lied low would leave the assets
    past it in no shard. The assets no shard read must count 0 and list none (two requests)."""
    from kili_rules.kili.project import ASSETS_QUERY, COUNT_QUERY

    read: set[str] = set().union(*shards.values()) if shards else set()
    excluded = sorted(set(where.get("idNotIn") or ()) | read)
    left = poster.post(
        COUNT_QUERY, {"where": {**where, "idNotIn": excluded}}, "countAssets not read by a shard"
    )
    if left == 0:  # a count is not proof on its own: the listing must be empty too
        listed = poster.post(
            ASSETS_QUERY % "id",
            {"where": {**where, "idNotIn": excluded}, "first": 1, "skip": 0},
            "assets not read by a shard",
        )
        left = 0 if listed == [] else f"0, but assets listed {listed!r}"
    if left != 0:
        result.failures["coverage"] = (
            f"countAssets of the assets no shard read answered {left!r}, not 0: the count the "
            "shards were cut from was wrong or the project changed; those assets are unchecked"
        )
