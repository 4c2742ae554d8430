"""`ccelt report`: the facts as one self-contained HTML file, for people who read charts.

Each chart is one query on `contact_center` and a Vega-Lite specification, rendered to SVG
by vl-convert inside this process (docs/decisions.md, "The report"): the file holds no
script and fetches no style sheet, font or image, so it opens anywhere, offline, and what
it shows is exactly what the query returned. Queries use plain SQL that DuckDB, Postgres and
BigQuery all read; the window (`--days`) and the sources (`--source`) are applied to their
rows here, so no date arithmetic differs between warehouses.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

logger = logging.getLogger(__name__)

QUERIES = {
    "queue_days": """
        select source, channel, queue_name, cast(interval_start as date) as day,
               sum(entries) as entries, sum(answered) as answered,
               sum(unanswered) as unanswered, sum(in_sla) as in_sla,
               sum(not_in_sla) as not_in_sla
        from {fct_queue_interval}
        group by source, channel, queue_name, cast(interval_start as date)""",
    "queue_intervals": """
        select source, queue_name, interval_start, entries, answered
        from {fct_queue_interval}""",
    "contact_days": """
        select source, channel, local_date as day, count(*) as contacts
        from {fct_contacts}
        group by source, channel, local_date""",
    "agent_days": """
        select d.source, d.agent_id, a.first_name, a.last_name, d.local_date as day,
               sum(d.contacts_handled) as contacts_handled, sum(d.handled) as handled,
               sum(d.handle_seconds) as handle_seconds
        from {fct_agent_daily} d
        left join {dim_agents} a on a.source = d.source and a.agent_id = d.agent_id
        group by d.source, d.agent_id, a.first_name, a.last_name, d.local_date""",
    "status_days": """
        select source, local_date as day, status_name, sum(seconds) as seconds
        from {fct_agent_status_daily}
        group by source, local_date, status_name""",
    "backlog": """
        select source, snapshot_at, channel, queue_name, queue_id,
               sum(waiting) as waiting, sum(in_progress) as in_progress
        from {fct_queue_backlog}
        group by source, snapshot_at, channel, queue_name, queue_id""",
}
TABLES = ("fct_queue_interval", "fct_contacts", "fct_agent_daily", "fct_agent_status_daily",
          "fct_queue_backlog", "dim_agents")

WIDTH = 760


@dataclass
class Facts:
    """The rows of every query, within the window and the sources asked for."""

    rows: dict[str, list[dict[str, Any]]]
    first_day: dt.date
    last_day: dt.date
    sources: list[str]
    missing: list[str]
    """Queries whose tables this warehouse does not have yet (facts built by an older ccelt)."""


def read_facts(execute: Callable[[str], tuple[list[str], list[tuple[Any, ...]]]],
               qualified: Callable[[str], str], days: int,
               sources: Optional[Sequence[str]] = None) -> Facts:
    """Runs every query (`execute` returns column names and rows) and keeps the last `days`
    local dates that have data, of the `sources` asked for (all when None)."""
    names = {table: qualified(table) for table in TABLES}
    rows: dict[str, list[dict[str, Any]]] = {}
    missing = []
    for name, sql in QUERIES.items():
        try:
            columns, found = execute(sql.format(**names))
        except Exception as exc:  # noqa: BLE001 (a table an older build did not make)
            if "not exist" not in str(exc) and "not found" not in str(exc).lower():
                raise
            logger.warning("report: %s: %s; `ccelt transform` builds it", name,
                           str(exc).splitlines()[0])
            missing.append(name)
            columns, found = [], []
        rows[name] = [dict(zip(columns, row)) for row in found]
    if sources:
        unknown = sorted(set(sources) - {r["source"] for rs in rows.values() for r in rs})
        if unknown:
            logger.warning("report: no facts for source(s) %s", ", ".join(unknown))
        rows = {name: [r for r in rs if r["source"] in sources] for name, rs in rows.items()}
    dated = [_day(r["day"]) for name in ("queue_days", "contact_days") for r in rows[name]]
    last = max(dated) if dated else dt.date.today()
    first = last - dt.timedelta(days=days - 1)

    def inside(value: Any) -> bool:
        return first <= _day(value) <= last

    for name in ("queue_days", "contact_days", "agent_days", "status_days"):
        rows[name] = [r for r in rows[name] if inside(r["day"])]
    rows["queue_intervals"] = [r for r in rows["queue_intervals"] if inside(r["interval_start"])]
    rows["backlog"] = [r for r in rows["backlog"] if inside(r["snapshot_at"])]
    present = sorted({r["source"] for rs in rows.values() for r in rs})
    return Facts(rows, first, last, present, missing)


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _queue(row: dict[str, Any]) -> str:
    return f"{row['source']}: {row.get('queue_name') or row.get('queue_id') or 'no queue'}"


def _agent(row: dict[str, Any]) -> str:
    """Its name and id: two agents may share a name."""
    name = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
    return f"{row['source']}: {name} ({row['agent_id']})" if name else \
        f"{row['source']}: {row['agent_id']}"


# ----- the charts: (title, one-line definition, Vega-Lite spec with its data)

def charts(facts: Facts, zone: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = facts.rows
    out: list[tuple[str, str, dict[str, Any]]] = []

    service = []
    for row in rows["queue_days"]:
        judged = int(row["in_sla"] or 0) + int(row["not_in_sla"] or 0)
        if judged:
            service.append({"day": str(_day(row["day"])), "queue": _queue(row),
                            "service_level_pct": round(100.0 * int(row["in_sla"]) / judged, 1)})
    out.append(("Service level per queue per day",
                "Contacts answered within the queue's target ÷ contacts the vendor judged (in"
                " SLA + not in SLA), per local day; queues without SLA data are not drawn.",
                _spec("line", service, {
                    "x": {"field": "day", "type": "temporal", "title": "day"},
                    "y": {"field": "service_level_pct", "type": "quantitative",
                          "title": "service level (%)", "scale": {"domain": [0, 100]}},
                    "color": {"field": "queue", "type": "nominal"}}, point=True)))

    volume = []
    for row in rows["queue_days"]:
        for outcome in ("answered", "unanswered"):
            volume.append({"day": str(_day(row["day"])), "queue": _queue(row),
                           "outcome": outcome, "contacts": int(row[outcome] or 0)})
    out.append(("Answered and not answered per day",
                "Queue entries per local day, answered by an agent or not (abandoned, or still"
                " waiting when the day ended), all queues stacked.",
                _stacked_per_day(volume, "contacts", "queue entries", "outcome",
                                 {"domain": ["answered", "unanswered"],
                                  "range": ["#4c78a8", "#e45756"]})))

    intervals: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows["queue_intervals"]:
        start = row["interval_start"]
        moment = start if isinstance(start, dt.datetime) else dt.datetime.fromisoformat(str(start))
        intervals[(_queue(row), moment.strftime("%H:%M"))] += int(row["answered"] or 0)
    out.append(("Answered per queue per 15-minute interval",
                "Queue entries answered, summed over the days shown, by the local 15-minute"
                " interval they entered the queue in.",
                _spec("rect", [{"queue": q, "interval": i, "answered": n}
                               for (q, i), n in sorted(intervals.items())], {
                    "x": {"field": "interval", "type": "ordinal", "title": "interval",
                          "axis": {"labelAngle": -90, "labelOverlap": "greedy"}},
                    "y": {"field": "queue", "type": "nominal"},
                    "color": {"field": "answered", "type": "quantitative",
                              "scale": {"scheme": "blues"}}})))

    contacts = [{"day": str(_day(r["day"])), "source and channel": f"{r['source']} {r['channel']}",
                 "contacts": int(r["contacts"])} for r in rows["contact_days"]]
    out.append(("Contacts per channel and source per day",
                "Contacts (calls, chats, e-mails, conversations) by the local day they were"
                " created.",
                _stacked_per_day(contacts, "contacts", "contacts", "source and channel")))

    handle = agent_handle_times(facts)[:20]
    out.append(("Handle time per agent",
                "Average handle time: handle seconds ÷ handled segments over the days shown;"
                " agents of vendors that record no handling time are not drawn.",
                _spec("bar", [{"agent": a, "aht_seconds": round(s, 1)} for a, s, _ in handle], {
                    "y": {"field": "agent", "type": "nominal", "sort": "-x"},
                    "x": {"field": "aht_seconds", "type": "quantitative",
                          "title": "average handle time (s)"}})))

    status = [{"day": str(_day(r["day"])), "status": r["status_name"] or "unknown",
               "hours": round(float(r["seconds"] or 0) / 3600, 2)} for r in rows["status_days"]]
    out.append(("Agent status time per day",
                "Hours all agents spent in each status, per local day (intervals split at"
                " midnight).",
                _stacked_per_day(status, "hours", "hours", "status")))

    backlog = [{"snapshot": _instant(r["snapshot_at"]), "queue": _queue(r),
                "waiting": int(r["waiting"] or 0)} for r in rows["backlog"]]
    out.append(("Backlog over time per queue",
                "Contacts waiting for an agent at each snapshot the sources took (UJET and"
                " Alvaria every run, Genesys at every list).",
                _spec("line", backlog, {
                    "x": {"field": "snapshot", "type": "temporal", "title": "snapshot"},
                    "y": {"field": "waiting", "type": "quantitative"},
                    "color": {"field": "queue", "type": "nominal"}}, point=True)))
    return [(title, f"{definition} Time zone: {zone}.", spec) for title, definition, spec in out]


def _agent_totals(facts: Facts) -> dict[str, tuple[int, float, float]]:
    """Per agent over the window: contacts handled, and handle seconds with the segments
    they cover (only the rows of vendors that record handle time)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for row in facts.rows["agent_days"]:
        entry = totals[_agent(row)]
        entry[0] += float(row["contacts_handled"] or 0)
        if row["handle_seconds"] is not None:
            entry[1] += float(row["handle_seconds"])
            entry[2] += float(row["handled"] or 0)
    return {agent: (int(c), s, n) for agent, (c, s, n) in totals.items()}


