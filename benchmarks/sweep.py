"""Which dlt and ccelt settings are fastest here: one backfill per variant, same tenant.

    python -m benchmarks.sweep                      # every variant, 100k calls, no rate limit
    python -m benchmarks.sweep --calls 20000 --only defaults,normalize-2-fork
    python -m benchmarks.sweep --rate 10 --calls 18000   # at a rate limit: wall ÷ floor

The numbers behind the settings ccelt chooses (docs/decisions.md, "Performance"). Each
variant is `ccelt run ujet --no-transform` with a few settings changed through dlt's
environment variables, against one frozen sandbox tenant, one after the other, with a
fresh warehouse and dlt folder each. Like `make bench`, this measures and never fails on a
slow result; unlike it, it is run by hand when a setting is in question.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from dataclasses import dataclass

from benchmarks.harness import (
    PROJECT_ROOT,
    Finished,
    Sandbox,
    TenantShape,
    ccelt,
    ccelt_env,
    run_measured,
    workdir,
)

logger = logging.getLogger("benchmarks")

UNLIMITED = 100_000
"""Requests/s ccelt is told it may make when the sandbox has no limit."""


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    env: dict[str, str]


def _duckdb(memory_limit: str, threads: int) -> dict[str, str]:
    return {"DESTINATION__WAREHOUSE__CREDENTIALS__GLOBAL_CONFIG":
            json.dumps({"memory_limit": memory_limit, "threads": threads})}


VARIANTS = (
    Variant("defaults", "ccelt's defaults", {}),
    Variant("normalize-2-fork", "normalize in 2 forked worker processes",
            {"NORMALIZE__WORKERS": "2", "NORMALIZE__START_METHOD": "fork"}),
    Variant("normalize-2-spawn", "normalize in 2 spawned worker processes",
            {"NORMALIZE__WORKERS": "2", "NORMALIZE__START_METHOD": "spawn"}),
    Variant("buffer-1000", "data_writer.buffer_max_items 1,000",
            {"DATA_WRITER__BUFFER_MAX_ITEMS": "1000"}),
    Variant("buffer-5000", "data_writer.buffer_max_items 5,000 (dlt's default)",
            {"DATA_WRITER__BUFFER_MAX_ITEMS": "5000"}),
    Variant("compressed", "gzip the intermediate files (dlt's default)",
            {"DATA_WRITER__DISABLE_COMPRESSION": "false"}),
    Variant("load-1", "load.workers 1", {"LOAD__WORKERS": "1"}),
    Variant("load-20", "load.workers 20 (dlt's default)", {"LOAD__WORKERS": "20"}),
    Variant("duckdb-96-1", "DuckDB 96 MiB, 1 thread while loading", _duckdb("96MiB", 1)),
    Variant("duckdb-128-2", "DuckDB 128 MiB, 2 threads while loading", _duckdb("128MiB", 2)),
    Variant("duckdb-256-2", "DuckDB 256 MiB, 2 threads while loading", _duckdb("256MiB", 2)),
    Variant("arenas-16", "glibc's own malloc arenas (8 per core) instead of 2",
            {"MALLOC_ARENA_MAX": "16"}),
    Variant("slice-5000", "slices of 5,000 rows", {"SOURCES__UJET__LOAD_EVERY_ROWS": "5000"}),
    Variant("slice-30000", "slices of 30,000 rows", {"SOURCES__UJET__LOAD_EVERY_ROWS": "30000"}),
    Variant("parquet", "parquet loader files (needs pyarrow, not a ccelt dependency)",
            {"DESTINATION__WAREHOUSE__LOADER_FILE_FORMAT": "parquet"}),
)


@dataclass
class Result:
    variant: Variant
    runs: list[Finished]

    def median(self, value: str) -> float:
        return statistics.median(float(getattr(run, value)) for run in self.runs)

    @property
    def records(self) -> int:
        report = self.runs[0].report or {}
        return sum(report.get("rows", {}).values())

    @property
    def load_retries(self) -> int:
        """Load jobs dlt retried (a transient failure, such as DuckDB out of memory)."""
        return max(run.stderr.count("Transient exception in job") for run in self.runs)

    @property
    def requests(self) -> int:
        return int((self.runs[0].report or {}).get("requests", 0))


def measure(shape: TenantShape, rate: float, variants: list[Variant], repeat: int) -> list[Result]:
    results = [Result(v, []) for v in variants]
    with Sandbox(shape, requests_per_second=rate) as sandbox:
        logger.info("sandbox generated in %.0fs: %s", sandbox.generated_in, shape.describe())
        for _ in range(repeat):   # round-robin, so drift in the machine hits every variant
            for result in results:
                with workdir(f"sweep-{result.variant.name}") as folder:
                    command, report = ccelt(folder, "run", "ujet", "--no-transform")
                    env = ccelt_env(sandbox, folder, rate or UNLIMITED, **result.variant.env)
                    run = run_measured(command, env, PROJECT_ROOT, report).check(result.variant.name)
                    result.runs.append(run)
                    logger.info("%s: %.1f s, %.0f MB", result.variant.name, run.seconds,
                                run.peak_pss_mb)
    return results


def table(results: list[Result], rate: float) -> str:
    lines = ["| variant | wall s | rows/s (all tables) | CPU s | peak PSS MB | peak RSS MB |"
             " load jobs retried |" + (" wall ÷ (requests ÷ rate) |" if rate else ""),
             "|---|---|---|---|---|---|---|" + ("---|" if rate else "")]
    for r in results:
        wall = r.median("seconds")
        line = (f"| {r.variant.what} | {wall:,.1f} | {r.records / wall:,.0f} |"
                f" {r.median('cpu_seconds'):,.1f} | {r.median('peak_pss_mb'):,.0f} |"
                f" {r.median('peak_rss_mb'):,.0f} | {r.load_retries} |")
        if rate:
            line += f" {wall / (r.requests / rate):.3f} |"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=None,
                        help="days the calls spread over (default: calls / 2,740, as in make bench)")
    parser.add_argument("--rate", type=float, default=0,
                        help="the sandbox's rate limit in requests/s (default: none)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant (the median is shown)")
    parser.add_argument("--only", default="", help="comma-separated variant names")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(wanted) - {v.name for v in VARIANTS}
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(sorted(unknown))}; known:"
                     f" {', '.join(v.name for v in VARIANTS)}")
    variants = [v for v in VARIANTS if not wanted or v.name in wanted]
    shape = TenantShape(args.calls, days=args.days or args.calls / 2_740)
    results = measure(shape, args.rate, variants, args.repeat)
    print(f"\n{shape.describe()}; rate limit {args.rate or 'none'}; median of {args.repeat}\n")
    print(table(results, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
