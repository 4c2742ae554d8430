"""`ccelt sandbox ujet`: the switches of the fake UJET tenant, and serving it."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Serve a generated UJET tenant (plus the vendor's own sample records)"
                          " until interrupted. Switches reproduce what real tenants do to clients.")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1")
    parser.add_argument("--token", default=argparse.SUPPRESS, help="API token to accept (random when not given)")
    parser.add_argument("--seed", type=int, default=7, help="makes the generated data repeatable")
    parser.add_argument("--days", type=float, default=7, help="days of history")
    parser.add_argument("--calls", type=int, default=600, help="calls generated")
    parser.add_argument("--chats", type=int, default=300, help="chats generated")
    parser.add_argument("--emails", type=int, default=120, help="emails generated")
    parser.add_argument("--agents", type=int, default=24, help="agents generated")
    parser.add_argument("--requests-per-second", type=float, default=1.0,
                        help="rate limit answered with 429 (1 as documented; 0 for none)")
    parser.add_argument("--max-per", type=int, default=100, help="silent cap on per")
    parser.add_argument("--exclusive-bounds", action="store_true",
                        help="treat [from]/[to] as exclusive (default: inclusive)")
    parser.add_argument("--no-pagination-headers", action="store_true",
                        help="send no Link, Total or Per-Page headers")
    parser.add_argument("--shuffle-ties", action="store_true",
                        help="return equal sort values in a new order on every request")
    parser.add_argument("--churn", type=int, default=0,
                        help="contacts changed after every page of calls, chats or emails")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="share of requests answered with 5xx, truncated or dropped responses")
    parser.add_argument("--frozen", action="store_true",
                        help="a tenant that never changes, kept compact: millions of records"
                             " fit in memory and are served fast (benchmarks; no --churn)")


def serve(args: argparse.Namespace) -> int:
    """Serves the tenant the switches describe until interrupted; returns the exit code."""
    from sources.ujet.sandbox.frozen import FrozenTenant
    from sources.ujet.sandbox.server import SandboxOptions, SandboxServer
    from sources.ujet.sandbox.tenant import Tenant, TenantSize

    options = SandboxOptions(
        max_per=args.max_per,
        from_inclusive=not args.exclusive_bounds,
        to_inclusive=not args.exclusive_bounds,
        pagination_headers=not args.no_pagination_headers,
        shuffle_ties=args.shuffle_ties,
        requests_per_second=args.requests_per_second or None,
        churn_per_request=args.churn,
        fault_rate=args.fault_rate,
        seed=args.seed,
    )
    if getattr(args, "token", None):
        options.api_token = args.token
    size = TenantSize(days=args.days, agents=args.agents, calls=args.calls, chats=args.chats,
                      emails=args.emails)
    if args.frozen and args.churn:
        print("ccelt sandbox ujet: --frozen and --churn exclude each other: a frozen tenant's"
              " records never change", file=sys.stderr)
        return 2
    tenant = (FrozenTenant.generate(seed=args.seed, size=size) if args.frozen
              else Tenant(seed=args.seed, size=size))
    server = SandboxServer(tenant, options, port=args.port)
    print(f"UJET sandbox tenant on {server.base_url}\n"
          f"  subdomain: {options.subdomain}\n  api token: {options.api_token}\n"
          "Point ccelt at it:\n"
          f"  export SOURCES__UJET__SUBDOMAIN={options.subdomain}"
          f" SOURCES__UJET__API_TOKEN={options.api_token}"
          f" SOURCES__UJET__BASE_URL={server.base_url}\n"
          "  ccelt run ujet\n"
          "Ctrl-C stops it.", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0