def agent_handle_times(facts: Facts) -> list[tuple[str, float, int]]:
    """(agent, average handle seconds, contacts handled), longest first, for the agents with
    handle time."""
    return sorted(((agent, s / n, c) for agent, (c, s, n) in _agent_totals(facts).items() if n),
                  key=lambda item: -item[1])


def top_queues(facts: Facts, count: int = 10) -> list[tuple[str, int, int, Optional[float]]]:
    """(queue, entries, answered, service level %) of the busiest queues in the window."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in facts.rows["queue_days"]:
        entry = totals[_queue(row)]
        for i, field in enumerate(("entries", "answered", "in_sla", "not_in_sla")):
            entry[i] += int(row[field] or 0)
    ranked = sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))[:count]
    return [(queue, e, a, round(100.0 * s / (s + n), 1) if s + n else None)
            for queue, (e, a, s, n) in ranked]


def top_agents(facts: Facts, count: int = 10) -> list[tuple[str, int, Optional[float]]]:
    """(agent, contacts handled, average handle seconds) of the busiest agents."""
    ranked = sorted(_agent_totals(facts).items(), key=lambda item: (-item[1][0], item[0]))[:count]
    return [(agent, c, round(s / n, 1) if n else None) for agent, (c, s, n) in ranked]


def _instant(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    return str(value)


def _stacked_per_day(values: list[dict[str, Any]], measure: str, title: str, stack: str,
                     scale: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Bars per local day, `measure` summed and stacked by `stack`."""
    color: dict[str, Any] = {"field": stack, "type": "nominal", **({"scale": scale} if scale else {})}
    return _spec("bar", values, {
        "x": {"field": "day", "type": "ordinal", "timeUnit": "yearmonthdate", "title": "day"},
        "y": {"aggregate": "sum", "field": measure, "type": "quantitative", "title": title},
        "color": color})


