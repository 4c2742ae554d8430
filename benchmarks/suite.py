"""The measures of docs/benchmarks.md, each beside its target (issue 6).

1. backfill wall time ÷ (requests ÷ rate), at 1 and 10 requests/s, on runs of minutes;
2. requests ÷ floor, the floor being ⌈records ÷ page size⌉ + 1 per paged endpoint (and
   one request per query of the others);
3. local throughput with the rate limit off, against dlt's generic `rest_api` source on
   the same tenant, in the same invocation;
4. an incremental run with no changes on a warehouse of a million calls: requests per
   incremental endpoint, partitions the transforms rebuild, wall time beside a full rebuild;
5. peak memory of backfills of 100k and 1M calls;
6. the full fact rebuild over 1M calls in DuckDB;
7. the Chatwoot source: a backfill's requests against their floor and its wall time against
   requests ÷ rate, and the requests of a run with nothing changed (benchmarks/chatwoot.py).

Every number comes from real processes: a frozen sandbox tenant served over loopback in its
own process, `ccelt` as a user runs it, and the baseline as its own program.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from benchmarks.alvaria import AlvariaRuns
from benchmarks.genesys import LOAD_EVERY, GenesysListen
from benchmarks.chatwoot import ChatwootRuns
from benchmarks.harness import (
    PAGE_SIZE,
    PROJECT_ROOT,
    PYTHON,
    Finished,
    Sandbox,
    TenantShape,
    ccelt,
    ccelt_env,
    run_measured,
    workdir,
)

logger = logging.getLogger("benchmarks")

PAGED = {"calls": "calls", "chats": "chats", "emails": "emails",
         "agent_activity_logs": "agent_activity_logs", "agents": "agents", "menus": "menus",
         "teams": "teams"}
"""API path -> root table of the endpoints read page by page."""
QUERIES = {"user_statuses": 1, "menus/tree": 1, "teams/tree": 1, "agents/current_status": 1,
           "menus/current_status": 1, "menus/sla": 2, "menus/sla_by_queue_groups": 2}
"""API path -> queries per run of the endpoints documented without paging (SLA: per channel)."""
INCREMENTAL = ("calls", "chats", "emails", "agent_activity_logs")


@dataclass
class Measure:
    """One line of the results table."""

    number: int
    what: str
    target: str
    value: str
    met: Optional[bool]
    """None where the target asks only for a number to be reported."""
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """Tenant sizes for one invocation; `quick` keeps the whole suite to a few minutes."""

    quick: bool
    backfill_requests: dict[float, int]
    """Rate (requests/s) -> about how many requests the rate-limited backfill should take."""
    throughput: TenantShape
    scale: tuple[TenantShape, TenantShape]
    headerless: TenantShape = TenantShape(1_500, days=7)
    """The tenant served without paging headers (about the size the issue was measured on)."""
    chatwoot: tuple[float, int] = (10.0, 2_000)
    """Requests/s and conversations of the Chatwoot account."""
    alvaria: tuple[int, int] = (5_000, 100)
    """Active e-mails and page cap of the Alvaria organisation: n = c² / 2, the largest queue
    for which the overlapping pages stay within the floor."""
    genesys: tuple[float, float] = (3_600.0, 50.0)
    """Seconds of `ccelt run genesys` listening, and notifications per second (issue 16: an
    hour at 50 a second)."""

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, {1.0: 75, 10.0: 600}, TenantShape(5_000),
                       (TenantShape(10_000, days=3.65), TenantShape(100_000, days=36.5)),
                       chatwoot=(10.0, 300), alvaria=(1_000, 100), genesys=(120.0, 50.0))
        return cls(False, {1.0: 300, 10.0: 3_000}, TenantShape(20_000),
                   (TenantShape(100_000, days=36.5), TenantShape(1_000_000, days=365)))


def shape_for_requests(requests: int, days: float = 30) -> TenantShape:
    """A tenant whose backfill takes about `requests` requests at 100 records a page.

    Per call the tenant has 0.2 chats, 0.1 emails and about 1.15 activity rows (a pickup per
    answered segment), plus about 400 shift rows a day for 50 agents.
    """
    per_call, fixed = 2.45 / PAGE_SIZE, 20 + 400 * days / PAGE_SIZE
    return TenantShape(max(500, int((requests - fixed) / per_call)), days=days)


def floor(rows: dict[str, int]) -> dict[str, int]:
    """Fewest requests a complete read can take, per API path, for these loaded rows."""
    needed = {path: math.ceil(rows.get(table, 0) / PAGE_SIZE) + 1 for path, table in PAGED.items()}
    needed.update(QUERIES)
    return needed


@dataclass
class Backfill:
    """A `ccelt run ujet` backfill and what it cost."""

    rate: float
    shape: TenantShape
    run: Finished

    @property
    def summary(self) -> dict[str, Any]:
        assert self.run.report is not None
        return self.run.report

    @property
    def requests(self) -> int:
        return int(self.summary["requests"])

    @property
    def floor(self) -> dict[str, int]:
        return floor(self.summary["rows"])

    @property
    def ideal_seconds(self) -> float:
        return self.requests / self.rate

    def breakdown(self) -> dict[str, float]:
        """Where the wall time went, in seconds."""
        s = self.summary
        inside = float(s["seconds"])
        transform = float(s["transform"]["seconds"]) if s.get("transform") else 0.0
        first = float(s.get("first_request_after") or 0.0)
        last = float(s.get("last_request_after") or inside)
        return {
            "start-up (process, imports, until the first request)": self.run.seconds - inside + first,
            "fetching (first to last request)": last - first,
            "of which the rate allows": (self.requests - 1) / self.rate,
            "last slice after the last request": inside - last - transform,
            "transforms": transform,
        }


def rate_limited_backfill(rate: float, requests: int) -> Backfill:
    shape = shape_for_requests(requests, days=30 if requests > 200 else 7)
    logger.info("backfill at %g requests/s: %s", rate, shape.describe())
    with Sandbox(shape, requests_per_second=rate) as sandbox, workdir(f"rate{rate:g}") as folder:
        command, report = ccelt(folder, "run", "ujet")
        run = run_measured(command, ccelt_env(sandbox, folder, rate), PROJECT_ROOT, report)
        return Backfill(rate, shape, run.check(f"the backfill at {rate:g} requests/s"))


@dataclass
class Throughput:
    shape: TenantShape
    ccelt: Finished
    baseline: Finished
    tuned: Finished
    tuned_format: str = "jsonl"
    tuned_failures: list[str] = field(default_factory=list)
    """Why the tuned baseline could not load the tenant with jsonl, when it could not."""

    @property
    def ccelt_records(self) -> int:
        assert self.ccelt.report is not None
        return sum(self.ccelt.report["rows"].get(name, 0) for name in INCREMENTAL)

    @staticmethod
    def records_of(run: Finished) -> int:
        line = next(line for line in run.stdout.splitlines() if line.startswith("records:"))
        return int(line.split(":")[1])

    @property
    def baseline_records(self) -> int:
        return self.records_of(self.baseline)

    def per_second(self, run: Finished) -> float:
        records = self.ccelt_records if run is self.ccelt else self.records_of(run)
        return records / run.seconds

    @property
    def ratio(self) -> float:
        return self.per_second(self.ccelt) / self.per_second(self.baseline)

    @property
    def ratio_tuned(self) -> float:
        return self.per_second(self.ccelt) / self.per_second(self.tuned)


TUNED = {"BASELINE_TUNED": "1", "BASELINE_FORMAT": "jsonl", "EXTRACT__WORKERS": "8",
         "NORMALIZE__WORKERS": "2"}
"""dlt's performance guide applied: jsonl, parallelized resources, more workers."""


