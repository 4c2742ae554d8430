"""`make bench`: measure every target of issue 6 and write docs/benchmarks.md.

    python -m benchmarks            # full: the targets' sizes (about an hour on 2 cores)
    python -m benchmarks --quick    # smaller tenants, a few minutes
    python -m benchmarks --only 1,3 # some measures (1 and 2 share their runs, as do 4 to 6;
                                    # 7 is the Chatwoot source, 8 Alvaria,
                                    # 9 UJET without paging headers,
                                    # 10 Genesys latency and memory: an hour)

Benchmarks are not tests: nothing here fails on a slow machine; a target not met is
reported as such, with the numbers behind it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from benchmarks.alvaria import alvaria_runs
from benchmarks.chatwoot import chatwoot_runs
from benchmarks.genesys import genesys_listen
from benchmarks.harness import PROJECT_ROOT, machine
from benchmarks.report import markdown, table
from benchmarks.suite import Plan, headerless, measures, rate_limited_backfill, scale, throughput

RESULTS = PROJECT_ROOT / "docs" / "benchmarks.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller tenants: a few minutes")
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8,9,10",
                        help="comma-separated target numbers to measure (default: all)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help=f"where to write the results (default: {RESULTS})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    wanted = {int(n) for n in args.only.split(",") if n.strip()}
    plan = Plan.for_mode(args.quick)
    started = time.monotonic()

    backfills = ([rate_limited_backfill(rate, requests)
                  for rate, requests in plan.backfill_requests.items()]
                 if wanted & {1, 2} else [])
    speed = throughput(plan.throughput) if 3 in wanted else None
    grown = scale(*plan.scale) if wanted & {4, 5, 6} else None
    chatwoot = chatwoot_runs(*plan.chatwoot) if 7 in wanted else None
    alvaria = alvaria_runs(*plan.alvaria) if 8 in wanted else None
    bare = headerless(plan.headerless) if 9 in wanted else None
    listen = genesys_listen(*plan.genesys) if 10 in wanted else None

    rows = measures(backfills, speed, grown, chatwoot, alvaria, bare, listen)
    print(table(rows))
    args.output.write_text(markdown(rows, machine(), args.quick, time.monotonic() - started,
                                    backfills, speed, grown, chatwoot, alvaria, bare, listen))
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
