"""Alvaria Cloud EmailQueue: the live e-mail queue as a time series, and each e-mail's journey.

`alvaria_source` reads its settings under `sources.alvaria` (env `SOURCES__ALVARIA__*`). The
API shows only the e-mails active now and keeps no history, so every run takes one exact
snapshot of the list (the kit's `OffsetReader`) and compares it with the one before, kept in the
resource's state (`helpers/journey.py`). One resource, `emails`, loads four tables:

* `emails`, merged on `id`: every e-mail ever seen, as last seen, with when it was first
  and last seen and when it left the queue;
* `email_snapshots`, appended: every e-mail in every snapshot;
* `email_state_changes`, appended: each change of state, handler or work type observed
  between two snapshots, arrivals and departures included;
* `snapshots`, appended: one row per run, saying how the read went.

docs/alvaria-tables.md defines every column; a snapshot is all or nothing (a run that fails
loads none of it, which would look like every e-mail leaving).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Optional

import dlt
import pendulum
from dlt.common.schema.utils import new_table
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from sources.alvaria.helpers.client import AlvariaApi
from sources.alvaria.helpers.journey import Tracked, observe, sequence_number
from sources.alvaria.settings import (
    CHANGE_COLUMNS,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_PASSES,
    DEFAULT_PAGE_SIZE,
    DEFAULT_REQUESTS_PER_SECOND,
    DEFAULT_RETRY_BACKOFF_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    EMAIL_COLUMNS,
    EMAIL_SNAPSHOTS,
    EMAIL_STATE_CHANGES,
    EMAILS,
    PAGE_OVERLAP,
    PII_FIELDS,
    READ_COLUMNS,
    SNAPSHOT_ROW_COLUMNS,
    SNAPSHOTS,
)
from sources.kit.feeds import FetchSession, StateUpdate, take_from_feed
from sources.kit.http import RetryPolicy
from sources.kit.offset_paging import OffsetRead, OffsetReader
from sources.kit.pages import Record
from sources.kit.privacy import PiiPolicy, refuse_policy_change
from sources.kit.progress import Progress
from sources.kit.screening import QUARANTINE_HINTS, quarantine_row, screen
from sources.kit.settings import check_request_settings, require
from sources.kit.state import pipeline_source_state

logger = logging.getLogger(__name__)

MERGE = {"disposition": "merge", "strategy": "delete-insert"}
APPENDED = {EMAIL_SNAPSHOTS: SNAPSHOT_ROW_COLUMNS, EMAIL_STATE_CHANGES: CHANGE_COLUMNS,
            SNAPSHOTS: READ_COLUMNS}
"""The appended tables and their columns: time series, never rewritten."""


@dlt.source(name="alvaria")
def alvaria_source(
    org_id: str = dlt.config.value,
    token_url: str = dlt.config.value,
    client_id: str = dlt.config.value,
    client_secret: TSecretStrValue = dlt.secrets.value,
    api_key: TSecretStrValue = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND,
    page_size: int = DEFAULT_PAGE_SIZE,
    extended_info: bool = True,
    max_passes: int = DEFAULT_MAX_PASSES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF_SECONDS,
    allow_insecure_http: bool = False,
    pii: str = "keep",
    pii_fields: Optional[dict[str, str]] = None,
    pii_salt: Optional[TSecretStrValue] = None,
    session: Optional[FetchSession] = None,
) -> list[DltResource]:
    """One snapshot of an Alvaria organisation's e-mail queue, and what changed since the last.

    Args:
        org_id: the organisation's name (`https://<org_id>.via.aspect-cloud.net`).
        token_url: the OAuth2 token endpoint Alvaria gave your organisation.
        client_id, client_secret: the OAuth2 client (grant `client_credentials`, scope
            `emailqueueapi`).
        api_key: Alvaria's API key, sent as `x-api-key` on every request.
        base_url: the organisation's API root; `{org_id}` is filled in.
        requests_per_second: the request budget.
        page_size: `maxResults` asked for; the server may send fewer (its cap).
        extended_info: ask for `workHandlerName` and `workTypeName` (`getExtendedInfo=true`).
        max_passes: reads of the whole list one run may make when a read cannot prove itself
            complete (docs/alvaria-tables.md, "How a snapshot is read").
        timeout, max_attempts, retry_backoff, allow_insecure_http: as for every source.
        pii, pii_fields, pii_salt: the PII policy (docs/privacy.md): the addresses, the
            subject and the agent's name.
        session: the fetching shared by the slices of one run.
    """
    policy = PiiPolicy(pii, dict(pii_fields or {}), pii_salt, fields=PII_FIELDS,
                       section="sources.alvaria")
    refuse_policy_change(pipeline_source_state(), policy)
    check_request_settings("sources.alvaria", requests_per_second=requests_per_second,
                           timeout=timeout, max_attempts=max_attempts, retry_backoff=retry_backoff)
    require(page_size >= 3, f"sources.alvaria.page_size must be at least 3, got {page_size}")
    require(max_passes >= 1, f"sources.alvaria.max_passes must be at least 1, got {max_passes}")
    api = AlvariaApi.connect(
        org_id=org_id, base_url=base_url, token_url=token_url, client_id=client_id,
        client_secret=client_secret, api_key=api_key, requests_per_second=requests_per_second,
        timeout=timeout, extended_info=extended_info, allow_insecure_http=allow_insecure_http,
        retry=RetryPolicy(max_attempts=max_attempts, backoff_base=retry_backoff))
    session = session or FetchSession()
    _declare_tables()

    def emails() -> Iterator[Any]:
        state = dlt.current.resource_state()
        run = SnapshotRun(api, policy, page_size, max_passes, dict(state))
        # the whole snapshot in one load: half of one would read as e-mails leaving
        yield from take_from_feed(session, EMAILS, run.rows, whole=True)

    return [dlt.resource(emails, name=EMAILS, primary_key="id", write_disposition=MERGE)()]


def check_connection(
    org_id: str = dlt.config.value,
    token_url: str = dlt.config.value,
    client_id: str = dlt.config.value,
    client_secret: TSecretStrValue = dlt.secrets.value,
    api_key: TSecretStrValue = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    allow_insecure_http: bool = False,
) -> str:
    """`ccelt check alvaria`: a token, then one e-mail of the list; loads nothing."""
    require(timeout > 0, f"sources.alvaria.timeout must be positive, got {timeout}")
    api = AlvariaApi.connect(org_id=org_id, base_url=base_url, token_url=token_url,
                             client_id=client_id, client_secret=client_secret, api_key=api_key,
                             requests_per_second=None, timeout=timeout, extended_info=False,
                             retry=RetryPolicy(max_attempts=2),
                             allow_insecure_http=allow_insecure_http)
    with api.client:
        _, total = api.page(0, 1)
    return (f"Alvaria at {api.client.base_url} issued a token and accepted the API key"
            f" ({'?' if total is None else total} e-mails active now, 1 request and 1 token)")


class SnapshotRun:
    """What one run reads and loads, as a producer for the resource's feed.

    State (the resource's, committed with the rows): `active`, every e-mail of the last
    snapshot (`Tracked`: its record after the PII policy, and when it was first seen);
    `snapshot_at`, that snapshot's time.
    """

    def __init__(self, api: AlvariaApi, policy: PiiPolicy, page_size: int, max_passes: int,
                 state: dict[str, Any]) -> None:
        self.api, self.policy = api, policy
        self.page_size, self.max_passes = page_size, max_passes
        self.previous: dict[str, Tracked] = dict(state.get("active") or {})
        previous_at = state.get("snapshot_at")
        self.previous_at = pendulum.parse(previous_at) if previous_at else None
        self.progress = Progress(EMAILS, lambda: self.api.client.stats.requests)

    def rows(self) -> Iterator[Any]:
        snapshot_at = pendulum.now("UTC")
        read = OffsetReader(self._page, self.page_size, version=_sequence,
                            overlap=PAGE_OVERLAP, max_passes=self.max_passes).read()
        loadable, held = self._screen(read)
        observation = observe(self.previous, loadable, snapshot_at, self.previous_at,
                              unreadable=frozenset(held_ids(held)))
        if held:
            logger.warning("%s: %d e-mail(s) went to the quarantine table", EMAILS, len(held))
            yield dlt.mark.with_hints(held, dlt.mark.make_hints(**QUARANTINE_HINTS),
                                      create_table_variant=True)
        yield observation.emails
        for table, rows in ((EMAIL_SNAPSHOTS, observation.snapshot_rows),
                            (EMAIL_STATE_CHANGES, observation.changes),
                            (SNAPSHOTS, [_read_row(read, snapshot_at)])):
            if rows:
                yield _appended(table, rows)
        self.progress.add(len(read.records))
        yield StateUpdate("active", observation.tracked)
        yield StateUpdate("snapshot_at", snapshot_at.isoformat())
        self.progress.done()
        logger.info("alvaria: snapshot of %d e-mail(s) (%d reported) in %d request(s), %d"
                    " pass(es), %s; %d change(s) observed, %d left the queue",
                    len(read.records), read.total_items or 0, read.requests, read.passes,
                    "consistent" if read.consistent else "NOT proven complete",
                    len(observation.changes), observation.left)

    def _page(self, start: int, max_results: int) -> tuple[list[Record], Optional[int]]:
        return self.api.page(start, max_results)

    def _screen(self, read: OffsetRead) -> tuple[dict[str, Record], list[Record]]:
        rows, held = screen(read.records.values(), resource=EMAILS, kind=EMAILS,
                            policy=self.policy)
        loadable: dict[str, Record] = {}
        for record in rows:
            if sequence_number(record.get("eventSequenceNumber")) is None:
                held.append(quarantine_row(
                    EMAILS, "eventSequenceNumber is not an integer: "
                    f"{record.get('eventSequenceNumber')!r}", record, EMAILS, self.policy))
                continue
            loadable[str(record["id"])] = record
        return loadable, held


def _sequence(record: Record) -> int:
    """Which of two versions of an e-mail read in one run is newer."""
    number = sequence_number(record.get("eventSequenceNumber"))
    return -1 if number is None else number


def held_ids(held: list[Record]) -> list[str]:
    return [str(row["record_id"]) for row in held if row.get("record_id") is not None]


def _read_row(read: OffsetRead, snapshot_at: pendulum.DateTime) -> Record:
    return {"snapshot_at": snapshot_at, "total_items": read.total_items,
            "total_items_at_end": read.total_items_at_end, "emails_captured": len(read.records),
            "passes": read.passes, "requests": read.requests, "consistent": read.consistent,
            "relinked_pages": read.relinked_pages, "shifted_pages": read.shifted_pages,
            "page_cap": read.page_cap, "read_seconds": round(read.read_seconds, 3)}


def _appended(table: str, rows: list[Record]) -> Any:
    return dlt.mark.with_hints(rows, dlt.mark.make_hints(
        table_name=table, write_disposition="append", primary_key=[],
        columns=APPENDED[table]), create_table_variant=True)


def _declare_tables() -> None:
    schema = dlt.current.source_schema()
    schema.update_table(new_table(EMAILS, columns=list(EMAIL_COLUMNS.values())))

