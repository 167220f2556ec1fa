"""Validate a live Kili project: page its assets concurrently, check the labels natively.

Why not ``kili.assets(...)``: the SDK sends every request under one process-wide lock (so
threads do not overlap), pages 100 assets at a time, and ``json.loads`` every jsonResponse
into Python dicts that the native core then has to walk again. Here pages are POSTed directly
(each worker thread has its own HTTP session), several at once, within the SDK's own
per-process rate limiter; the answer is decoded once, each jsonResponse stays the JSON string
the API returned, and the native core parses it. Pages are consumed in order and handed to one
streaming native batch, so at most ``concurrency + 1`` pages are held at any time.

Only the fields the rules and the report need are asked for: ids, the asset's status and
resolution (the report's status column, the drawings' aspect ratio and pixel rules), the
labels of the chosen kind (id, jsonResponse, jsonResponseUrl, and the labeler, type and date
the report shows). The few labels the HTML report draws are read again by id after the scan
(:func:`drawn_assets`), so the scan holds no geometry.

Paging cannot lie. Kili's ``assets`` query has offsets (``first``/``skip``) and no order
argument or cursor, so an asset added or removed while the scan runs shifts the pages, and a
misbehaving API can serve a page twice. The offsets are the fast path; what keeps the result
true is the asset id, the one stable key the API filters on exactly (``idNotIn``): an asset
served twice is checked once, and once the pages are read, ``countAssets(idNotIn: ids read)``
must be 0; the assets it counts are read by id (``idNotIn``, ``skip`` 0: no offset to shift),
and any it cannot read become an ``unchecked`` row, so the report is never ``ok`` about an
asset it did not read.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from kili_rules._native import Row
    from kili_rules.report import Report
    from kili_rules.ruleset import RuleSet

from kili_rules import deep_json
from kili_rules.report import UNCHECKED_KIND  # the core's kind name, defined once

LOGGER = logging.getLogger("kili_rules.kili")

LabelsMode = Literal["latest", "all", "consensus"]

#: The asset field holding the labels to check, per ``labels=`` mode.
LABEL_FIELDS: dict[str, str] = {
    "latest": "latestLabel",
    "all": "labels",
    "consensus": "latestLabels",
}
#: HTTP statuses worth retrying: rate limited, or a gateway / server that may recover.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
#: Kili's documented per-process budget, used when the SDK's own limiter cannot be shared.
CALLS_PER_MINUTE = 500
MAX_PAGE_SIZE = 500
#: The retry budget: the most one request waits, in total, between its attempts (backoff and
#: ``Retry-After``). A wait that would pass it fails at once, naming it.
MAX_WAIT = 300.0
#: Statuses whose ``Retry-After`` header is honoured (RFC 9110: rate limited, unavailable).
RETRY_AFTER_STATUSES = frozenset({429, 503})
#: Request bodies above this are gzipped (the Kili API accepts it, as the SDK sends them).
COMPRESS_OVER = 1024 * 1024
#: Rounds of reading-by-id allowed beyond those the missing count needs (assets that keep
#: appearing while the scan reads them).
REPAIR_SLACK = 3

COUNT_QUERY = "query countAssets($where: AssetWhere!){ data: countAssets(where:$where) }"
PROJECT_QUERY = (
    "query projects($where: ProjectWhere!, $first: PageSize!, $skip: Int!)"
    "{ data: projects(where:$where, first:$first, skip:$skip){ id } }"
)
ASSETS_QUERY = (
    "query assets($where: AssetWhere!, $first: PageSize!, $skip: Int!)"
    "{ data: assets(where:$where, skip:$skip, first:$first){ %s } }"
)


class ProjectError(RuntimeError):
    """Kili refused a request, or kept failing after the retries; names the request."""


def asset_selection(ruleset: RuleSet, labels: LabelsMode) -> str:
    """The GraphQL selection of one asset: only what the rules need."""
    if labels not in LABEL_FIELDS:
        raise ValueError(f"labels must be one of {', '.join(LABEL_FIELDS)}, not {labels!r}")
    del ruleset  # every scan asks for the same fields: what the rules and the report need
    parts = ["id", "externalId", "status", "resolution { width height }"]
    label = "id jsonResponse jsonResponseUrl author { email } labelType createdAt"
    parts.append(f"{LABEL_FIELDS[labels]} {{ {label} }}")
    return " ".join(parts)


#: Labels per rule the HTML report draws by default (``Report.to_html(drawings_per_rule=6)``):
#: the ones read again after a scan.
DRAWN_PER_RULE = 6


def kili_timestamp(value: datetime | date | str) -> str:
    """A bound as Kili compares it: ISO-8601 UTC with milliseconds and a ``Z``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"since: {text!r} is not an ISO-8601 date or date-time") from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)  # naive: taken as UTC, as Kili stores times
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def asset_where(
    project_id: str,
    *,
    since: datetime | date | str | None = None,
    status_in: Sequence[str] | None = None,
    step_id_in: Sequence[str] | None = None,
    step_status_in: Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``AssetWhere`` of a project scan (None filters are left out, as the SDK does)."""
    out: dict[str, Any] = {"project": {"id": project_id}}
    if since is not None:
        out["updatedAtGte"] = kili_timestamp(since)
    if status_in is not None:
        out["statusIn"] = list(status_in)
    if step_id_in is not None:
        out["stepIdIn"] = list(step_id_in)
    if step_status_in is not None:
        out["stepStatusIn"] = list(step_status_in)
    for key, value in (where or {}).items():
        if key == "project":
            raise ValueError("where: the project is given by project_id")
        out[key] = value
    return out


class _RateLimit:
    """At most ``per_minute`` calls in any 60 s window (a sliding log of call times)."""

    def __init__(self, per_minute: int) -> None:
        self._lock = threading.Lock()
        self._calls: deque[float] = deque()
        self._per_minute = per_minute

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._calls and now - self._calls[0] >= 60.0:
                    self._calls.popleft()
                if len(self._calls) < self._per_minute:
                    self._calls.append(now)
                    return
                wait = 60.0 - (now - self._calls[0])
            time.sleep(wait)


def _sdk_limiter() -> Any | None:
    # The SDK keeps its per-process limiter at module level: sharing it keeps this scan and
    # any SDK call made meanwhile within one budget. Private API, so it is optional.
    try:
        from kili.core.graphql import graphql_client  # type: ignore[import-untyped]
    except ImportError:
        return None
    limiter = getattr(graphql_client, "_limiter", None)
    return limiter if callable(getattr(limiter, "try_acquire", None)) else None


@dataclass
class GraphQLPoster:
    """POSTs GraphQL documents to the client's endpoint with its key, retrying transient errors.

    Answers are decoded with ``json.loads`` once: string fields such as ``jsonResponse`` stay
    strings. One ``requests.Session`` per thread.
    """

    endpoint: str
    api_key: str
    verify: bool | str = True
    max_retries: int = 6
    backoff: float = 0.25
    max_backoff: float = 8.0
    timeout: float = 60.0
    max_wait: float = MAX_WAIT
    retried: int = 0
    _local: threading.local = field(default_factory=threading.local)
    _own_limit: _RateLimit = field(default_factory=lambda: _RateLimit(CALLS_PER_MINUTE))
    _count_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._limiter = _sdk_limiter()

    @classmethod
    def of(cls, kili: Any, **kwargs: Any) -> GraphQLPoster:
        """From a ``kili.client.Kili``: its endpoint, API key and TLS setting."""
        try:
            endpoint, api_key = kili.api_endpoint, kili.api_key
        except AttributeError:
            raise TypeError(
                f"expected a kili.client.Kili, got {type(kili).__name__} "
                "(it has no api_endpoint / api_key)"
            ) from None
        return cls(endpoint, api_key, getattr(kili, "verify", True), **kwargs)

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests  # type: ignore[import-untyped, unused-ignore]

            session = requests.Session()
            session.verify = self.verify
            session.headers.update(
                {
                    "Authorization": f"X-API-Key: {self.api_key}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "apollographql-client-name": "kili-rules",
                }
            )
            self._local.session = session
        return session

    def _acquire(self) -> None:
        if self._limiter is not None:
            self._limiter.try_acquire("GraphQLClient.execute")
        else:
            self._own_limit.acquire()

    def _sleep_before(
        self, what: str, attempt: int, waited: float, why: str, retry_after: float | None = None
    ) -> float:
        """Wait before the next attempt; returns the total waited so far by this request.

        ``Retry-After`` (when the answer has one) is waited as asked; otherwise a full-jitter
        backoff (concurrent workers that failed together do not retry together). A wait that
        would take the request past ``max_wait`` seconds in total raises at once instead.
        """
        if retry_after is not None:
            delay = max(retry_after, self.backoff)  # Retry-After: 0 must not spin
        else:
            delay = random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
        if waited + delay > self.max_wait:
            asked = f"Kili asked to retry after {retry_after:g} s; " if retry_after else ""
            raise ProjectError(
                f"{what}: {why}; {asked}gave up after waiting {waited:.1f} s, as another "
                f"{delay:.1f} s would pass the retry budget (max_wait={self.max_wait:g} s)"
            )
        with self._count_lock:
            self.retried += 1
        time.sleep(delay)
        return waited + delay

    def sends_key_to(self, url: str) -> bool:
        """Whether ``url`` is Kili's own API (same scheme, host and port as the endpoint, under
        its path): a plain prefix test would hand the key to ``<kili host>.evil.invalid``."""
        base = urlsplit(self.endpoint.rsplit("/graphql", 1)[0])
        try:
            target = urlsplit(url)
            same = (
                target.scheme.lower() == base.scheme.lower()
                and target.hostname is not None
                and target.hostname == base.hostname
                and target.port == base.port
            )
        except ValueError:  # a bad port, an unbalanced IPv6 bracket
            return False
        if not same or target.username is not None or target.password is not None:
            return False
        prefix = base.path.rstrip("/")
        return target.path == prefix or target.path.startswith(prefix + "/")

    def _send(self, attempt: Callable[[], Any], what: str, *, name_attempts: bool = False) -> Any:
        """Run ``attempt`` (one HTTP request) until its answer is not transient: connection
        failures and 408/425/429/5xx are retried up to ``max_retries`` times with backoff, and
        for as long as Kili's ``Retry-After`` asks, within ``max_wait``. Returns the response."""
        import requests

        waited, failures = 0.0, 0
        while True:
            try:
                response = attempt()
            except (requests.ConnectionError, requests.Timeout) as error:
                if failures == self.max_retries:
                    tried = f" (after {failures + 1} attempts)" if name_attempts else ""
                    raise ProjectError(f"{what}: {error}{tried}") from error
                waited = self._sleep_before(what, failures, waited, str(error))
                failures += 1
                continue
            status = response.status_code
            if status in TRANSIENT_STATUSES:
                retry_after = _retry_after(response)
                if retry_after is not None or failures < self.max_retries:
                    why = f"HTTP {status}"
                    waited = self._sleep_before(what, failures, waited, why, retry_after)
                    failures += retry_after is None  # Retry-After waits do not use up retries
                    continue
            return response

    def get_text(self, url: str, what: str) -> str:
        """GET a URL (a jsonResponseUrl); the API key is sent only to Kili's own API."""
        import requests

        key = {"Authorization": f"X-API-Key: {self.api_key}"}
        headers = key if self.sends_key_to(url) else {}
        response = self._send(
            lambda: requests.get(url, headers=headers, timeout=self.timeout), what
        )
        if response.status_code != 200:
            raise ProjectError(f"{what}: HTTP {response.status_code}")
        return str(response.text)

    def post(self, query: str, variables: Mapping[str, Any], what: str) -> Any:
        """The ``data`` alias of the answer; ``what`` names the request in errors.

        Transient failures are retried: up to ``max_retries`` times with backoff, and for
        as long as Kili's ``Retry-After`` asks (429, 503), all within ``max_wait`` seconds of
        waiting per request.
        """
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers: dict[str, str] = {}
        if len(body) > COMPRESS_OVER:  # an idNotIn of every asset read
            body, headers = gzip.compress(body, compresslevel=6), {"Content-Encoding": "gzip"}
        session = self._session()

        def attempt() -> Any:
            self._acquire()  # every attempt goes through the SDK's rate limiter
            return session.post(self.endpoint, data=body, headers=headers, timeout=self.timeout)

        response = self._send(attempt, what, name_attempts=True)
        status = response.status_code
        try:
            answer = deep_json.loads(response.content)  # any depth
        except ValueError:
            raise ProjectError(
                f"{what}: HTTP {status}, answer is not JSON: {response.text[:200]!r}"
            ) from None
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if errors or status != 200:
            message = "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in (errors or [])
            )
            raise ProjectError(f"{what}: HTTP {status}: {message or 'no data'}")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict) or "data" not in data:
            raise ProjectError(f"{what}: the answer has no data")
        return data["data"]


