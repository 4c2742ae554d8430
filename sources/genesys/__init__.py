"""Genesys Workspace (GWS API v2): every e-mail interaction notification a user can see.

`genesys_source` reads its settings under `sources.genesys` (env `SOURCES__GENESYS__*`). GWS
pushes notifications over CometD and replays none, so a run is a listener and a loader
joined by a durable spool (sources/kit/spool.py):

* the listener (`helpers/listener.py`, its own thread) signs in, handshakes, subscribes,
  lists the current interactions and long-polls, appending every batch to the spool (fsync)
  before it connects again; it never waits for the loading;
* the loader (this module's one resource) drains the spool into dlt, one slice every
  `load_every` seconds, and commits the spool position in the resource's state with the
  rows read up to it; segments before the committed position are deleted.

Tables: `interaction_events` (appended: the listener drops a redelivery before the spool,
and a record's rows travel with the spool position past them, so none is read twice),
`interactions` (one row per interaction, healed by every list), `interaction_snapshots`
(appended: every list, the backlog over time), `sessions` (appended: sign-ins, handshakes,
failed connects, 402s, lists and gaps). docs/genesys-tables.md defines every column.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import dlt
import pendulum
from dlt.common.schema.utils import new_table
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from sources.genesys.helpers.client import GwsApi
from sources.genesys.helpers.listener import Listener
from sources.genesys.helpers.rows import LEAVING_STATES
from sources.genesys.settings import (
    DEFAULT_CHANNELS,
    DEFAULT_LOAD_EVERY,
    DEFAULT_PII_FIELDS,
    DEFAULT_TIMEOUT_SECONDS,
    EVENT_COLUMNS,
    FORGET_LEFT_AFTER_SECONDS,
    INTERACTION_COLUMNS,
    INTERACTION_EVENTS,
    INTERACTION_SNAPSHOTS,
    INTERACTIONS,
    PII_FIELDS,
    SESSION_COLUMNS,
    SESSIONS,
    SNAPSHOT_COLUMNS,
)
from sources.kit.errors import ConfigurationError
from sources.kit.feeds import FetchSession, StateUpdate, Together, take_from_feed
from sources.kit.http import RetryPolicy
from sources.kit.privacy import PiiPolicy, refuse_policy_change
from sources.kit.settings import require
from sources.kit.spool import Spool, SpoolPosition
from sources.kit.state import pipeline_source_state

logger = logging.getLogger(__name__)

MERGE = {"disposition": "merge", "strategy": "delete-insert"}
INTERACTION_FIELDS = tuple(name for name in INTERACTION_COLUMNS if name in EVENT_COLUMNS
                           and name not in ("spool_seq",))
"""The columns an event or a list carries about its interaction."""


# root_key: nested rows keep `_dlt_root_id`, as they had while `interaction_events` was
# merged, so a warehouse from then loads on (the column is not null there)
@dlt.source(name="genesys", root_key=True)
def genesys_source(
    base_url: str = dlt.config.value,
    username: str = dlt.config.value,
    password: TSecretStrValue = dlt.secrets.value,
    channels: Optional[list[str]] = None,
    spool_dir: Optional[str] = None,
    load_every: float = DEFAULT_LOAD_EVERY,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    allow_insecure_http: bool = False,
    pii: str = "keep",
    pii_fields: Optional[dict[str, str]] = None,
    pii_salt: Optional[TSecretStrValue] = None,
    listen_seconds: Optional[float] = None,
    session: Optional[FetchSession] = None,
) -> list[DltResource]:
    """The e-mail interaction notifications of one GWS user, for `listen_seconds` (None:
    until the run is interrupted by a signal).

    Args:
        base_url: the GWS API root, e.g. `https://gws.example.com/api/v2`.
        username, password: the user ccelt signs in as (a supervisor or a reporting agent).
        channels: CometD channels to subscribe to (default `["/v2/me/interactions"]`; add
            `/v2/me/emails` for GWS 8.5.2 and later).
        spool_dir: where received notifications wait for loading (default: `spool` in the
            pipeline's working directory).
        load_every: seconds between loads (the runner reads it; checked here).
        timeout: seconds a request may take; longer than the server's long poll.
        allow_insecure_http, pii, pii_fields, pii_salt: as for every source; e-mail bodies
            (`email_object__text`, `email_object__structured_text`) are dropped unless
            `pii_fields` keeps them.
        listen_seconds: how long this run listens.
        session: the fetching shared by the slices of one run.
    """
    policy = PiiPolicy(pii, {**DEFAULT_PII_FIELDS, **dict(pii_fields or {})}, pii_salt,
                       fields=PII_FIELDS, section="sources.genesys")
    refuse_policy_change(pipeline_source_state(), policy)
    require(timeout > 0, f"sources.genesys.timeout must be positive, got {timeout}")
    require(load_every > 0, f"sources.genesys.load_every must be positive seconds, got {load_every}")
    wanted = _channels(channels)
    api = GwsApi.connect(base_url=base_url, username=username, password=password,
                         timeout=timeout, allow_insecure_http=allow_insecure_http,
                         retry=RetryPolicy(max_attempts=4))
    session = session or FetchSession()
    directory = Path(spool_dir) if spool_dir else _default_spool_dir()
    _declare_tables()

    def interaction_events() -> Iterator[Any]:
        state = dlt.current.resource_state()
        committed = SpoolPosition.parse(state.get("position"))
        removed = Spool(directory).discard_before(committed)
        if removed:
            logger.debug("genesys: %d loaded spool segment(s) removed", removed)
        loader = Loader(api, wanted, directory, policy, session, listen_seconds, state)
        yield from take_from_feed(session, INTERACTION_EVENTS, loader.rows, drains=True)

    # appended, not merged: a merge reads every `message_id` in the table at every load, so a
    # week-long listen's memory would grow with its table (docs/decisions.md)
    return [dlt.resource(interaction_events, name=INTERACTION_EVENTS, primary_key="message_id",
                         write_disposition="append")()]


def check_connection(
    base_url: str = dlt.config.value,
    username: str = dlt.config.value,
    password: TSecretStrValue = dlt.secrets.value,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    allow_insecure_http: bool = False,
) -> str:
    """`ccelt check genesys`: sign in and list the current interactions; loads nothing."""
    api = GwsApi.connect(base_url=base_url, username=username, password=password,
                         timeout=timeout, allow_insecure_http=allow_insecure_http,
                         retry=RetryPolicy(max_attempts=2))
    try:
        api.me()
        listed = api.interactions()
    finally:
        api.close()
    return (f"Genesys at {api.reads.base_url} signed {username} in (session cookie and CSRF"
            f" token) and listed {len(listed)} current interaction(s)")


class Loader:
    """What one run loads, as the producer of the resource's feed: starts the listener,
    drains the spool from the committed position, and stops the listener when the run is
    interrupted or its time is up, handing over everything spooled before it ends.

    State (the resource's, committed with the rows): `position` in the spool, `seq` (rows
    numbered in arrival order: `spool_seq`), `tracked` (the last row of every active
    interaction, what a list compares against; of one that left, only when it was first
    seen and left, for `FORGET_LEFT_AFTER_SECONDS`)."""

    def __init__(self, api: GwsApi, channels: list[str], directory: Path, policy: PiiPolicy,
                 session: FetchSession, listen_seconds: Optional[float],
                 state: dict[str, Any]) -> None:
        self.api, self.channels, self.directory, self.policy = api, channels, directory, policy
        self.session, self.listen_seconds = session, listen_seconds
        self.position = SpoolPosition.parse(state.get("position"))
        self.seq = int(state.get("seq") or 0)
        self.tracked: dict[str, dict[str, Any]] = dict(state.get("tracked") or {})
        self._left: deque[tuple[str, str]] = deque(sorted(
            (row["left_list_at"], key) for key, row in self.tracked.items()
            if not row.get("is_active") and row.get("left_list_at")))

    def rows(self) -> Iterator[Any]:
        spool = Spool(self.directory)
        deadline = time.monotonic() + self.listen_seconds if self.listen_seconds else None
        stop = threading.Event()
        listener = Listener(self.api, self.channels, spool, self.policy, stop, deadline).start()
        try:
            while True:
                finished = listener.done.is_set()
                handed = False
                for position, record in spool.read(self.position):
                    rows = list(self._apply(record))
                    self.position = position
                    # one item: a slice never ends between a record's rows and the position
                    # past it, so what is loaded is never read from the spool again
                    yield Together((*rows, StateUpdate("position", str(position)),
                                    StateUpdate("seq", self.seq),
                                    # rows in `tracked` are replaced, never changed: a
                                    # shallow copy is a snapshot
                                    StateUpdate("tracked", dict(self.tracked))))
                    handed = True
                if finished:
                    break
                if self.session.interrupted and not stop.is_set():
                    logger.info("genesys: stopping the listener; loading what it received")
                    stop.set()
                if not handed:
                    with spool.grew:
                        spool.grew.wait(0.2)
            if listener.error is not None:
                raise listener.error
        finally:
            stop.set()
            listener.join(timeout=30)
            spool.close()
            self.api.close()

    # ----- records to rows

    def _apply(self, record: dict[str, Any]) -> Iterator[Any]:
        kind = record.get("kind")
        self._forget_left(record.get("observed_at") or record.get("at"))
        if kind == "events":
            events = []
            changed: dict[str, dict[str, Any]] = {}
            for row in record["rows"]:
                self.seq += 1
                events.append(dict(row, spool_seq=self.seq))
                interaction = self._from_event(row)
                if interaction is not None:
                    changed[interaction["interaction_id"]] = interaction
            if events:
                yield events
            if changed:
                yield _table(INTERACTIONS, list(changed.values()))
        elif kind == "snapshot":
            listed = [{"listed_at": record["observed_at"], "interaction_id": row["interaction_id"],
                       **{name: row.get(name) for name in ("state", "interaction_sub_type",
                                                           "current_queue", "received_at")}}
                      for row in record["rows"]]
            rows, gap = self._from_list(record)
            if rows:
                yield _table(INTERACTIONS, rows)
            if listed:
                for row in listed:
                    self.seq += 1
                    row["spool_seq"] = self.seq
                yield _table(INTERACTION_SNAPSHOTS, listed)
            if gap is not None:
                self.seq += 1
                yield _table(SESSIONS, [dict(gap, spool_seq=self.seq)])
        elif kind == "session":
            self.seq += 1
            yield _table(SESSIONS, [{"occurred_at": record["at"], "event": record["event"],
                                     "detail": record.get("detail"),
                                     "client_id": record.get("client_id"), "spool_seq": self.seq}])

    def _from_event(self, row: dict[str, Any]) -> Optional[dict[str, Any]]:
        interaction_id = row.get("interaction_id")
        if not interaction_id:
            return None
        before = self.tracked.get(interaction_id, {})
        observed = row["observed_at"]
        leaving = row.get("state") in LEAVING_STATES
        current = {name: row.get(name) for name in INTERACTION_FIELDS}
        current.update(
            first_seen_at=before.get("first_seen_at") or observed, last_event_at=observed,
            last_listed_at=before.get("last_listed_at"), is_active=not leaving,
            left_list_at=(before.get("left_list_at") or observed) if leaving else None,
            reconciled=False, last_message_id=row["message_id"], spool_seq=self.seq)
        self._track(interaction_id, current)
        return current

    def _track(self, interaction_id: str, row: dict[str, Any]) -> None:
        """Keeps an active interaction's whole row (a list that misses it rewrites the row as
        left), and of one that left only when it was first seen and left, for a while."""
        if row.get("is_active"):
            self.tracked[interaction_id] = row
            return
        self.tracked[interaction_id] = {"first_seen_at": row.get("first_seen_at"),
                                        "left_list_at": row.get("left_list_at"),
                                        "is_active": False}
        self._left.append((str(row.get("left_list_at")), interaction_id))

    def _forget_left(self, now: Any) -> None:
        """Drops interactions that left more than `FORGET_LEFT_AFTER_SECONDS` ago: state
        stays the size of the user's list, however long the listen."""
        if not now or not self._left:
            return
        horizon = pendulum.parse(str(now)).subtract(seconds=FORGET_LEFT_AFTER_SECONDS)
        while self._left and pendulum.parse(self._left[0][0]) < horizon:
            _, interaction_id = self._left.popleft()
            row = self.tracked.get(interaction_id)
            if row is not None and not row.get("is_active"):
                del self.tracked[interaction_id]

    def _from_list(self, record: dict[str, Any]) -> tuple[list[dict[str, Any]], Optional[dict[str, Any]]]:
        observed = record["observed_at"]
        listed = {row["interaction_id"]: row for row in record["rows"]}
        out: list[dict[str, Any]] = []
        healed = arrived = left = 0
        for interaction_id, row in listed.items():
            before = self.tracked.get(interaction_id)
            self.seq += 1
            current = {name: row.get(name) for name in INTERACTION_FIELDS}
            current.update(
                first_seen_at=(before or {}).get("first_seen_at") or observed,
                last_event_at=(before or {}).get("last_event_at"), last_listed_at=observed,
                is_active=True, left_list_at=None,
                reconciled=before is None or _differs(before, current),
                last_message_id=(before or {}).get("last_message_id"), spool_seq=self.seq)
            if before is None:
                arrived += 1
            elif current["reconciled"] or not before.get("is_active"):
                healed += 1
            self._track(interaction_id, current)
            out.append(current)
        for interaction_id, before in list(self.tracked.items()):
            if interaction_id not in listed and before.get("is_active"):
                # gone from the list without a notification saying so: it left meanwhile
                self.seq += 1
                current = dict(before, is_active=False, left_list_at=observed, reconciled=True,
                               spool_seq=self.seq)
                self._track(interaction_id, current)
                out.append(current)
                left += 1
        gap = None
        if record.get("why") not in ("started", "final") or healed or left or (
                arrived and record.get("why") != "started"):
            gap = {"occurred_at": observed, "event": "gap",
                   "detail": f"listed after {record.get('why')}: {arrived} unseen arrival(s),"
                             f" {healed} state(s) healed, {left} left unnoticed"}
        return out, gap


