"""The report's window, source filter and tables, on rows given by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipelines.report import QUERIES, read_facts, top_agents, top_queues

DAY = dt.date(2026, 12, 1)


def fake_warehouse(rows: dict[str, list[dict[str, Any]]], missing: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    def execute(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        name = next(n for n, q in QUERIES.items() if q.format(**{t: t for t in (
            "fct_queue_interval", "fct_contacts", "fct_agent_daily", "fct_agent_status_daily",
            "fct_queue_backlog", "dim_agents")}) == sql)
        if name in missing:
            raise RuntimeError(f"Catalog Error: Table with name {name} does not exist!")
        found = rows.get(name, [])
        columns = list(found[0]) if found else []
        return columns, [tuple(r.values()) for r in found]
    return execute


def queue_day(source: str, day: dt.date, entries: int, answered: int, in_sla: int,
              not_in_sla: int) -> dict[str, Any]:
    return {"source": source, "channel": "call", "queue_name": "Sales", "day": day,
            "entries": entries, "answered": answered, "unanswered": entries - answered,
            "in_sla": in_sla, "not_in_sla": not_in_sla}


def test_the_window_ends_at_the_last_day_with_data_and_sources_filter_every_table() -> None:
    rows = {
        "queue_days": [queue_day("ujet", DAY, 10, 8, 6, 2),
                       queue_day("ujet", DAY - dt.timedelta(days=3), 5, 5, 5, 0),
                       queue_day("ujet", DAY - dt.timedelta(days=20), 99, 99, 99, 0),
                       queue_day("chatwoot", DAY, 7, 7, 0, 0)],
        "agent_days": [{"source": "ujet", "agent_id": "7", "first_name": "Ana", "last_name": "Li",
                        "day": DAY, "contacts_handled": 4, "handled": 5, "handle_seconds": 500.0},
                       {"source": "ujet", "agent_id": "8", "first_name": "Ana", "last_name": "Li",
                        "day": DAY, "contacts_handled": 2, "handled": 2, "handle_seconds": None}],
    }
    facts = read_facts(fake_warehouse(rows, missing=("backlog",)), str, days=14,
                       sources=["ujet"])

    assert (facts.first_day, facts.last_day) == (DAY - dt.timedelta(days=13), DAY)
    assert facts.sources == ["ujet"] and facts.missing == ["backlog"]
    # 20 days back is outside the window; chatwoot is filtered out
    assert top_queues(facts) == [("ujet: Sales", 15, 13, round(100 * 11 / 13, 1))]
    # two agents of one name stay apart; one without handle time has no average
    assert top_agents(facts) == [("ujet: Ana Li (7)", 4, 100.0), ("ujet: Ana Li (8)", 2, None)]