def throughput(shape: TenantShape) -> Throughput:
    """ccelt and dlt's rest_api (defaults, and tuned) on the same tenant, every endpoint, the
    rate limit off."""
    logger.info("throughput without a rate limit: %s", shape.describe())
    failures: list[str] = []
    file_format = ""
    with Sandbox(shape, requests_per_second=0) as sandbox:
        with workdir("throughput-ccelt") as folder:
            command, report = ccelt(folder, "run", "ujet", "--no-transform")
            # no limit: the budget must not be what is measured
            mine = run_measured(command, ccelt_env(sandbox, folder, 100_000), PROJECT_ROOT,
                                report).check("ccelt without a rate limit")
        runs: dict[str, Finished] = {}
        tunings = (("default", {}), ("tuned", TUNED), ("tuned", {**TUNED, "BASELINE_FORMAT": "parquet"}))
        for name, tuning in tunings:
            if name in runs:
                continue
            with workdir(f"throughput-{name}") as folder:
                env = {**ccelt_env(sandbox, folder, 100_000),
                       "BASELINE_BASE_URL": sandbox.base_url, "BASELINE_USERNAME": "sandbox",
                       "BASELINE_PASSWORD": sandbox.token,
                       "BASELINE_DUCKDB": str(folder / "rest_api.duckdb"),
                       "RUNTIME__LOG_LEVEL": "WARNING", **tuning}
                run = run_measured([PYTHON, "-m", "benchmarks.baseline_rest_api"], env, PROJECT_ROOT)
                if run.returncode != 0 and tuning.get("BASELINE_FORMAT") == "jsonl":
                    # dlt 1.31's DuckDB load of a jsonl file fails when a key first appears
                    # deep in the file ("has unknown key"); a user would turn to parquet, the
                    # guide's other fast format; the report says which ran
                    reason = next((line for line in reversed(run.stderr.splitlines())
                                   if "unknown key" in line), run.stderr.strip()[-300:])
                    logger.warning("the tuned baseline failed with jsonl: %s", reason[:300])
                    failures.append(reason[:300])
                    continue
                runs[name] = run.check(f"the rest_api baseline ({name})")
                if name == "tuned":
                    file_format = tuning["BASELINE_FORMAT"]
    return Throughput(shape, mine, runs["default"], runs["tuned"], file_format, failures)