def _differs(before: dict[str, Any], current: dict[str, Any]) -> bool:
    return any(before.get(name) != current.get(name) for name in ("state", "interaction_sub_type",
                                                                  "current_queue", "user_data"))


def _table(table: str, rows: list[dict[str, Any]]) -> Any:
    if table == INTERACTIONS:
        hints = dlt.mark.make_hints(table_name=table, write_disposition=MERGE,
                                    primary_key=["interaction_id"], columns=INTERACTION_COLUMNS)
    elif table == INTERACTION_SNAPSHOTS:
        hints = dlt.mark.make_hints(table_name=table, write_disposition="append", primary_key=[],
                                    columns=SNAPSHOT_COLUMNS)
    else:
        hints = dlt.mark.make_hints(table_name=table, write_disposition="append", primary_key=[],
                                    columns=SESSION_COLUMNS)
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def _channels(channels: Optional[list[str]]) -> list[str]:
    if channels is None:
        return list(DEFAULT_CHANNELS)
    if isinstance(channels, str):
        channels = [c.strip() for c in channels.split(",")]
    bad = [c for c in channels if not isinstance(c, str) or not c.startswith("/")]
    if not channels or bad:
        raise ConfigurationError(
            "sources.genesys.channels must be a list of CometD channels such as"
            f" [\"/v2/me/interactions\", \"/v2/me/emails\"], got {channels!r}")
    return list(channels)


def _default_spool_dir() -> Path:
    try:
        return Path(dlt.current.pipeline().working_dir) / "spool"
    except Exception as exc:  # noqa: BLE001 (no active pipeline: a bare source in a test)
        raise ConfigurationError(
            "sources.genesys.spool_dir is not set and no pipeline is active to put the spool"
            " under its working directory") from exc


def _declare_tables() -> None:
    schema = dlt.current.source_schema()
    schema.update_table(new_table(INTERACTION_EVENTS, columns=list(EVENT_COLUMNS.values())))
    schema.update_table(new_table(INTERACTIONS, write_disposition="merge",
                                  columns=list(INTERACTION_COLUMNS.values())))
    schema.update_table(new_table(SESSIONS, write_disposition="append",
                                  columns=list(SESSION_COLUMNS.values())))
    schema.update_table(new_table(INTERACTION_SNAPSHOTS, write_disposition="append",
                                  columns=list(SNAPSHOT_COLUMNS.values())))
