"""UJET / Google CCAI Platform: every documented list endpoint of the manager API.

`ujet_source` reads its settings from dlt config under `sources.ujet` (so every key is also
an environment variable such as `SOURCES__UJET__API_TOKEN`) and yields one resource per
endpoint; the endpoint table lives in `settings.py`, the paging in `sources/kit/paging.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Optional

import dlt
import pendulum
from dlt.common.normalizers.json.relational import DataItemNormalizer
from dlt.common.schema.utils import new_table
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from sources.kit.http import RetryPolicy
from sources.ujet.helpers.client import UjetApi, resolve_base_url, validate_subdomain
from sources.ujet.helpers.errors import UjetError
from sources.kit.feeds import FetchSession, StateUpdate, read_ahead, take_from_feed
from sources.kit.settings import check_request_settings, parse_lookback, parse_start_date, require
from sources.kit.pages import Record
from sources.kit.privacy import PiiPolicy, refuse_policy_change
from sources.kit.state import pipeline_source_state
from sources.kit.progress import Progress
from sources.kit.rows import prepare, with_snapshot
from sources.kit.screening import QUARANTINE_HINTS, page_quarantine, screen
from sources.ujet.helpers.rows import flatten_tree
from sources.kit.paging import (
    MILLISECOND,
    CursorTail,
    TimestampGrid,
    parse_timestamp,
    read_pages,
)
from sources.kit.digests import RecentReads
from sources.ujet.settings import (
    AGENT_ACTIVITY_LOGS,
    CATALOG,
    CONTACTS,
    DEFAULT_DOMAIN,
    DEFAULT_LOOKBACK_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PAGE_SIZE,
    DEFAULT_REQUESTS_PER_SECOND,
    DEFAULT_RETRY_BACKOFF_SECONDS,
    DEFAULT_SLA_MINUTES,
    DEFAULT_START_DATE,
    DEFAULT_TIMEOUT_SECONDS,
    SLA_CHANNELS,
    SLA_ENDPOINTS,
    SNAPSHOTS,
    TREES,
    PII_FIELDS,
    Endpoint,
)

MERGE = {"disposition": "merge", "strategy": "delete-insert"}
RECENT_READS = "recent_reads"
PAGE_LENGTHS = "page_lengths"
"""Resource state: the longest page the tenant sent (`UjetApi.longest_page`)."""
"""Resource state key: digests of what the last run read inside its lookback window."""
logger = logging.getLogger(__name__)


@dlt.source(name="ujet")
def ujet_source(
    subdomain: str = dlt.config.value,
    api_token: TSecretStrValue = dlt.secrets.value,
    domain: str = DEFAULT_DOMAIN,
    base_url: Optional[str] = None,
    start_date: str = DEFAULT_START_DATE,
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND,
    page_size: int = DEFAULT_PAGE_SIZE,
    # str, so both `lookback = 600` and `SOURCES__UJET__LOOKBACK=PT10M` reach parse_lookback
    lookback: str = str(DEFAULT_LOOKBACK_SECONDS),
    sla_minutes: int = DEFAULT_SLA_MINUTES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF_SECONDS,
    allow_insecure_http: bool = False,
    pii: str = "keep",
    pii_fields: Optional[dict[str, str]] = None,
    pii_salt: Optional[TSecretStrValue] = None,
    session: Optional[FetchSession] = None,
) -> list[DltResource]:
    """All UJET resources of one tenant, sharing one request budget.

    Args:
        subdomain: the tenant's subdomain, also the basic-auth username.
        api_token: the API credential's token, the basic-auth password.
        domain: the rest of the tenant's host name.
        base_url: overrides `https://{subdomain}.{domain}/manager/api/v1`.
        start_date: where the first run's backfill starts (ISO 8601, UTC if no zone).
        requests_per_second: the tenant's request budget, shared by all resources.
        page_size: `per` asked for; a server may silently send fewer.
        lookback: seconds (or an ISO 8601 duration such as `PT10M`) re-read before the
            cursor on every run, for records the vendor commits late.
        sla_minutes: the window of the `menus/sla*` snapshots.
        timeout: seconds before a request is abandoned and retried.
        max_attempts: tries per request on 5xx, timeouts, dropped connections and
            unparsable bodies before the run fails.
        retry_backoff: seconds before the first retry; doubles with each further one.
        allow_insecure_http: accept a plain `http://` base_url off this machine (the token
            then travels unencrypted); refused by default.
        pii: what to do with fields the documents mark as personal data: keep, hash or drop.
        pii_fields: per-field exceptions, e.g. `{"email_threads[].subject": "drop"}`.
        pii_salt: the secret salt of `hash`; keep it stable so hashes keep matching.
        session: the fetching shared by the slices of one run (see sources/kit/feeds.py); by
            default this source fetches and hands over everything in one go.
    """
    subdomain = validate_subdomain(subdomain)
    policy = PiiPolicy(pii, dict(pii_fields or {}), pii_salt, fields=PII_FIELDS,
                       section="sources.ujet")
    refuse_policy_change(pipeline_source_state(), policy)
    start = parse_start_date(start_date, "sources.ujet.start_date")
    lookback_seconds = parse_lookback(lookback, "sources.ujet.lookback")
    check_request_settings("sources.ujet", requests_per_second=requests_per_second,
                           timeout=timeout, max_attempts=max_attempts, retry_backoff=retry_backoff)
    require(1 <= page_size <= 1000,
             f"sources.ujet.page_size must be between 1 and 1000, got {page_size}")
    require(sla_minutes >= 1, f"sources.ujet.sla_minutes must be at least 1, got {sla_minutes}")
    api = UjetApi.connect(
        subdomain,
        api_token,
        resolve_base_url(subdomain, domain, base_url, allow_insecure_http),
        requests_per_second=requests_per_second,
        page_size=page_size,
        timeout=timeout,
        retry=RetryPolicy(max_attempts=max_attempts, backoff_base=retry_backoff),
        longest_page=_longest_page(pipeline_source_state()),
    )
    session = session or FetchSession()
    # frozen once per run: the upper bound of every incremental read, and the snapshot time
    run_started = session.run_started
    _propagate_root_ids(CONTACTS + CATALOG)
    _declare_root_columns(CONTACTS + (AGENT_ACTIVITY_LOGS,) + CATALOG + TREES + SNAPSHOTS)

    resources: list[DltResource] = []
    for endpoint in CONTACTS:
        resources.append(
            _resource(contacts, endpoint)(
                api, endpoint, run_started, policy, session, timedelta(seconds=lookback_seconds),
                updated_at=dlt.sources.incremental(
                    "updated_at", initial_value=start, lag=lookback_seconds or None,
                    on_cursor_value_missing="include"),
            )
        )
    resources.append(
        _resource(agent_activity_logs, AGENT_ACTIVITY_LOGS)(
            api, start, timedelta(seconds=lookback_seconds), run_started, policy, session)
    )
    for endpoint in CATALOG:
        resources.append(_resource(catalog, endpoint)(api, endpoint, policy, session))
    for endpoint in TREES:
        resources.append(_resource(tree, endpoint, write_disposition="replace")(
            api, endpoint, policy, session))
    for endpoint in SNAPSHOTS:
        resources.append(
            _resource(snapshot, endpoint, write_disposition="append")(
                api, endpoint, run_started, sla_minutes, policy, session)
        )
    return resources


def _longest_page(state: Optional[dict[str, Any]]) -> int:
    """The longest page any resource of this tenant was sent by an earlier run."""
    resources = (state or {}).get("resources", {})
    return max((int((r.get(PAGE_LENGTHS) or {}).get("longest", 0)) for r in resources.values()
                if isinstance(r, dict)), default=0)


def check_connection(
    subdomain: str = dlt.config.value,
    api_token: TSecretStrValue = dlt.secrets.value,
    domain: str = DEFAULT_DOMAIN,
    base_url: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    allow_insecure_http: bool = False,
) -> str:
    """`ccelt check ujet`: the settings, the host and the credentials, with one cheap request
    (the list of user statuses, a few rows); loads nothing. Says what it reached."""
    subdomain = validate_subdomain(subdomain)
    require(timeout > 0, f"sources.ujet.timeout must be positive, got {timeout}")
    api = UjetApi.connect(
        subdomain, api_token, resolve_base_url(subdomain, domain, base_url, allow_insecure_http),
        requests_per_second=None, page_size=1, timeout=timeout,
        retry=RetryPolicy(max_attempts=2))
    with api.client:
        statuses = api.get_list("user_statuses")
    return (f"UJET at {api.client.base_url} accepted the credentials of {subdomain}"
            f" ({len(statuses)} user statuses in 1 request)")


def contacts(
    api: UjetApi,
    endpoint: Endpoint,
    run_started: pendulum.DateTime,
    policy: PiiPolicy,
    session: FetchSession,
    lookback: timedelta,
    updated_at: dlt.sources.incremental[pendulum.DateTime] = dlt.sources.incremental("updated_at"),
) -> Iterator[Any]:
    """Calls, chats or emails updated since the cursor (minus the lookback), up to run start.

    dlt keeps the cursor in pipeline state and commits it with the load package that holds
    the records, so it only advances when they are loaded. Records the lookback reads again
    exactly as the last run loaded them are not loaded again (sources/kit/digests.py).
    """
    start = updated_at.start_value
    if start is None:
        raise UjetError(f"{endpoint.name}: the incremental cursor has no start value")
    recent = RecentReads(dlt.current.resource_state().get(RECENT_READS), lookback, ("updated_at",))
    yield from take_from_feed(session, endpoint.name,
                          lambda: _contact_rows(api, endpoint, run_started, policy, start, recent))


def _contact_rows(api: UjetApi, endpoint: Endpoint, run_started: pendulum.DateTime,
                  policy: PiiPolicy, start: pendulum.DateTime,
                  recent: RecentReads) -> Iterator[Any]:
    tail = CursorTail(api.fetcher(endpoint.path), "updated_at", run_started)
    progress = Progress(endpoint.name, lambda: api.client.stats.by_endpoint[endpoint.path],
                        total=lambda: tail.total, per_request=api.page_size,
                        requests_per_second=api.requests_per_second)
    for batch in read_ahead(tail.read(start)):
        rows, held = screen(batch, resource=endpoint.name, kind="contacts", policy=policy,
                            cursor="updated_at")
        progress.add(len(batch), rows[-1].get("updated_at") if rows else None)
        yield from _changed(rows, endpoint.root_id, recent, progress)
        yield from _quarantine(api, endpoint, held, policy)
    yield StateUpdate(PAGE_LENGTHS, api.page_lengths())
    progress.done()


def _changed(rows: list[Record], root_id: Optional[str], recent: RecentReads,
             progress: Progress) -> Iterator[Any]:
    """The prepared rows the last run did not load as they are now, then the digests of all
    of them, to be committed with those rows."""
    changed = []
    for row in rows:
        prepared = prepare(row, root_id)
        if recent.unchanged(prepared.get("id"), prepared):
            progress.unchanged += 1
        else:
            changed.append(prepared)
    if changed:
        yield changed
    if rows:
        yield StateUpdate(RECENT_READS, recent.saved())


def agent_activity_logs(
    api: UjetApi, start: pendulum.DateTime, lookback: timedelta, run_started: pendulum.DateTime,
    policy: PiiPolicy, session: FetchSession,
) -> Iterator[Any]:
    """Activity rows opened, or closed, since the last run.

    A row is created when an agent's widget changes state (`started_at`) and closed at the
    next change (`ended_at`, `duration`); there is no `updated_at`. So each run reads:

    1. rows closed since the last run that were opened *before* the new-rows window
       (`ended_at[from]` + `started_at[to]`): long states such as a day-long login;
    2. rows opened since the last run (`started_at[from]`), open or already closed.

    The two windows do not overlap, so no row is read twice (a row exactly on the boundary
    is read by the first pass only, closed). Both cursors live in this resource's dlt state
    and are committed with the rows they cover.
    """
    state = dlt.current.resource_state()
    cursors = dict(state.get("cursors", {}))
    recent = RecentReads(state.get(RECENT_READS), lookback, ("started_at", "ended_at"))
    yield from take_from_feed(session, AGENT_ACTIVITY_LOGS.name, lambda: _activity_rows(
        api, start, lookback, run_started, policy, cursors, recent))


def _activity_rows(api: UjetApi, start: pendulum.DateTime, lookback: timedelta,
                   run_started: pendulum.DateTime, policy: PiiPolicy,
                   cursors: dict[str, str], recent: Optional[RecentReads] = None) -> Iterator[Any]:
    recent = recent or RecentReads(None, lookback, ("started_at", "ended_at"))
    endpoint = AGENT_ACTIVITY_LOGS
    progress = Progress(endpoint.name, lambda: api.client.stats.by_endpoint[endpoint.path])

    def window_start(field: str) -> pendulum.DateTime:
        last = cursors.get(field)
        return max(start, pendulum.instance(parse_timestamp(last)) - lookback) if last else start

    new_rows_from = window_start("started_at")
    passes: tuple[tuple[str, pendulum.DateTime, dict[str, str]], ...] = (
        ("ended_at", window_start("ended_at"), {"started_at[to]": TimestampGrid().format(new_rows_from)}),
        ("started_at", new_rows_from, {}),
    )
    # Each pass reads a row once (the tail sees to that); both can return only rows opened
    # right at the boundary, so only those ids are remembered, not every id of a backfill
    near_boundary = new_rows_from - 2 * MILLISECOND
    at_boundary: set[Any] = set()
    for field, window, fixed in passes:
        tail = CursorTail(api.fetcher(endpoint.path, fixed), field, run_started)
        for batch in read_ahead(tail.read(window)):
            rows, held = screen(batch, resource=endpoint.name, kind="agent_activity_logs",
                                policy=policy, cursor=field)
            if field == "started_at":
                rows = [r for r in rows if r.get("id") not in at_boundary]
            else:
                at_boundary.update(r.get("id") for r in rows
                                   if _opened_at_or_after(r, near_boundary))
            for cursor_field in ("started_at", "ended_at"):
                _advance(cursors, cursor_field, rows)
            progress.add(len(rows), f"{field} {rows[-1].get(field)}" if rows else None)
            yield from _changed(rows, None, recent, progress)
            if rows:
                # after the rows: a cursor committed without its rows would skip them
                yield StateUpdate("cursors", dict(cursors))
            yield from _quarantine(api, endpoint, held, policy)
    yield StateUpdate(PAGE_LENGTHS, api.page_lengths())
    progress.done()


def _opened_at_or_after(row: Record, moment: datetime) -> bool:
    value = row.get("started_at")
    try:
        return isinstance(value, str) and parse_timestamp(value) >= moment
    except ValueError:
        return False


def _advance(cursors: dict[str, str], field: str, rows: list[Record]) -> None:
    """Moves a cursor kept in resource state to the newest `field` value among `rows`."""
    values = [parse_timestamp(r[field]) for r in rows if isinstance(r.get(field), str)]
    if values:
        newest = max(values)
        if field not in cursors or newest > parse_timestamp(cursors[field]):
            cursors[field] = newest.isoformat()


def catalog(api: UjetApi, endpoint: Endpoint, policy: PiiPolicy, session: FetchSession) -> Iterator[Any]:
    """Every record of a reference list (agents, menus with deleted ones, teams, statuses)."""
    yield from take_from_feed(session, endpoint.name, lambda: _catalog_rows(api, endpoint, policy))


def _catalog_rows(api: UjetApi, endpoint: Endpoint, policy: PiiPolicy) -> Iterator[Any]:
    if not endpoint.paged:
        pages: Iterator[list[Any]] = iter([api.get_list(endpoint.path, endpoint.params)])
    else:
        params = dict(endpoint.params)
        if endpoint.sortable:
            params.update(sort_column="id", sort_direction="ASC")
        # sorted by id with deleted records kept, a list only grows at its end: nothing
        # slides between two pages (unsorted, agents may come in any order)
        grows_at_end = endpoint.sortable and endpoint.params.get("with_deleted") == "true"
        pages = (page.records for page in read_pages(api.fetcher(endpoint.path, params), {},
                                                     slides=not grows_at_end))
    seen: set[Any] = set()
    for records in pages:
        rows, held = screen(records, resource=endpoint.name, kind=endpoint.name, policy=policy)
        fresh = [r for r in rows if r.get("id") not in seen]
        seen.update(r.get("id") for r in fresh)
        if fresh:
            yield [prepare(r, endpoint.root_id) for r in fresh]
        yield from _quarantine(api, endpoint, held, policy)
    yield StateUpdate(PAGE_LENGTHS, api.page_lengths())


def tree(api: UjetApi, endpoint: Endpoint, policy: PiiPolicy, session: FetchSession) -> Iterator[Any]:
    """A hierarchy (`menus/tree`, `teams/tree`) as one row per node with depth and path."""
    # taken whole in one slice: a slice in which a replaced table got no rows would empty it
    yield from take_from_feed(session, endpoint.name, lambda: _tree_rows(api, endpoint, policy),
                          whole=True)


def _tree_rows(api: UjetApi, endpoint: Endpoint, policy: PiiPolicy) -> Iterator[Any]:
    nodes, held = screen(api.get_list(endpoint.path), resource=endpoint.name, kind=endpoint.name,
                         policy=policy)
    yield [prepare(r) for r in flatten_tree(nodes)]
    yield from _quarantine(api, endpoint, held, policy)


def snapshot(
    api: UjetApi, endpoint: Endpoint, run_started: pendulum.DateTime, sla_minutes: int,
    policy: PiiPolicy, session: FetchSession,
) -> Iterator[Any]:
    """Current state of agents, queues or SLA, stamped with the run's `snapshot_at`."""
    yield from take_from_feed(session, endpoint.name, lambda: _snapshot_rows(
        api, endpoint, run_started, sla_minutes, policy))


