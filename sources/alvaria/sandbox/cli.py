"""`ccelt sandbox alvaria`: the switches of the fake Alvaria organisation, and serving it."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Serve a generated Alvaria Cloud organisation (its EmailQueue API and"
                          " an OAuth2 token endpoint) until interrupted. Switches reproduce what"
                          " a busy queue and a real gateway do to clients.")
    parser.add_argument("--port", type=int, default=8767, help="port on 127.0.0.1")
    parser.add_argument("--client-secret", default=argparse.SUPPRESS,
                        help="OAuth2 client secret to accept (random when not given)")
    parser.add_argument("--api-key", default=argparse.SUPPRESS,
                        help="x-api-key to accept (random when not given)")
    parser.add_argument("--seed", type=int, default=7, help="makes the generated data repeatable")
    parser.add_argument("--emails", type=int, default=60, help="e-mails active at the start")
    parser.add_argument("--agents", type=int, default=10, help="agents generated")
    parser.add_argument("--work-types", type=int, default=5, help="work types (queues) generated")
    parser.add_argument("--page-cap", type=int, default=100,
                        help="items a page holds at most, whatever maxResults asks (silently)")
    parser.add_argument("--token-lifetime", type=float, default=3600.0,
                        help="seconds an access token lives")
    parser.add_argument("--requests-per-second", type=float, default=20.0,
                        help="requests allowed per second, answered with 429 beyond (0 for none)")
    parser.add_argument("--churn", type=int, default=0,
                        help="changes agents make after every page served: arrivals, routing,"
                             " drafts, reviews, transfers, reassignments, completions")
    parser.add_argument("--churn-before-offset", type=int, default=0,
                        help="completions and arrivals ahead of the page just served, after"
                             " every page: what shifts a client paging by startIndex")
    parser.add_argument("--work-every", type=float, default=0.0,
                        help="seconds between changes made while nobody reads (0 for none)")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="share of requests answered with 5xx or truncated bodies")


def serve(args: argparse.Namespace) -> int:
    """Serves the organisation the switches describe until interrupted; returns the exit code."""
    import threading

    from sources.alvaria.sandbox.organisation import Organisation, OrganisationSize
    from sources.alvaria.sandbox.server import SandboxOptions, SandboxServer

    organisation = Organisation(seed=args.seed, size=OrganisationSize(
        emails=args.emails, agents=args.agents, work_types=args.work_types))
    options = SandboxOptions(page_cap=args.page_cap, token_lifetime=args.token_lifetime,
                             requests_per_second=args.requests_per_second or None,
                             churn_per_request=args.churn,
                             churn_before_offset=args.churn_before_offset,
                             fault_rate=args.fault_rate, seed=args.seed)
    if getattr(args, "client_secret", None):
        options.client_secret = args.client_secret
    if getattr(args, "api_key", None):
        options.api_key = args.api_key
    server = SandboxServer(organisation, options, port=args.port)
    stop = threading.Event()
    if args.work_every > 0:
        def work() -> None:
            while not stop.wait(args.work_every):
                organisation.churn(1)
        threading.Thread(target=work, name="alvaria-agents", daemon=True).start()
    env = {f"SOURCES__ALVARIA__{key.upper()}": value
           for key, value in server.source_args().items()}
    print(f"Alvaria sandbox organisation {organisation.org_id} on {server.origin}"
          f" ({len(organisation.active)} e-mails active)\n"
          "Point ccelt at it:\n"
          f"  export {' '.join(f'{k}={v!r}' for k, v in env.items())}\n"
          "  ccelt run alvaria\n"
          "Ctrl-C stops it.", flush=True)
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.stop()
    return 0
