"""The activity logs' two windows: each row once, also the one opened right at the boundary."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest

from sources.ujet import _activity_rows
from sources.ujet.helpers.client import UjetApi
from sources.kit.feeds import StateUpdate
from sources.kit.privacy import PiiPolicy
from sources.ujet.settings import PII_FIELDS
from sources.ujet.sandbox.generate import ts
from sources.ujet.sandbox.server import SandboxOptions, SandboxServer
from sources.ujet.sandbox.tenant import Tenant, TenantSize


@pytest.mark.parametrize("inclusive", [True, False])
def test_a_row_opened_at_the_boundary_and_closed_since_is_read_once(inclusive: bool) -> None:
    tenant = Tenant(size=TenantSize(days=1, agents=3, calls=5, chats=1, emails=1),
                    include_samples=False)
    last_run = pendulum.now("UTC").subtract(minutes=30).replace(microsecond=123000)
    row = dict(next(iter(tenant.collections["agent_activity_logs"].values())),
               id=99_999, started_at=ts(last_run), ended_at=ts(last_run.add(minutes=5)),
               duration=300)
    tenant.collections["agent_activity_logs"] = {row["id"]: row}
    options = SandboxOptions(api_token="t", from_inclusive=inclusive, to_inclusive=inclusive)
    with SandboxServer(tenant, options) as server:
        api = UjetApi.connect("sandbox", "t", server.base_url, requests_per_second=None,
                              page_size=100, timeout=10)
        # the last run saw rows opened up to `last_run` and closed up to `last_run` too
        cursors = {"started_at": last_run.isoformat(), "ended_at": last_run.isoformat()}
        items = list(_activity_rows(api, pendulum.datetime(2015, 1, 1), timedelta(0),
                                    pendulum.now("UTC"), PiiPolicy(fields=PII_FIELDS), cursors))
        paths = [(r.path, r.param("started_at[to]"), r.param("started_at[from]"))
                 for r in server.requests]

    rows = [r for item in items if not isinstance(item, StateUpdate) for r in item]
    # both windows asked about the boundary, and only one row came of it
    assert any(to for _, to, _ in paths) and any(start for _, _, start in paths)
    assert [r["id"] for r in rows] == [99_999]