@dataclass
class Scale:
    """Backfills of a smaller and a bigger tenant, and what the bigger warehouse does next."""

    small: TenantShape
    big: TenantShape
    small_backfill: Finished
    big_backfill: Finished
    first_build: Finished
    incremental: Finished
    rebuild: Finished


def scale(small: TenantShape, big: TenantShape) -> Scale:
    def backfill(shape: TenantShape, then: Optional[Callable[[Sandbox, Path], None]] = None) -> Finished:
        logger.info("backfill without a rate limit: %s", shape.describe())
        with Sandbox(shape, requests_per_second=0) as sandbox, workdir("scale") as folder:
            logger.info("sandbox generated in %.0fs", sandbox.generated_in)
            command, report = ccelt(folder, "run", "ujet", "--no-transform")
            run = run_measured(command, ccelt_env(sandbox, folder, 100_000), PROJECT_ROOT,
                               report).check(f"the backfill of {shape.describe()}")
            if then:
                then(sandbox, folder)
        return run

    small_run = backfill(small)
    later: dict[str, Finished] = {}

    def and_then(sandbox: Sandbox, folder: Path) -> None:
        env = ccelt_env(sandbox, folder, 100_000)
        logger.info("first fact build over %s", big.describe())
        command, report = ccelt(folder, "transform")
        later["build"] = run_measured(command, env, PROJECT_ROOT, report).check("the first build")
        logger.info("incremental run with no changes")
        command, report = ccelt(folder, "run", "ujet")
        later["incremental"] = run_measured(command, env, PROJECT_ROOT, report).check(
            "the incremental run")
        logger.info("full rebuild")
        command, report = ccelt(folder, "transform", "--full-refresh")
        later["rebuild"] = run_measured(command, env, PROJECT_ROOT, report).check("the rebuild")

    big_run = backfill(big, and_then)
    return Scale(small, big, small_run, big_run, later["build"], later["incremental"],
                 later["rebuild"])