def _retry_after(response: Any) -> float | None:
    """Seconds a 429 / 503 answer asks to wait (``Retry-After``: delta-seconds or an HTTP
    date), or None when it does not say or says nonsense."""
    if response.status_code not in RETRY_AFTER_STATUSES:
        return None
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(seconds, 0.0)


@dataclass(frozen=True)
class UncheckedRow:
    """A label that could not be checked (no jsonResponse to read). Never counted as clean.

    Same attributes as the native ``Row``, so reports, exit codes and every view take it.
    """

    asset_id: str | None
    external_id: str | None
    label_id: str | None
    text: str
    source: str | None = None
    rule: str = UNCHECKED_KIND
    kind: str = UNCHECKED_KIND
    severity: str = "error"
    mid: str | None = None
    job: str | None = None
    category: str | None = None
    frame: int | None = None
    value: float | None = None
    limit: float | None = None
    author: str | None = None
    label_type: str | None = None
    created_at: str | None = None
    asset_status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from kili_rules.report import COLUMNS

        return {name: getattr(self, name, None) for name in COLUMNS}


Page = tuple[list[dict[str, Any]], list[UncheckedRow]]


@dataclass
class _Scan:
    """One project scan: pages in order, label fix-ups, and what could not be checked.

    ``complete``: after the offset pages, prove that no asset was left unread (see the module
    docstring) and read the ones that were. Off for a shard of a project (``kili_rules.dask``),
    which knows only its own range.
    """

    poster: GraphQLPoster
    where: dict[str, Any]
    query: str
    label_field: str
    page_size: int
    concurrency: int
    start: int = 0
    stop: int = 0
    complete: bool = False
    unchecked: list[UncheckedRow] = field(default_factory=list)
    on_page: Any = None
    # (asset id, label id) of every label handed to the checker: Report.apply reconciles them
    checked: list[tuple[str, str]] = field(default_factory=list)
    # labels checked per labeler (author email; None: no author): the report's pass rates
    authors: dict[str | None, int] = field(default_factory=dict)
    # ids of the assets handed to the checker: one served again is not checked again
    seen: set[str] = field(default_factory=set)
    repeated: int = 0  # assets served more than once
    recovered: int = 0  # assets the offset pages missed, read by id
    notes: list[str] = field(default_factory=list)
    _rows_seen: set[tuple[Any, ...]] = field(default_factory=set)

    def _fetch(self, variables: Mapping[str, Any], what: str) -> Page:
        """One page, its labels prepared on this worker thread (URL downloads included)."""
        page = self.poster.post(self.query, variables, what)
        if not isinstance(page, list):
            raise ProjectError(f"{what}: expected a list, got {type(page).__name__}")
        unchecked: list[UncheckedRow] = []
        for asset in page:
            if isinstance(asset, dict):
                self._prepare(asset, unchecked)
        return page, unchecked

    def _page(self, skip: int) -> Page:
        first = min(self.page_size, self.stop - skip)
        variables = {"where": self.where, "first": first, "skip": skip}
        return self._fetch(variables, f"assets (skip={skip})")

    def pages(self) -> Iterator[Page]:
        """Pages in order, ``concurrency`` requests in flight, as many as the count said."""
        offsets = iter(range(self.start, self.stop, self.page_size))
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="kili-rules-page") as pool:
            inflight: deque[Future[Page]] = deque()
            for skip in offsets:
                inflight.append(pool.submit(self._page, skip))
                if len(inflight) >= self.concurrency:
                    break
            try:
                while inflight:
                    page = inflight.popleft().result()
                    nxt = next(offsets, None)
                    if nxt is not None:
                        inflight.append(pool.submit(self._page, nxt))
                    yield page
            finally:
                for future in inflight:
                    future.cancel()

    def _unread_where(self) -> dict[str, Any]:
        """The scan's ``where``, less every asset read so far."""
        excluded = set(self.where.get("idNotIn") or ()) | self.seen
        return {**self.where, "idNotIn": sorted(excluded)}

    def rest(self) -> Iterator[Page]:
        """The assets the offset pages did not serve, read by id (``idNotIn`` of every id
        read, ``skip`` 0) until ``countAssets`` of the unread says 0.

        Sequential: each round excludes what the one before read. What cannot be read this
        way becomes an unchecked row naming how many assets and why.
        """
        rounds, limit, first_missing = 0, 0, 0
        while True:
            where = self._unread_where()
            missing = self.poster.post(
                COUNT_QUERY, {"where": where}, "countAssets of the assets not read yet"
            )
            if not isinstance(missing, int) or isinstance(missing, bool) or missing < 0:
                raise ProjectError(f"countAssets of the assets not read yet: {missing!r}")
            if missing == 0:
                # A count is not proof: the list query of the unread must be empty too (a
                # count that lies low would agree with itself and hide the assets past it).
                yield from self._unread_by_listing(where)
                return
            if rounds == 0:
                first_missing = missing
                limit = math.ceil(missing / self.page_size) + REPAIR_SLACK
            if rounds >= limit:
                self._lost(
                    missing,
                    f"they kept appearing while the scan read them by id ({rounds} rounds "
                    f"after {first_missing} were found missing from the pages)",
                )
                return
            what = f"assets not read yet (round {rounds + 1}, {missing} missing)"
            page, unchecked = self._fetch(
                {"where": where, "first": min(self.page_size, missing), "skip": 0}, what
            )
            fresh = [a for a in page if isinstance(a, dict) and a.get("id") not in self.seen]
            if not fresh:
                self._lost(
                    missing,
                    f"countAssets counts {missing} asset(s) not read, but assets(idNotIn: the "
                    f"ids read) answered {len(page)} asset(s), none of them new",
                )
                return
            if len(fresh) != len(page):
                self.notes.append(
                    f"Kili answered {len(page) - len(fresh)} asset(s) already read to a "
                    "query that excluded them (idNotIn); they were not checked again"
                )
            rounds += 1
            yield page, unchecked

    def _unread_by_listing(self, where: dict[str, Any]) -> Iterator[Page]:
        """Read what ``assets(idNotIn: the ids read)`` still lists after countAssets said 0.

        Any asset found this way is checked, but the totals Kili gave were wrong, so the run is
        not ok: an unchecked row names the disagreement.
        """
        found, rounds = 0, 0
        limit = math.ceil(max(self.stop - self.start, 1) / self.page_size) + REPAIR_SLACK
        while True:
            what = "assets not read yet (countAssets said none)"
            page, unchecked = self._fetch(
                {"where": where, "first": self.page_size, "skip": 0}, what
            )
            fresh = [a for a in page if isinstance(a, dict) and a.get("id") not in self.seen]
            if not fresh or rounds >= limit:
                break
            found += len(fresh)
            rounds += 1
            yield page, unchecked
            where = self._unread_where()
        if found:
            text = (
                f"countAssets said no asset was left unread, but Kili listed {found} more "
                f"(read and checked); the totals Kili gave cannot be trusted"
                + (f", and the listing still had more after {rounds} rounds" if fresh else "")
            )
            self.notes.append(text)
            LOGGER.error("kili-rules: %s", text)
            self.unchecked.append(
                UncheckedRow(asset_id=None, external_id=None, label_id=None, text=text)
            )

    def _lost(self, missing: int, why: str) -> None:
        text = f"{missing} asset(s) of the project were not read, so not checked: {why}"
        self.notes.append(text)
        LOGGER.error("kili-rules: %s", text)
        self.unchecked.append(
            UncheckedRow(asset_id=None, external_id=None, label_id=None, text=text)
        )

    def _take(self, page: Page) -> Iterator[dict[str, Any]]:
        assets, unchecked = page
        for row in unchecked:  # an asset served twice would give its rows twice
            key = (row.asset_id, row.label_id, row.text)
            if key not in self._rows_seen:
                self._rows_seen.add(key)
                self.unchecked.append(row)
        kept = 0
        for asset in assets:
            if isinstance(asset, dict):
                asset_id = asset.get("id")
                if isinstance(asset_id, str):
                    if asset_id in self.seen:
                        self.repeated += 1
                        continue
                    self.seen.add(asset_id)
                self._record(asset)
            kept += 1
            yield asset
        if self.on_page is not None:
            self.on_page(kept)

    def items(self) -> Iterator[dict[str, Any]]:
        """Assets ready for the native batch: every label keeps its jsonResponse string.

        Each asset once, in page order; with ``complete``, then the ones the pages missed.
        """
        for page in self.pages():
            yield from self._take(page)
        if self.repeated:
            self.notes.append(
                f"Kili served {self.repeated} asset(s) more than once while paging (a page "
                "repeated or shifted); each was checked once"
            )
        if not self.complete:
            return
        read = len(self.seen)
        for page in self.rest():
            yield from self._take(page)
        self.recovered = len(self.seen) - read
        if self.recovered:
            self.notes.append(
                f"{self.recovered} asset(s) were missing from the pages (assets added or "
                "removed while the scan ran, or a page not served): read by id and checked"
            )
        counted = self.stop - self.start
        if len(self.seen) != counted:
            self.notes.append(
                f"the project changed during the scan: countAssets said {counted} asset(s) "
                f"at the start, {len(self.seen)} distinct asset(s) were read"
            )

    def _prepare(self, asset: dict[str, Any], unchecked: list[UncheckedRow]) -> None:
        held = asset.get(self.label_field)
        if held is None:
            return
        if isinstance(held, list):
            asset[self.label_field] = [lb for lb in held if self._usable(asset, lb, unchecked)]
        elif not self._usable(asset, held, unchecked):
            asset[self.label_field] = None

    def _record(self, asset: Mapping[str, Any]) -> None:
        held = asset.get(self.label_field)
        for label in held if isinstance(held, list) else [held]:
            if isinstance(label, Mapping) and label.get("id") and asset.get("id"):
                self.checked.append((str(asset["id"]), str(label["id"])))
            if isinstance(label, Mapping):
                author = label.get("author")
                email = author.get("email") if isinstance(author, Mapping) else None
                key = email if isinstance(email, str) and email else None
                self.authors[key] = self.authors.get(key, 0) + 1

    def _usable(self, asset: Mapping[str, Any], label: Any, unchecked: list[UncheckedRow]) -> bool:
        """Whether a label has JSON to check (fetched from its URL if needed); else recorded."""
        if not isinstance(label, dict):
            return True  # the native reader reports what is not a label object
        url = label.pop("jsonResponseUrl", None)
        label_id = label.get("id")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            try:
                label["jsonResponse"] = self.poster.get_text(url, f"label {label_id}: {url}")
            except ProjectError as error:
                why = f"its jsonResponse could not be fetched: {error}"
                unchecked.append(_unchecked_row(asset, label_id, why))
                return False
        response = label.get("jsonResponse")
        if response is None or (isinstance(response, str) and not response.strip()):
            why = "Kili returned no jsonResponse for this label"
            unchecked.append(_unchecked_row(asset, label_id, why))
            return False
        return True