def _spec(mark: str, values: list[dict[str, Any]], encoding: dict[str, Any],
          point: bool = False) -> dict[str, Any]:
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "width": WIDTH - 220, "height": 260, "data": {"values": values},
            "mark": {"type": mark, "tooltip": True, **({"point": True} if point else {})},
            "encoding": encoding, "config": {"font": "sans-serif", "view": {"stroke": None}}}


# ----- the page

def render(facts: Facts, zone: str, warehouse: str, svg: Callable[[dict[str, Any]], str],
           generated: Optional[dt.datetime] = None) -> str:
    """The report as one HTML document; `svg` renders a Vega-Lite spec."""
    generated = generated or dt.datetime.now(dt.timezone.utc)
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>ccelt report {facts.first_day} to {facts.last_day}</title>"
             f"<style>{STYLE}</style></head><body>",
             f"<h1>Contact center, {facts.first_day} to {facts.last_day}</h1>",
             f"<p class=\"meta\">From {html.escape(warehouse)}; sources:"
             f" {html.escape(', '.join(facts.sources) or 'none')}; time zone"
             f" {html.escape(zone)}; written {generated:%Y-%m-%d %H:%M} UTC by ccelt.</p>"]
    for number, (title, definition, spec) in enumerate(charts(facts, zone), start=1):
        drawn = svg(spec) if spec["data"]["values"] else ""
        parts.append(f"<section class=\"chart\" id=\"chart-{number}\"><h2>{html.escape(title)}"
                     f"</h2><p class=\"definition\">{html.escape(definition)}</p>"
                     + (drawn or "<p class=\"empty\">No data in this window.</p>")
                     + "</section>")
    parts.append("<section id=\"top-queues\"><h2>Busiest queues</h2><p class=\"definition\">"
                 "Queue entries over the days shown; service level as in the first chart."
                 f" Time zone: {html.escape(zone)}.</p><table><tr><th>queue</th><th>entries"
                 "</th><th>answered</th><th>service level (%)</th></tr>")
    for queue, entries, answered, level in top_queues(facts):
        parts.append(f"<tr><td>{html.escape(queue)}</td><td>{entries}</td><td>{answered}</td>"
                     f"<td>{'' if level is None else level}</td></tr>")
    parts.append("</table></section><section id=\"top-agents\"><h2>Busiest agents</h2>"
                 "<p class=\"definition\">Contacts handled over the days shown; average handle"
                 " time as in the handle time chart (blank where the vendor records none)."
                 f" Time zone: {html.escape(zone)}.</p><table><tr><th>agent</th><th>contacts"
                 " handled</th><th>average handle time (s)</th></tr>")
    for agent, handled, aht in top_agents(facts):
        parts.append(f"<tr><td>{html.escape(agent)}</td><td>{handled}</td>"
                     f"<td>{'' if aht is None else aht}</td></tr>")
    parts.append("</table></section></body></html>")
    return "\n".join(parts)


STYLE = """
body { font-family: sans-serif; margin: 2rem auto; max-width: 800px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta, .definition { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #ddd; }
td:nth-child(n+2), th:nth-child(n+2) { text-align: right; }
svg { max-width: 100%; height: auto; }
"""


def vega_svg(spec: dict[str, Any]) -> str:
    """A Vega-Lite spec as an SVG element (vl-convert: Vega itself, run in this process)."""
    import vl_convert

    svg: str = vl_convert.vegalite_to_svg(spec)
    return svg


def write_report(pipeline: Any, settings: Any, out: Any, days: int,
                 sources: Optional[Sequence[str]], warehouse: str) -> Facts:
    """Reads the facts through `pipeline`'s SQL client (bound to the facts dataset) and
    writes the report to `out`."""
    with pipeline.sql_client() as client:
        def execute(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
            with client.execute_query(sql) as cursor:
                columns = [d[0] for d in cursor.description]
                return columns, [tuple(row) for row in cursor.fetchall()]

        facts = read_facts(execute, client.make_qualified_table_name, days, sources)
    out.write_text(render(facts, settings.reporting_timezone, warehouse, vega_svg),
                   encoding="utf-8")
    return facts