ACTIVITY_WINDOWS = 2
"""Requests the activity logs need with nothing changed: one per window (docs/decisions.md)."""


def _incremental_notes(by_path: dict[str, int], partitions: int) -> list[str]:
    """Why an incremental run with no changes took more than the target, where we know."""
    notes = []
    if by_path.get("agent_activity_logs", 0) == ACTIVITY_WINDOWS and all(
            by_path.get(path, 0) <= 1 for path in INCREMENTAL if path != "agent_activity_logs"):
        notes.append(
            "`agent_activity_logs` has no `updated_at`: a row changes when it closes. So each"
            " run reads two windows, rows opened since the last run and rows closed since"
            " then that opened earlier, one request each when nothing changed. One request"
            " would need a filter UJET does not offer (`started_at` *or* `ended_at` after a"
            " time); one window alone would miss either new rows or rows closed late. Every"
            " other incremental endpoint takes one request.")
    elif any(by_path.get(path, 0) > 1 for path in INCREMENTAL):
        notes.append("An incremental endpoint took more requests than its windows: a"
                     " regression to look into (requests per endpoint are in the section below).")
    if partitions:
        notes.append(f"The transforms rebuilt {partitions} partitions with nothing changed: a"
                     " regression to look into.")
    return notes


def _memory_notes(grown: Scale) -> list[str]:
    """Whether the big backfill's memory climbs with its history or reaches a plateau."""
    tenths = grown.big_backfill.peak_by_tenth()
    if len(tenths) < 10:
        return []
    early, late = max(tenths[1:5]), max(tenths[5:])
    shape = ("no climb in its second half, so the peak is a bound reached early, not growth"
             " with the history" if late <= early * 1.05 else
             "it climbs in its second half: memory grows with the history, a regression to"
             " look into")
    return [f"The big backfill's peak PSS by tenth of its run was"
            f" {', '.join(f'{mb:,.0f}' for mb in tenths)} MB: {shape}. The peaks come at the"
            " end of each slice's load, when DuckDB writes the slice into its file; DuckDB's"
            " share is capped by its memory limit while loading (128 MiB), which a bigger"
            " warehouse reaches more often (docs/decisions.md, \"Memory\")."]


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


@dataclass
class Headerless:
    """A backfill and an unchanged run of a tenant whose server sends no paging headers."""

    shape: TenantShape
    backfill: Finished
    unchanged: Finished

    @property
    def backfill_requests(self) -> int:
        return int((self.backfill.report or {})["requests"])

    @property
    def floor(self) -> int:
        return sum(floor((self.backfill.report or {})["rows"]).values())

    def by_path(self, run: Finished) -> dict[str, int]:
        return dict((run.report or {}).get("requests_by_endpoint", {}))


def headerless(shape: TenantShape) -> Headerless:
    """The tenant served without `Total`, `Per-Page` or `Link` (the emails document promises
    none), read without a rate limit: a backfill, then a run with nothing changed."""
    logger.info("backfill without paging headers: %s", shape.describe())
    with Sandbox(shape, requests_per_second=0, switches=("--no-pagination-headers",)) as sandbox, \
            workdir("headerless") as folder:
        env = ccelt_env(sandbox, folder, 100_000)
        command, report = ccelt(folder, "run", "ujet", "--no-transform")
        backfill = run_measured(command, env, PROJECT_ROOT, report).check("the header-less backfill")
        command, report = ccelt(folder, "run", "ujet", "--no-transform")
        unchanged = run_measured(command, env, PROJECT_ROOT, report).check(
            "the header-less unchanged run")
    return Headerless(shape, backfill, unchanged)