def _unchecked_row(asset: Mapping[str, Any], label_id: Any, why: str) -> UncheckedRow:
    asset_id = asset.get("id")
    external_id = asset.get("externalId")
    return UncheckedRow(
        asset_id=str(asset_id) if asset_id is not None else None,
        external_id=str(external_id) if external_id is not None else None,
        label_id=str(label_id) if label_id is not None else None,
        text=f"label not checked: {why}",
    )


def validate_project(
    ruleset: RuleSet,
    kili: Any,
    project_id: str,
    *,
    since: datetime | date | str | None = None,
    status_in: Sequence[str] | None = None,
    step_id_in: Sequence[str] | None = None,
    step_status_in: Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
    labels: LabelsMode = "latest",
    concurrency: int = 4,
    page_size: int = 200,
    threads: int | None = None,
    max_retries: int = 6,
    disable_tqdm: bool | None = None,
    max_wait: float = MAX_WAIT,
) -> Report:
    """See :meth:`kili_rules.RuleSet.validate_project`."""

    if not isinstance(project_id, str) or not project_id:
        raise ValueError("project_id must be a non-empty string")
    if not 1 <= concurrency <= 32:
        raise ValueError(f"concurrency must be between 1 and 32, not {concurrency}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
    if not max_wait >= 0:  # NaN included
        raise ValueError(f"max_wait must be a number of seconds >= 0, not {max_wait!r}")
    asset_selection(ruleset, labels)  # a bad `labels` fails before any request
    poster = GraphQLPoster.of(kili, max_retries=max_retries, max_wait=max_wait)
    scan_where = asset_where(
        project_id,
        since=since,
        status_in=status_in,
        step_id_in=step_id_in,
        step_status_in=step_status_in,
        where=where,
    )
    total = count_assets(poster, project_id, scan_where)
    if total == 0:
        # Kili counts 0 assets in a project that does not exist or that the key cannot read:
        # tell that apart from an empty project (one more call, only when nothing was found)
        ensure_project(poster, project_id)
    if disable_tqdm is None:  # the SDK's rule: the client's setting, unless given here
        disable_tqdm = bool(getattr(kili, "disable_tqdm", False))
    return validate_range(
        ruleset,
        poster,
        project_id,
        scan_where,
        0,
        total,
        labels=labels,
        concurrency=concurrency,
        page_size=page_size,
        threads=threads,
        disable_tqdm=disable_tqdm,
        complete=True,
    )


def count_assets(poster: GraphQLPoster, project_id: str, where: Mapping[str, Any]) -> int:
    """How many assets of the project ``where`` selects."""
    total = poster.post(COUNT_QUERY, {"where": where}, f"countAssets of project {project_id}")
    if not isinstance(total, int) or isinstance(total, bool):
        raise ProjectError(f"countAssets of project {project_id}: not a number: {total!r}")
    return total


def ensure_project(poster: GraphQLPoster, project_id: str) -> None:
    """Raise :class:`ProjectError` unless the API key can read project ``project_id``."""
    found = poster.post(
        PROJECT_QUERY, {"where": {"id": project_id}, "first": 1, "skip": 0}, "projects"
    )
    if not isinstance(found, list) or not found:
        raise ProjectError(f"project {project_id} does not exist, or the API key cannot read it")


def validate_range(
    ruleset: RuleSet,
    poster: GraphQLPoster,
    project_id: str,
    where: dict[str, Any],
    start: int,
    stop: int,
    *,
    labels: LabelsMode = "latest",
    concurrency: int = 4,
    page_size: int = 200,
    threads: int | None = None,
    disable_tqdm: bool = True,
    complete: bool = False,
    seen: set[str] | None = None,
) -> Report:
    """Validate the assets at offsets ``[start, stop)`` of a scan (one shard of a project).

    ``complete``: the range is the whole scan; prove no asset was left unread (the assets the
    offsets missed are read by id). A shard cannot: it knows only its range.
    """
    from kili_rules.report import Report, progress_bar
    from kili_rules.report.context import Context

    scan = _Scan(
        poster,
        where,
        ASSETS_QUERY % asset_selection(ruleset, labels),
        LABEL_FIELDS[labels],
        page_size,
        concurrency,
        start,
        stop,
        complete,
    )
    # the RuleSet's engine: a scan checks exactly what validate_many checks (Python rules too)
    engine = ruleset.engine
    bar_total = max(stop - start, 0)
    with progress_bar(bar_total, disable=disable_tqdm, desc=f"Validating {project_id}") as bar:
        scan.on_page = bar.update
        result = engine.validate_many(scan.items(), threads) if stop > start or complete else None
    context = Context(
        inputs=(f"Kili project {project_id}",),
        project_id=project_id,
        kili_url=poster.endpoint.split("/api/", 1)[0],
    )
    if result is None:
        report = Report(
            fingerprint=ruleset.fingerprint, context=context, tolerances=ruleset.tolerances
        )
    else:
        report = Report(
            cast("list[Row]", [*result.rows, *scan.unchecked]),
            labels=result.labels,
            assets=result.assets,
            invalid=result.invalid,
            unchecked=result.unchecked + len(scan.unchecked),
            bytes_read=result.bytes_read,
            fingerprint=ruleset.fingerprint,
            context=context,
            tolerances=ruleset.tolerances,
        )
    report.checked = scan.checked
    report.label_authors = dict(scan.authors)
    report.items = drawn_assets(poster, report, scan.query, LABEL_FIELDS[labels])
    report.notes.extend(scan.notes)
    if seen is not None:
        seen.update(scan.seen)
    for note in scan.notes:
        LOGGER.warning("kili-rules: %s", note)
    return report


def drawn_assets(
    poster: GraphQLPoster, report: Report, query: str, label_field: str
) -> list[dict[str, Any]] | None:
    """The assets the HTML report draws (the first :data:`DRAWN_PER_RULE` labels with findings
    of each rule), read again by id with their geometry, each jsonResponse parsed.

    Drawings illustrate a verdict, they are not part of it: when they cannot be read, the
    report has none (a warning is logged) and the verdict stands.
    """
    from kili_rules.report import drawings

    project_id = report.context.project_id
    chosen, _ = drawings.choose(report, DRAWN_PER_RULE)
    ids = sorted({rows[0].asset_id for rows in chosen if rows[0].asset_id})
    if not ids or not project_id:
        return None
    out: list[dict[str, Any]] = []
    try:
        for start in range(0, len(ids), MAX_PAGE_SIZE):
            part = ids[start : start + MAX_PAGE_SIZE]
            where = {"project": {"id": project_id}, "idIn": part}
            page = poster.post(
                query, {"where": where, "first": len(part), "skip": 0}, "assets to draw"
            )
            for asset in page if isinstance(page, list) else ():
                if isinstance(asset, dict):
                    out.append(_with_geometry(poster, asset, label_field))
    except ProjectError as error:
        LOGGER.warning("kili-rules: the report's drawings could not be read: %s", error)
        return None
    return out


def _with_geometry(
    poster: GraphQLPoster, asset: dict[str, Any], label_field: str
) -> dict[str, Any]:
    held = asset.get(label_field)
    for label in held if isinstance(held, list) else [held]:
        if not isinstance(label, dict):
            continue
        url = label.pop("jsonResponseUrl", None)
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            label["jsonResponse"] = poster.get_text(url, f"label {label.get('id')}: {url}")
        response = label.get("jsonResponse")
        if isinstance(response, str):
            try:
                label["jsonResponse"] = deep_json.loads(response)
            except json.JSONDecodeError:
                label["jsonResponse"] = None  # drawn as "no geometry"; the verdict has its row
    return asset


def project_records(
    kili: Any,
    project_id: str,
    *,
    history: bool = False,
    page_size: int = 200,
    concurrency: int = 4,
    max_retries: int = 6,
    max_wait: float = MAX_WAIT,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every asset record of a project, read as :func:`validate_project` reads them (offset
    pages, then by id what the pages missed): ``profile``, ``suggest`` and ``backtest`` learn
    from what this returns. Each label keeps its jsonResponse as the JSON string Kili sent.

    ``history``: also every label of the asset with ``isSentBackToQueue`` (what ``backtest``
    counts as rejected). Returns the records and the scan's notes; an asset the scan could not
    read, or a label without a jsonResponse, is a :class:`ProjectError`: a profile or a
    rulebook learned from part of a project would not say so.
    """
    if not isinstance(project_id, str) or not project_id:
        raise ValueError("project_id must be a non-empty string")
    poster = GraphQLPoster.of(kili, max_retries=max_retries, max_wait=max_wait)
    where = asset_where(project_id)
    total = count_assets(poster, project_id, where)
    if total == 0:
        ensure_project(poster, project_id)
    label = "id jsonResponse jsonResponseUrl author { email } labelType createdAt"
    selection = f"id externalId status resolution {{ width height }} latestLabel {{ {label} }}"
    if history:
        selection += f" labels {{ {label} isSentBackToQueue }}"
    scan = _Scan(
        poster,
        where,
        ASSETS_QUERY % selection,
        "latestLabel",
        page_size,
        concurrency,
        0,
        total,
        True,
    )
    records = list(scan.items())
    for asset in records if history else ():
        # the scan fetches the latest label's jsonResponseUrl; the history needs them all
        held = asset.get("labels")
        if isinstance(held, list):
            asset["labels"] = [lb for lb in held if scan._usable(asset, lb, scan.unchecked)]
    if scan.unchecked:
        lost = "; ".join(row.text for row in scan.unchecked[:3])
        more = f" (and {len(scan.unchecked) - 3} more)" if len(scan.unchecked) > 3 else ""
        raise ProjectError(f"project {project_id}: {lost}{more}")
    return records, list(scan.notes)
