"""Chatwoot: every conversation of an account, its labels, SLA events and whole thread.

`chatwoot_source` reads its settings under `sources.chatwoot` (env `SOURCES__CHATWOOT__*`).
One resource, `conversations`, loads the `conversations` table (merged on the display id)
and the `messages` table (merged on the message id); nested arrays become child tables
carrying `conversation_id` or `message_id`. How a run decides what to read, and why that is
exact while agents keep working, is in docs/incremental-loading.md ("Chatwoot").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any, Optional

import dlt
import pendulum
from dlt.common.normalizers.json.relational import DataItemNormalizer
from dlt.common.schema.utils import new_table
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from sources.chatwoot.helpers.client import ChatwootApi
from sources.chatwoot.helpers.rows import conversation_row, message_row
from sources.chatwoot.settings import (
    CONVERSATION_COLUMNS,
    CONVERSATION_SNAPSHOTS,
    CONVERSATIONS,
    DEFAULT_BASE_URL,
    DEFAULT_LOOKBACK_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_REQUESTS_PER_SECOND,
    DEFAULT_RETRY_BACKOFF_SECONDS,
    DEFAULT_START_DATE,
    DEFAULT_TIMEOUT_SECONDS,
    MESSAGE_COLUMNS,
    MESSAGES,
    SNAPSHOT_COLUMNS,
    PII_FIELDS,
    UNRESOLVED,
)
from sources.kit.digests import RecentReads, digest
from sources.kit.feeds import FetchSession, StateUpdate, take_from_feed
from sources.kit.http import RetryPolicy
from sources.kit.pages import Record
from sources.kit.privacy import PiiPolicy, refuse_policy_change
from sources.kit.progress import Progress
from sources.kit.rows import prepare
from sources.kit.screening import QUARANTINE_HINTS, screen
from sources.kit.settings import check_request_settings, parse_lookback, parse_start_date, require
from sources.kit.state import pipeline_source_state

logger = logging.getLogger(__name__)

MERGE = {"disposition": "merge", "strategy": "delete-insert"}
LIST_ORDER = {"status": "all", "sort_by": "created_at_asc"}
"""The backfill's order: creation times never change, so nothing moves while it pages (new
conversations join at the end)."""


@dlt.source(name="chatwoot")
def chatwoot_source(
    account_id: int = dlt.config.value,
    api_access_token: TSecretStrValue = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    start_date: str = DEFAULT_START_DATE,
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND,
    lookback: str = str(DEFAULT_LOOKBACK_SECONDS),
    sla_refresh: bool = True,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF_SECONDS,
    allow_insecure_http: bool = False,
    pii: str = "keep",
    pii_fields: Optional[dict[str, str]] = None,
    pii_salt: Optional[TSecretStrValue] = None,
    session: Optional[FetchSession] = None,
) -> list[DltResource]:
    """The conversations and messages of one Chatwoot account.

    Args:
        account_id: the account's number (`/app/accounts/<n>/` in Chatwoot's address bar).
        api_access_token: a user's access token, sent as the `api_access_token` header. The
            user must see every inbox: Chatwoot lists only the inboxes its user is a member of.
        base_url: the instance, `https://app.chatwoot.com` or a self-hosted address.
        start_date: conversations whose last activity is older are left out.
        requests_per_second: the request budget (Chatwoot Cloud allows 50 a second per IP;
            self-hosted instances set their own).
        lookback: seconds (or an ISO 8601 duration) the incremental window reaches back
            before the previous run's start.
        sla_refresh: re-read unresolved conversations that have an SLA policy on every run,
            because an SLA miss moves no timestamp; off, misses arrive with the
            conversation's next change.
        timeout, max_attempts, retry_backoff, allow_insecure_http: as for every source.
        pii, pii_fields, pii_salt: the PII policy (docs/privacy.md); its fields are the
            contacts' and agents' identities and what messages say.
        session: the fetching shared by the slices of one run.
    """
    policy = PiiPolicy(pii, dict(pii_fields or {}), pii_salt, fields=PII_FIELDS,
                       section="sources.chatwoot")
    refuse_policy_change(pipeline_source_state(), policy)
    start = parse_start_date(start_date, "sources.chatwoot.start_date")
    lookback_seconds = parse_lookback(lookback, "sources.chatwoot.lookback")
    check_request_settings("sources.chatwoot", requests_per_second=requests_per_second,
                           timeout=timeout, max_attempts=max_attempts, retry_backoff=retry_backoff)
    api = ChatwootApi.connect(
        base_url, account_id, api_access_token, requests_per_second=requests_per_second,
        timeout=timeout, retry=RetryPolicy(max_attempts=max_attempts, backoff_base=retry_backoff),
        allow_insecure_http=allow_insecure_http)
    session = session or FetchSession()
    _declare_tables()

    def conversations() -> Iterator[Any]:
        state = dlt.current.resource_state()
        reader = Reader(api, policy, start, lookback_seconds, sla_refresh, dict(state))
        yield from take_from_feed(session, CONVERSATIONS, reader.rows)

    return [dlt.resource(conversations, name=CONVERSATIONS, primary_key="id",
                         write_disposition=MERGE, parallelized=True)()]


def check_connection(
    account_id: int = dlt.config.value,
    api_access_token: TSecretStrValue = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    allow_insecure_http: bool = False,
) -> str:
    """`ccelt check chatwoot`: one page of open conversations; loads nothing."""
    require(timeout > 0, f"sources.chatwoot.timeout must be positive, got {timeout}")
    api = ChatwootApi.connect(base_url, account_id, api_access_token, requests_per_second=None,
                              timeout=timeout, retry=RetryPolicy(max_attempts=2),
                              allow_insecure_http=allow_insecure_http)
    with api.client:
        _, meta = api.page(1, {"status": "all"})
    return (f"Chatwoot at {api.client.base_url} accepted the token"
            f" ({meta.get('all_count', '?')} conversations in the account, 1 request)")


class Reader:
    """What one run reads, as a producer for the resource's feed.

    First run (and a backfill that was cut short): every conversation, page by page in
    creation order (`status=all`, `sort_by=created_at_asc`), each with its whole thread.
    Later runs: `updated_within` from the previous run's start (minus the lookback), one
    unpaginated answer, plus — when some unresolved conversation has an SLA policy — the
    unresolved lists, whose SLA events change without moving a timestamp. A conversation
    whose row is exactly what the last run loaded is skipped; one that changed is loaded
    with its whole thread re-read (receipts and deletions change old messages, and messages
    carry no `updated_at`), in one request for up to 1,000 messages.

    State (the resource's, committed with the rows): `cursor`, the start of the last
    complete run; `backfill`, the page a cut-short backfill resumes at; `recent`, digests of
    the rows inside the window; `sla`, the SLA events of unresolved conversations by id.
    """

    def __init__(self, api: ChatwootApi, policy: PiiPolicy, start: pendulum.DateTime,
                 lookback: float, sla_refresh: bool, state: dict[str, Any]) -> None:
        self.api, self.policy, self.start = api, policy, start
        self.lookback = lookback
        self.sla_refresh = sla_refresh
        self.cursor: Optional[str] = state.get("cursor")
        self.backfill: Optional[dict[str, Any]] = state.get("backfill")
        self.recent = RecentReads(state.get("recent"), pendulum.duration(seconds=lookback),
                                  ("updated_at",))
        self.sla: dict[str, list[str]] = dict(state.get("sla") or {})
        """Unresolved conversations with an SLA policy: id -> [status, digest of SLA events]."""
        self.open: dict[str, list[Any]] = dict(state.get("open") or {})
        """Unresolved conversations: id -> [status, inbox id, channel, assignee id, created_at];
        each run ends with a snapshot of them (the backlog over time)."""
        self.page_size: Optional[int] = state.get("page_size")
        """The longest page of the list seen: the server's page size, or the whole list."""
        self.started = pendulum.now("UTC")
        self.progress = Progress(CONVERSATIONS, lambda: self.api.client.stats.requests)
        self.threads_read = 0

    def rows(self) -> Iterator[Any]:
        if self.cursor is None:
            yield from self._backfill()
        else:
            yield from self._incremental()
        self.progress.done()

    # -- the first run -----------------------------------------------------------------------
    def _backfill(self) -> Iterator[Any]:
        resumed = self.backfill is not None
        backfill = dict(self.backfill or {"started_at": self.started.isoformat(), "page": 1})
        if resumed:
            logger.info("chatwoot: resuming the backfill at page %d", backfill["page"])
        seen: set[Any] = set()
        number, all_count, steps_back = int(backfill["page"]), None, 0
        while True:
            records, meta = self.api.page(number, LIST_ORDER)
            count = int(meta.get("all_count") or 0)
            if all_count is not None and count < all_count and number > 1 and steps_back < 20:
                # conversations were deleted meanwhile: the rows after them slid back onto
                # the page before, which was read already; read it again
                all_count, number, steps_back = count, number - 1, steps_back + 1
                continue
            all_count = count
            self.page_size = max(self.page_size or 0, len(records))
            fresh = [r for r in records if not isinstance(r, dict) or r.get("id") not in seen]
            seen.update(r.get("id") for r in records if isinstance(r, dict))
            yield from self._load(fresh, threads=True)
            # resume at this page, not the next: a conversation deleted meanwhile would shift
            # the next page's first row onto this one
            yield StateUpdate("backfill", {**backfill, "page": number})
            # the end: an empty page, a page shorter than a full one, or every row counted
            if not records or len(records) < self.page_size or len(seen) >= all_count:
                break
            number += 1
        if not resumed and len(seen) < (all_count or 0):
            # equal creation times come in no stable order, so a page boundary inside such a
            # tie can hide a row: read the list again for what the count says is missing
            yield from self._complete(seen, all_count or 0)
        yield from self._commit(backfill["started_at"])

    def _complete(self, seen: set[Any], all_count: int, max_passes: int = 3) -> Iterator[Any]:
        for attempt in range(max_passes):
            logger.info("chatwoot: %d of %d conversations seen; reading the list again",
                        len(seen), all_count)
            number = 1
            while len(seen) < all_count:
                records, meta = self.api.page(number, LIST_ORDER)
                if not records:
                    break
                all_count = int(meta.get("all_count") or all_count)
                fresh = [r for r in records if isinstance(r, dict) and r.get("id") not in seen]
                seen.update(r.get("id") for r in fresh)
                yield from self._load(fresh, threads=True)
                number += 1
            if len(seen) >= all_count:
                return

    # -- later runs --------------------------------------------------------------------------
    def _incremental(self) -> Iterator[Any]:
        since = pendulum.parse(self.cursor)
        seconds = math.ceil((self.started - since).total_seconds() + self.lookback)
        records, _ = self.api.conversations({"status": "all", "updated_within": str(seconds)})
        chosen: dict[Any, tuple[Record, bool]] = {
            r.get("id"): (r, True) for r in records if isinstance(r, dict)}
        odd = [r for r in records if not isinstance(r, dict)]
        if self.sla_refresh and self.sla:
            # a status change moves `updated_at`, so each watched conversation is still in the
            # status it was last read in (or in the window's answer): only those lists
            for status in UNRESOLVED:
                watched = {key for key, (was, _) in self.sla.items() if was == status}
                if not watched:
                    continue
                for record in self._watched_rows(status, watched):
                    key = str(record.get("id"))
                    if key in self.sla and self.sla[key][1] != _sla_digest(record):
                        # read later than the window's answer: the newer version wins
                        updated = record.get("id") in chosen and chosen[record.get("id")][1]
                        chosen[record.get("id")] = (record, updated)
        yield from self._load(odd, threads=False)
        for _, (record, updated) in sorted(chosen.items(), key=lambda item: str(item[0])):
            yield from self._load([record], threads=updated)
        yield from self._commit(self.started.isoformat())

    def _watched_rows(self, status: str, watched: set[str]) -> Iterator[Record]:
        """The rows of one unresolved status, newest first, until every watched conversation
        of that status was seen (or the list ends). New conversations join at the front and
        push rows back, so a row may be seen twice but none is skipped; one that left the
        status meanwhile moved `updated_at` and is in the next window."""
        number, missing = 1, set(watched)
        while missing:
            records, _ = self.api.page(number, {"status": status, "sort_by": "created_at_desc"},
                                       label="conversations (sla refresh)")
            rows = [r for r in records if isinstance(r, dict)]
            missing -= {str(r.get("id")) for r in rows}
            yield from rows
            if not records or (self.page_size and len(records) < self.page_size):
                return      # a page shorter than a full one is the last
            number += 1

    # -- shared ------------------------------------------------------------------------------
    def _load(self, records: list[Any], threads: bool) -> Iterator[Any]:
        """Rows of the conversations in scope that changed, and (`threads`) their messages."""
        rows, held = screen(records, resource=CONVERSATIONS, kind=CONVERSATIONS,
                            policy=self.policy)
        if held:
            logger.warning("%s: %d row(s) went to the quarantine table", CONVERSATIONS, len(held))
            yield dlt.mark.with_hints(held, dlt.mark.make_hints(**QUARANTINE_HINTS),
                                      create_table_variant=True)
        for record in rows:
            row = prepare(conversation_row(record))
            last_activity = row.get("last_activity_at")
            if last_activity is not None and last_activity < self.start:
                continue
            self._watch_sla(record)
            self._track_open(row)
            if self.recent.unchanged(row.get("id"), row):
                self.progress.unchanged += 1
                continue
            yield [row]
            self.progress.add(1, str(row.get("id")))
            if threads:
                yield from self._thread(row["id"])

    def _thread(self, display_id: Any) -> Iterator[Any]:
        self.threads_read += 1
        for chunk in self.api.thread(display_id):
            messages, held = screen(chunk, resource=MESSAGES, kind=MESSAGES, policy=self.policy)
            if messages:
                yield dlt.mark.with_table_name([prepare(message_row(m)) for m in messages],
                                               MESSAGES)
            if held:
                yield dlt.mark.with_hints(held, dlt.mark.make_hints(**QUARANTINE_HINTS),
                                          create_table_variant=True)

    def _watch_sla(self, record: Record) -> None:
        key = str(record.get("id"))
        if record.get("status") in UNRESOLVED and record.get("sla_policy_id"):
            self.sla[key] = [str(record["status"]), _sla_digest(record)]
        else:
            self.sla.pop(key, None)

    def _track_open(self, row: Record) -> None:
        key = str(row.get("id"))
        if row.get("status") in UNRESOLVED:
            assignee = row.get("assignee") if isinstance(row.get("assignee"), dict) else {}
            created = row.get("created_at")
            self.open[key] = [row.get("status"), row.get("inbox_id"), row.get("channel"),
                              assignee.get("id"),
                              created.isoformat() if hasattr(created, "isoformat") else created]
        else:
            self.open.pop(key, None)

    def _snapshot(self) -> Iterator[Any]:
        """Every unresolved conversation as the run leaves it: Chatwoot's backlog now."""
        rows = [{"snapshot_at": self.started, "conversation_id": int(key), "status": status,
                 "inbox_id": inbox, "channel": channel, "assignee_id": assignee,
                 "created_at": created}
                for key, (status, inbox, channel, assignee, created) in sorted(
                    self.open.items(), key=lambda item: int(item[0]))]
        if rows:
            yield dlt.mark.with_hints(rows, dlt.mark.make_hints(
                table_name=CONVERSATION_SNAPSHOTS, write_disposition="append", primary_key=[],
                columns=SNAPSHOT_COLUMNS), create_table_variant=True)

    def _commit(self, cursor: str) -> Iterator[Any]:
        """The state that says this run is complete, after every row it covers."""
        yield from self._snapshot()
        yield StateUpdate("open", dict(self.open))
        yield StateUpdate("recent", self.recent.saved())
        yield StateUpdate("sla", dict(self.sla))
        yield StateUpdate("page_size", self.page_size)
        yield StateUpdate("backfill", None)
        yield StateUpdate("cursor", cursor)
        logger.info("chatwoot: %d thread(s) read; %d unresolved conversation(s) with an SLA"
                    " policy watched", self.threads_read, len(self.sla))


def _sla_digest(record: Record) -> str:
    return digest({"sla_events": record.get("sla_events") or [],
                   "applied_sla": record.get("applied_sla") or {}})


def _declare_tables() -> None:
    """Column types and keys of both tables in the source schema, and the root ids every
    child row carries (`conversation_id`, `message_id`)."""
    schema = dlt.current.source_schema()
    schema.update_table(new_table(CONVERSATIONS, columns=list(CONVERSATION_COLUMNS.values())))
    message_columns: list[Any] = [{"name": "id", "data_type": "bigint", "primary_key": True,
                                   "nullable": False}, *MESSAGE_COLUMNS.values()]
    schema.update_table(new_table(MESSAGES, write_disposition="merge",
                                  columns=message_columns))
    schema.update_table(new_table(CONVERSATION_SNAPSHOTS, write_disposition="append",
                                  columns=list(SNAPSHOT_COLUMNS.values())))
    schema.tables[MESSAGES]["x-merge-strategy"] = "delete-insert"  # type: ignore[typeddict-unknown-key]
    DataItemNormalizer.update_normalizer_config(schema, {"propagation": {"tables": {  # type: ignore[typeddict-item]
        CONVERSATIONS: {"id": "conversation_id"}, MESSAGES: {"id": "message_id"}}}})