def measures(backfills: list[Backfill], speed: Optional[Throughput],
             grown: Optional[Scale], chatwoot: Optional[ChatwootRuns] = None,
             alvaria: Optional[AlvariaRuns] = None,
             bare: Optional[Headerless] = None,
             listen: Optional[GenesysListen] = None) -> list[Measure]:
    """The results table: each target, what was measured, and whether it is met."""
    rows: list[Measure] = []
    for backfill in backfills:
        ratio = backfill.run.seconds / backfill.ideal_seconds
        rows.append(Measure(
            1, f"backfill wall ÷ (requests ÷ rate) at {backfill.rate:g} request/s",
            "≤ 1.10", f"{ratio:.3f} ({backfill.run.seconds:,.0f} s for {backfill.requests:,}"
                      f" requests)", ratio <= 1.10))
    for backfill in backfills:
        needed = sum(backfill.floor.values())
        ratio = backfill.requests / needed
        rows.append(Measure(
            2, f"requests ÷ floor at {backfill.rate:g} request/s", "≤ 1.02",
            f"{ratio:.3f} ({backfill.requests:,} ÷ {needed:,})", ratio <= 1.02))
    if speed is not None:
        rows.append(Measure(
            3, "throughput without rate limit, every endpoint ÷ dlt rest_api's in its defaults",
            "≥ 3", f"{speed.ratio:.2f} ({speed.per_second(speed.ccelt):,.0f} vs"
                   f" {speed.per_second(speed.baseline):,.0f} records/s)", speed.ratio >= 3))
        rows.append(Measure(
            3, f"the same ÷ dlt rest_api tuned ({speed.tuned_format}, parallelized, 8 extract /"
               " 2 normalize workers)", "≥ 1.5",
            f"{speed.ratio_tuned:.2f} ({speed.per_second(speed.ccelt):,.0f} vs"
            f" {speed.per_second(speed.tuned):,.0f} records/s)", speed.ratio_tuned >= 1.5))
    if grown is not None:
        report = grown.incremental.report or {}
        by_path = report.get("requests_by_endpoint", {})
        worst = max(by_path.get(path, 0) for path in INCREMENTAL)
        partitions = sum((report.get("transform") or {}).get("partitions", {}).values())
        rows.append(Measure(
            4, f"incremental run, no changes, {grown.big.calls:,} calls: requests per incremental"
               " endpoint; partitions rebuilt",
            "≤ 1; 0", f"{', '.join(f'{p} {by_path.get(p, 0)}' for p in INCREMENTAL)};"
                      f" {partitions}", worst <= 1 and partitions == 0,
            _incremental_notes(by_path, partitions)))
        rows.append(Measure(
            4, "incremental run wall time beside the full rebuild's", "report",
            f"{grown.incremental.seconds:,.1f} s vs {grown.rebuild.seconds:,.1f} s", None))
        small, big = grown.small_backfill.peak_pss_mb, grown.big_backfill.peak_pss_mb
        change = big / small - 1
        met = abs(change) <= 0.10 and max(small, big) < 500
        rows.append(Measure(
            5, f"peak memory, backfill of {grown.small.calls:,} vs {grown.big.calls:,} calls",
            "±10 %, < 500 MB", f"{_mb(small)} vs {_mb(big)} ({change:+.0%})", met,
            [] if met else _memory_notes(grown)))
        build = (grown.rebuild.report or {}).get("seconds", grown.rebuild.seconds)
        rows.append(Measure(
            6, f"full fact rebuild over {grown.big.calls:,} calls in DuckDB", "≤ 30 s",
            f"{float(build):,.1f} s ({grown.rebuild.seconds:,.1f} s with the process)",
            float(build) <= 30))
    if chatwoot is not None:
        ratio = chatwoot.backfill_requests / chatwoot.backfill_floor
        rows.append(Measure(
            7, f"Chatwoot backfill of {chatwoot.conversations:,} conversations: requests ÷ floor",
            "≤ 1.02", f"{ratio:.3f} ({chatwoot.backfill_requests:,} ÷ {chatwoot.backfill_floor:,})",
            ratio <= 1.02))
        rows.append(Measure(
            7, f"Chatwoot backfill wall ÷ (requests ÷ rate) at {chatwoot.rate:g} request/s",
            "≤ 1.10", f"{chatwoot.wall_ratio:.3f} ({chatwoot.backfill.seconds:,.0f} s for"
                      f" {chatwoot.backfill_requests:,} requests)", chatwoot.wall_ratio <= 1.10))
        rows.append(Measure(
            7, "Chatwoot run with nothing changed: requests (floor: the window's one answer and"
               " the watched unresolved lists' pages)",
            "= floor", f"{chatwoot.unchanged_requests} (floor {chatwoot.unchanged_floor}:"
                       f" {', '.join(f'{k} {v}' for k, v in chatwoot.by_endpoint(chatwoot.unchanged).items())})",
            chatwoot.unchanged_requests <= chatwoot.unchanged_floor))
    if alvaria is not None:
        for name, snapshots, target in (("standing still", alvaria.quiet, "≤ 1"),
                                        ("moving under every page", alvaria.churning, "report")):
            ratio = alvaria.ratio(snapshots)
            rows.append(Measure(
                8, f"Alvaria snapshot of ~{alvaria.emails:,} e-mails at a cap of"
                   f" {alvaria.page_cap}, queue {name}: requests ÷ (⌈e-mails ÷ cap⌉ + 1)",
                target, f"{ratio:.3f} ({', '.join(str(s.requests) for s in snapshots)} requests"
                        f" for floors {', '.join(str(s.floor) for s in snapshots)};"
                        f" {sum(s.consistent for s in snapshots)} of {len(snapshots)} consistent)",
                ratio <= 1 if target == "≤ 1" else None))
        rows.append(Measure(
            8, "Alvaria state stored per run, per active e-mail (compressed)", "report",
            f"{alvaria.state_bytes_per_email:,.0f} bytes", None))
    if bare is not None:
        ratio = bare.backfill_requests / bare.floor
        rows.append(Measure(
            9, f"backfill without paging headers, {bare.shape.describe()}: requests ÷ floor",
            "≤ 1.2", f"{ratio:.3f} ({bare.backfill_requests:,} ÷ {bare.floor:,})", ratio <= 1.2))
        by_path = bare.by_path(bare.unchanged)
        worst = max(by_path.get(path, 0) for path in PAGED)
        rows.append(Measure(
            9, "run with nothing changed, without paging headers: requests per paged resource",
            "≤ 2", ", ".join(f"{path} {by_path.get(path, 0)}" for path in PAGED)
            + f" (and {sum(v for k, v in by_path.items() if k not in PAGED)} for the one-shot"
              " reads)", worst <= 2))
    if listen is not None:
        p95 = listen.percentile(0.95)
        rows.append(Measure(
            10, f"Genesys notification queryable in DuckDB after the server wrote it, listening"
                f" {listen.seconds / 60:g} min at {listen.per_second:g}/s: 95th percentile",
            f"≤ {LOAD_EVERY + 2:g} s (load_every + 2)",
            f"{p95:.2f} s (median {listen.median:.2f} s, max {max(listen.latencies or [0]):.2f} s;"
            f" {listen.loaded:,} of {listen.delivered:,} delivered loaded)",
            p95 <= LOAD_EVERY + 2 and listen.loaded == listen.delivered))
        tenths = listen.run.peak_by_tenth()
        growth = (tenths[-1] - tenths[1]) / tenths[1] if len(tenths) > 1 and tenths[1] else 0.0
        rows.append(Measure(
            10, "Genesys listen: peak PSS in the last tenth of the run against the second",
            "flat (±10 %)", f"{tenths[-1]:,.0f} MB vs {tenths[1]:,.0f} MB ({growth:+.0%})"
            if len(tenths) > 1 else "too short to tell", abs(growth) <= 0.10))
    return rows
