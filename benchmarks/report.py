"""The results, as a table for the terminal and as docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

from benchmarks.alvaria import AlvariaRuns
from benchmarks.genesys import LOAD_EVERY, GenesysListen
from benchmarks.chatwoot import ChatwootRuns
from benchmarks.harness import server_priority_applies
from benchmarks.suite import INCREMENTAL, Backfill, Headerless, Measure, Scale, Throughput

NOTES = Path(__file__).with_name("notes.md")


def _met(measure: Measure) -> str:
    return "reported" if measure.met is None else ("met" if measure.met else "NOT MET")


def table(rows: list[Measure]) -> str:
    """The measures beside their targets, for the terminal."""
    header = ("#", "measure", "target", "measured", "")
    lines = [header] + [(str(m.number), m.what, m.target, m.value, _met(m)) for m in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in lines)


def markdown(rows: list[Measure], machine: dict[str, str], quick: bool, seconds: float,
             backfills: list[Backfill], speed: Optional[Throughput], grown: Optional[Scale],
             chatwoot: Optional[ChatwootRuns] = None,
             alvaria: Optional[AlvariaRuns] = None,
             bare: Optional[Headerless] = None,
             listen: Optional[GenesysListen] = None) -> str:
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick mode: smaller tenants than the targets name" if quick else "full mode"
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench{' QUICK=1' if quick else ''}` on {today}"
        f" ({mode}),"
        f" in {seconds / 60:,.0f} minutes. Run it again to replace this file; the notes at the"
        " end are kept in `benchmarks/notes.md`.",
        "",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in machine.items()) + ".",
        "",
        ("The UJET sandbox ran at a raised priority (nice -10), as a server on a machine of its"
         " own would not compete with ccelt for the CPU (benchmarks/harness.py)."
         if server_priority_applies() else
         "The UJET sandbox ran at the normal priority, sharing the two cores with ccelt."),
        "",
        "| # | measure | target | measured | |",
        "|---|---|---|---|---|",
    ]
    out += [f"| {m.number} | {m.what} | {m.target} | {m.value} | {_met(m)} |" for m in rows]
    unmet = [m for m in rows if m.met is False]
    if unmet:
        out += ["", "### Targets not met, and why", ""]
        out += [f"* **{m.number}. {m.what}:** {' '.join(m.notes) or 'see the sections below.'}"
                for m in unmet]
    for backfill in backfills:
        out += _backfill_section(backfill)
    if speed is not None:
        out += _throughput_section(speed)
    if grown is not None:
        out += _scale_section(grown)
    if chatwoot is not None:
        out += _chatwoot_section(chatwoot)
    if alvaria is not None:
        out += _alvaria_section(alvaria)
    if bare is not None:
        out += _headerless_section(bare)
    if listen is not None:
        out += _genesys_section(listen)
    out += ["", NOTES.read_text().strip(), ""]
    return "\n".join(out)


def _backfill_section(backfill: Backfill) -> list[str]:
    s = backfill.summary
    needed = backfill.floor
    out = ["", f"## Backfill at {backfill.rate:g} request/s", "",
           f"Tenant: {backfill.shape.describe()}; the sandbox refuses any request that comes"
           f" sooner than 1/{backfill.rate:g} s after the one before (429, `Retry-After` in whole"
           f" seconds). `ccelt run ujet` with its defaults, transforms included:"
           f" {backfill.run.seconds:,.1f} s wall, {backfill.requests:,} requests"
           f" ({s['rate_limited']} refused with 429, {s['retries']} retried), {s['slices']} slices,"
           f" peak memory {backfill.run.peak_pss_mb:,.0f} MB.", "",
           "| where the time went | seconds |", "|---|---|"]
    out += [f"| {what} | {seconds:,.1f} |" for what, seconds in backfill.breakdown().items()]
    out += ["", "| endpoint | records | requests | floor |", "|---|---|---|---|"]
    rows = s["rows"]
    for path, count in sorted(s["requests_by_endpoint"].items()):
        table = path if path in rows else ""
        out.append(f"| `{path}` | {rows.get(table, '') if table else ''} | {count:,}"
                   f" | {needed.get(path, '?')} |")
    return out


def _throughput_section(speed: Throughput) -> list[str]:
    def line(name: str, run: object) -> str:
        from benchmarks.harness import Finished
        assert isinstance(run, Finished)
        records = speed.ccelt_records if run is speed.ccelt else speed.records_of(run)
        return (f"| {name} | {records:,} | {run.seconds:,.1f} | {records / run.seconds:,.0f}"
                f" | {run.peak_pss_mb:,.0f} |")

    return ["", "## Throughput without a rate limit", "",
            f"Tenant: {speed.shape.describe()}, served without a rate limit on loopback. Each"
            " program loads every endpoint ccelt reads into DuckDB, one after the other in the"
            " same invocation; records counted are the calls, chats, emails and agent activity"
            " rows (nearly all the data). ccelt without transforms (`--no-transform`); the"
            " baselines as `benchmarks/baseline_rest_api.py` (page-number paging), in dlt's"
            " defaults and tuned as dlt's performance guide suggests (jsonl loader,"
            " parallelized resources, 8 extract and 2 normalize workers).", "",
            "| program | records | seconds | records/s | peak memory (MB) |", "|---|---|---|---|---|",
            line("ccelt", speed.ccelt),
            line("dlt rest_api, defaults", speed.baseline),
            line(f"dlt rest_api, tuned ({speed.tuned_format})", speed.tuned)] + ([
            "", "With jsonl, the tuned baseline could not load this tenant: dlt's DuckDB load"
            " of a jsonl file in which a key first appears deep in the file failed"
            f" (`{speed.tuned_failures[0][:200]}`), so it ran with parquet, the guide's other"
            " fast format, as a user would next try."]
            if speed.tuned_failures else [])


def _scale_section(grown: Scale) -> list[str]:
    def backfill_line(shape: object, run: object) -> str:
        from benchmarks.harness import Finished, TenantShape
        assert isinstance(run, Finished) and isinstance(shape, TenantShape)
        report = run.report or {}
        records = sum(report.get("rows", {}).get(name, 0) for name in INCREMENTAL)
        child_rows = sum(report.get("rows", {}).values())
        return (f"| {shape.describe()} | {records:,} | {child_rows:,} | {run.seconds:,.0f}"
                f" | {records / run.seconds:,.0f} | {run.peak_pss_mb:,.0f} | {run.peak_rss_mb:,.0f} |")

    def tenths_line(shape: object, run: object) -> str:
        from benchmarks.harness import Finished, TenantShape
        assert isinstance(run, Finished) and isinstance(shape, TenantShape)
        return (f"| {shape.calls:,} calls | "
                + " | ".join(f"{mb:,.0f}" for mb in run.peak_by_tenth()) + " |")

    incremental = grown.incremental.report or {}
    build = incremental.get("transform") or {}
    rebuild = grown.rebuild.report or {}
    first = grown.first_build.report or {}
    return ["", "## Backfills of a small and a big tenant, and the big warehouse afterwards", "",
            "Without a rate limit and without transforms (`--no-transform`), so that memory is"
            " the pipeline's own; PSS sums the process and its children, RSS is the main"
            " process's peak.", "",
            "| tenant | records | rows (all tables) | seconds | records/s | peak PSS (MB) | peak RSS (MB) |",
            "|---|---|---|---|---|---|---|",
            backfill_line(grown.small, grown.small_backfill),
            backfill_line(grown.big, grown.big_backfill), "",
            "Peak PSS (MB) in each tenth of the run's time: memory that grew with the history"
            " would climb from tenth to tenth; a plateau is a bound.", "",
            "| tenant | " + " | ".join(f"{n}/10" for n in range(1, 11)) + " |",
            "|---|" + "---|" * 10,
            tenths_line(grown.small, grown.small_backfill),
            tenths_line(grown.big, grown.big_backfill), "",
            f"On the big warehouse: the first fact build took {float(first.get('seconds', 0)):,.1f} s;"
            f" then an incremental `ccelt run ujet` with nothing changed at the tenant took"
            f" {grown.incremental.seconds:,.1f} s ({incremental.get('requests', '?')} requests:"
            f" {', '.join(f'`{p}` {n}' for p, n in incremental.get('requests_by_endpoint', {}).items())};"
            f" rows loaded {sum(incremental.get('rows', {}).values()):,}; transforms"
            f" {build.get('mode', '?')}, partitions rebuilt {build.get('partitions', {})});"
            f" `ccelt transform --full-refresh` took {float(rebuild.get('seconds', 0)):,.1f} s"
            f" ({grown.rebuild.seconds:,.1f} s with the process, peak memory"
            f" {grown.rebuild.peak_pss_mb:,.0f} MB) for"
            f" {sum(rebuild.get('rows', {}).values()):,} fact rows."]


def _chatwoot_section(runs: ChatwootRuns) -> list[str]:
    backfill = runs.by_endpoint(runs.backfill)
    return [
        "", f"## Chatwoot at {runs.rate:g} requests/s", "",
        f"Account: {runs.conversations:,} conversations over 30 days (two threads of a few hundred"
        " messages), allowing 50 requests/s; `ccelt run chatwoot --no-transform` with a budget of"
        f" {runs.rate:g} requests/s. Backfill: {runs.backfill.seconds:,.1f} s wall,"
        f" {runs.backfill_requests:,} requests ("
        + ", ".join(f"`{path}` {count:,}" for path, count in backfill.items())
        + f"), floor {runs.backfill_floor:,} (every list page, and one request per thread of up"
        " to 1,000 messages), peak memory"
        f" {runs.backfill.peak_pss_mb:,.0f} MB. Then a run with nothing changed:"
        f" {runs.unchanged.seconds:,.1f} s, {runs.unchanged_requests} requests, floor"
        f" {runs.unchanged_floor}.",
    ]


def _alvaria_section(runs: AlvariaRuns) -> list[str]:
    def line(name: str, snapshot: object) -> str:
        from benchmarks.alvaria import Snapshot
        assert isinstance(snapshot, Snapshot)
        return (f"| {name} | {snapshot.total_items:,} | {snapshot.captured:,} | {snapshot.requests}"
                f" | {snapshot.floor} | {snapshot.passes} | {snapshot.relinked}"
                f" | {'yes' if snapshot.consistent else 'no'} |")

    out = ["", f"## Alvaria snapshots at a cap of {runs.page_cap}", "",
           f"Organisation: about {runs.emails:,} active e-mails, pages capped at {runs.page_cap}"
           f" whatever `maxResults` asks; {len(runs.quiet)} runs of `ccelt run alvaria"
           " --no-transform` per condition (the first is the backfill). Standing still: nothing"
           " changes. Moving: after every page served, two changes"
           " anywhere and one completion and one arrival ahead of the page. Each run took"
           f" {runs.seconds_per_run:,.1f} s on average with the process.", "",
           "| run | reported | captured | requests | floor | passes | pages re-read | consistent |",
           "|---|---|---|---|---|---|---|---|"]
    out += [line(f"standing still {i + 1}", s) for i, s in enumerate(runs.quiet)]
    out += [line(f"moving {i + 1}", s) for i, s in enumerate(runs.churning)]
    return out


def _headerless_section(bare: Headerless) -> list[str]:
    def paths(run: object) -> str:
        from benchmarks.harness import Finished
        assert isinstance(run, Finished)
        return ", ".join(f"`{path}` {count}" for path, count in sorted(bare.by_path(run).items()))

    return ["", "## Without paging headers", "",
            f"Tenant: {bare.shape.describe()}, served with no `Total`, `Per-Page` or `Link`"
            " header and no rate limit. `ccelt run ujet --no-transform`: the backfill took"
            f" {bare.backfill_requests:,} requests against a floor of {bare.floor:,} (each paged"
            f" list's pages plus one, and the one-shot reads): {paths(bare.backfill)}. Then a run"
            f" with nothing changed: {int((bare.unchanged.report or {})['requests'])} requests:"
            f" {paths(bare.unchanged)}."]


def _genesys_section(listen: GenesysListen) -> list[str]:
    tenths = listen.run.peak_by_tenth()
    return ["", "## Genesys: latency and memory of a long listen", "",
            f"The sandbox GWS site (in the benchmark's process) changed its world"
            f" {listen.per_second:g} times a second, one notification each; `ccelt run genesys"
            f" --duration {listen.seconds:g} --no-transform` listened in its own process and"
            f" loaded every {LOAD_EVERY:g} s. Latency: `_dlt_loads.inserted_at` of the load that"
            " carried a notification minus the moment the server wrote it (no reader polls the"
            f" warehouse). {listen.loaded:,} of {listen.delivered:,} notifications delivered were"
            f" loaded; median {listen.median:.2f} s, 95th percentile"
            f" {listen.percentile(0.95):.2f} s, 99th {listen.percentile(0.99):.2f} s, max"
            f" {max(listen.latencies or [0]):.2f} s. The process took"
            f" {listen.run.cpu_seconds:,.0f} s of CPU in {listen.run.seconds:,.0f} s.", "",
            "Peak PSS (MB) in each tenth of the run:", "",
            "| " + " | ".join(f"{i + 1}/10" for i in range(len(tenths))) + " |",
            "|" + "---|" * len(tenths),
            "| " + " | ".join(f"{t:,.0f}" for t in tenths) + " |"]
