"""A sandbox Alvaria organisation, a pipeline pointed at it, and the truth to hold it to.

The truth comes from the organisation, never from the source's code: which e-mails were in
the queue at which event (`tick`), every version each went through, and the request log,
which says at which tick each page was answered. A run's read spans the ticks of its first
and last answered page.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import dlt
import duckdb
import pytest

from pipelines.registry import instance
from pipelines.runner import RunSummary, run_source
from sources.alvaria.sandbox.organisation import Email, Organisation, OrganisationSize
from sources.alvaria.sandbox.server import SandboxOptions, SandboxServer
from transforms.dialect import RawSource
from transforms.settings import TransformSettings


@dataclass(frozen=True)
class ReadSpan:
    """One run's read, in the organisation's ticks."""

    snapshot_at: datetime
    first_tick: int
    last_tick: int


@dataclass
class Alvaria:
    organisation: Organisation
    server: SandboxServer
    database: Path
    spans: list[ReadSpan] = field(default_factory=list)

    def destination(self) -> Any:
        return dlt.destinations.duckdb(str(self.database), destination_name="warehouse")

    def pipeline(self) -> dlt.Pipeline:
        return dlt.pipeline("alvaria", destination=self.destination(), dataset_name="alvaria")

    def raw_source(self) -> RawSource:
        return RawSource("alvaria", "alvaria", "alvaria")

    def run(self, transform: Optional[str] = None, **overrides: Any) -> RunSummary:
        """One snapshot; `transform` (a reporting zone) also builds the facts."""
        args = dict(self.server.source_args(), requests_per_second=1000, retry_backoff=0.01)
        args.update(overrides)
        self.server.reset_log()
        settings = TransformSettings(transform) if transform else None
        summary = run_source(instance("alvaria"), destination=self.destination(), source_args=args,
                             transform=settings)
        ticks = [r.tick for r in self.list_requests()]
        with self.connect() as connection:
            latest = connection.execute("select max(snapshot_at) from alvaria.snapshots").fetchone()[0]
        self.spans.append(ReadSpan(latest, min(ticks), max(ticks)))
        return summary

    def list_requests(self) -> list[Any]:
        return [r for r in self.server.requests
                if r.path.endswith("/emailQueue/emails") and r.status == 200 and r.fault is None]

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.database), read_only=True)

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with self.connect() as connection:
            cursor = connection.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]


@pytest.fixture
def alvaria(tmp_path: Path) -> Iterator[Callable[..., Alvaria]]:
    servers: list[SandboxServer] = []

    def make(emails: int = 120, seed: int = 7, **options: Any) -> Alvaria:
        organisation = Organisation(seed=seed, size=OrganisationSize(emails=emails))
        server = SandboxServer(organisation, SandboxOptions(**options)).start()
        servers.append(server)
        return Alvaria(organisation, server, tmp_path / f"alvaria{len(servers)}.duckdb")

    yield make
    for server in servers:
        server.stop()


# -- the rules ---------------------------------------------------------------------------------
def present_during(email: Email, first: int, last: int) -> bool:
    return email.arrived_tick <= last and (email.left_tick is None or email.left_tick > first)


def present_throughout(email: Email, first: int, last: int) -> bool:
    return email.arrived_tick <= first and (email.left_tick is None or email.left_tick > last)


def assert_snapshots_exact(av: Alvaria) -> None:
    """Each run's snapshot: every e-mail in the queue for the whole read, none twice, none
    that was never in it during the read, and each as one of its versions of that time."""
    everyone = av.organisation.everyone()
    for span in av.spans:
        rows = av.rows(f"select * from alvaria.email_snapshots where snapshot_at ="
                       f" '{span.snapshot_at.isoformat()}'")
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), f"duplicates in the snapshot of {span.snapshot_at}"
        throughout = {k for k, e in everyone.items()
                      if present_throughout(e, span.first_tick, span.last_tick)}
        assert throughout - set(ids) == set(), f"missing from the snapshot of {span.snapshot_at}"
        phantoms = [i for i in ids if i not in everyone
                    or not present_during(everyone[i], span.first_tick, span.last_tick)]
        assert phantoms == []
        for row in rows:
            versions = everyone[row["id"]].history
            matching = [(v, nxt) for v, nxt in zip(versions, [*versions[1:], None])
                        if v.sequence == row["event_sequence_number"]]
            assert len(matching) == 1, row
            version, following = matching[0]
            assert (version.state, version.handler, version.work_type) == (
                row["state"], row.get("work_handler_id"), row["work_type_id"])
            # that version was the e-mail's at some moment of the read
            assert version.tick <= span.last_tick
            assert following is None or following.tick > span.first_tick


def assert_journeys_exact(av: Alvaria) -> None:
    """`email_state_changes` and `emails` say exactly what the snapshots say, and every
    change is a real one of the organisation's, in order."""
    everyone = av.organisation.everyone()
    times = [s.snapshot_at for s in av.spans]
    seen: dict[datetime, dict[str, dict[str, Any]]] = {
        at: {r["id"]: r for r in av.rows(f"select * from alvaria.email_snapshots"
                                         f" where snapshot_at = '{at.isoformat()}'")}
        for at in times}
    expected: list[tuple[Any, ...]] = []
    for before, now in zip([None, *times], times):
        old, new = (seen[before] if before else {}), seen[now]
        for key in new.keys() | old.keys():
            a, b = old.get(key), new.get(key)
            if a and b and (a["state"], a.get("work_handler_id"), a["work_type_id"]) == (
                    b["state"], b.get("work_handler_id"), b["work_type_id"]):
                continue
            last = b or a
            expected.append((key, now, a and a["state"], b and b["state"],
                             a and a.get("work_handler_id"), b and b.get("work_handler_id"),
                             a and a["work_type_id"], b and b["work_type_id"],
                             last["event_sequence_number"]))
    changes = av.rows("select * from alvaria.email_state_changes")
    got = [(c["id"], c["observed_at"], c["from_state"], c["to_state"], c["from_handler"],
            c["to_handler"], c["from_work_type_id"], c["to_work_type_id"],
            c["event_sequence_number"]) for c in changes]
    assert sorted(set(got) - set(expected), key=repr) == [] and sorted(
        set(expected) - set(got), key=repr) == [] and len(got) == len(expected)

    # every change is one the organisation made, and each e-mail's changes come in its order
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in sorted(changes, key=lambda c: c["observed_at"]):
        by_id[change["id"]].append(change)
    for key, journey in by_id.items():
        sequences = [v.sequence for v in everyone[key].history]
        observed = [c["event_sequence_number"] for c in journey if c["to_state"] is not None]
        assert all(s in sequences for s in observed)
        assert observed == sorted(observed) and len(set(observed)) == len(observed)
        if journey[-1]["to_state"] is None:
            assert everyone[key].left_tick is not None, f"{key} is said to have left but did not"

    emails = {r["id"]: r for r in av.rows("select * from alvaria.emails")}
    assert set(emails) == set().union(*(s.keys() for s in seen.values()))
    for key, row in emails.items():
        sightings = [at for at in times if key in seen[at]]
        last = seen[sightings[-1]][key]
        assert row["first_seen_at"] == sightings[0] and row["last_seen_at"] == sightings[-1]
        assert row["is_active"] == (sightings[-1] == times[-1])
        gone = [at for at in times if at > sightings[-1]]
        assert row["left_queue_at"] == (gone[0] if gone else None)
        fields = [name for name in last if name != "snapshot_at" and not name.startswith("_dlt")]
        assert {name: row[name] for name in fields} == {name: last[name] for name in fields}


