"""The fact tables, and the check that an incremental build equals a full rebuild."""

from __future__ import annotations

from collections import Counter
from typing import Any

MARTS = ("fct_contacts", "fct_queue_interval", "fct_agent_daily", "fct_agent_status_daily",
         "fct_queue_backlog", "fct_contact_events", "dim_agents", "dim_queues")
UJET_MARTS = tuple(mart for mart in MARTS if mart != "fct_contact_events")
"""The marts a UJET tenant fills: UJET reports durations, not lifecycle events."""
SAME_DATA_MARTS = tuple(mart for mart in UJET_MARTS if mart != "fct_queue_backlog")
"""The marts two loads of the same tenant must fill alike: not the backlog, whose snapshots
are taken when each run reads (a second warehouse's run snapshots later)."""


FLOAT_DIGITS = 6
"""Decimal places to which doubles are compared: a sum of doubles depends on the order in
which a parallel aggregate adds them (1089086.817 against 1089086.8169999998); every mart's
doubles are seconds or percentages, meaningful to the millisecond at most."""


def assert_marts_equal(connection: Any, left: str = "contact_center",
                       right: str = "contact_center_full", marts: tuple[str, ...] = MARTS) -> None:
    """Every mart holds the same rows, duplicates counted, in both datasets (`connection`
    is anything with `execute(sql).fetchall()`: DuckDB, or the harness's warehouse)."""
    for mart in marts:
        rows = {name: _rows(connection, f"select * from {name}.{mart}") for name in (left, right)}
        for one, other in ((left, right), (right, left)):
            extra = sorted((rows[one] - rows[other]).elements(), key=repr)
            assert extra == [], f"{mart}: rows in {one} but not in {other}: {extra[:3]}"


def _rows(connection: Any, sql: str) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(round(value, FLOAT_DIGITS) if isinstance(value, float) else value
                         for value in row) for row in connection.execute(sql).fetchall())