def _snapshot_rows(api: UjetApi, endpoint: Endpoint, run_started: pendulum.DateTime,
                   sla_minutes: int, policy: PiiPolicy) -> Iterator[Any]:
    queries = ([{"channel": channel, "minutes": sla_minutes} for channel in SLA_CHANNELS]
               if endpoint.name in SLA_ENDPOINTS else [{}])
    for query in queries:
        rows, held = screen(api.get_list(endpoint.path, query or None), resource=endpoint.name,
                            kind=endpoint.name, policy=policy, key=None)
        yield with_snapshot([prepare(r) for r in rows], run_started, **query)
        yield from _quarantine(api, endpoint, held, policy)


def _quarantine(api: UjetApi, endpoint: Endpoint, held: list[Record],
                policy: PiiPolicy) -> Iterator[Any]:
    """Records that could not be loaded, and raw pages that were not UTF-8, to quarantine."""
    held = held + page_quarantine(endpoint.name, api.take_undecodable(endpoint.path), policy)
    if held:
        logger.warning("%s: %d row(s) went to the quarantine table", endpoint.name, len(held))
        yield dlt.mark.with_hints(held, dlt.mark.make_hints(**QUARANTINE_HINTS),
                                  create_table_variant=True)


def _resource(function: Any, endpoint: Endpoint, write_disposition: Any = MERGE) -> Any:
    return dlt.resource(
        function,
        name=endpoint.name,
        primary_key=list(endpoint.primary_key),
        write_disposition=write_disposition,
        nested_hints=dict(endpoint.nested) or None,
        parallelized=True,
    )


def _declare_root_columns(endpoints: tuple[Endpoint, ...]) -> None:
    """Puts each root table's column hints in the source schema, not on the resource.

    Hints on a resource are inherited by every table variant it emits, which would give
    the quarantine table the columns of calls, agents and menus.
    """
    schema = dlt.current.source_schema()
    for endpoint in endpoints:
        if endpoint.columns:
            columns: list[Any] = list(endpoint.columns.values())
            schema.update_table(new_table(endpoint.name, columns=columns))


def _propagate_root_ids(endpoints: tuple[Endpoint, ...]) -> None:
    """Tells dlt's normalizer to copy each root's `id` into all its child tables."""
    tables = {e.name: {"id": e.root_id} for e in endpoints if e.root_id}
    DataItemNormalizer.update_normalizer_config(
        dlt.current.source_schema(), {"propagation": {"tables": tables}}  # type: ignore[typeddict-item]
    )