def api_row(item: dict[str, Any]) -> dict[str, Any]:
    """An item of the API as the test expects it in `emails`: names in snake_case, times
    parsed, the sequence number an integer."""
    row: dict[str, Any] = {}
    for key, value in item.items():
        name = re.sub(r"([A-Z])", r"_\1", key).lower()
        if name.endswith("_time"):
            value = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        elif name == "event_sequence_number":
            value = int(value)
        row[name] = value
    return row


def assert_active_rows_match_the_queue(av: Alvaria, extended: bool = True) -> None:
    """After a run with the queue standing still: `emails` holds every active e-mail with
    every field as the API shows it, and marks every other e-mail inactive."""
    organisation = av.organisation
    emails = {r["id"]: r for r in av.rows("select * from alvaria.emails")}
    active = {k: v for k, v in emails.items() if v["is_active"]}
    assert set(active) == set(organisation.active)
    for key, email in organisation.active.items():
        expected = api_row(organisation.render(email, extended))
        row = {name: value for name, value in active[key].items()
               if value is not None and not name.startswith("_dlt")
               and name not in ("first_seen_at", "last_seen_at", "is_active")}
        assert row == expected
    for key, row in emails.items():
        if not row["is_active"]:
            assert key in organisation.gone and row["left_queue_at"] is not None


def tokens(server: SandboxServer) -> int:
    return sum(1 for r in server.requests if r.path == "/oauth2/token" and r.status == 200)

