"""`ccelt sandbox chatwoot`: the switches of the fake Chatwoot account, and serving it."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Serve a generated Chatwoot account until interrupted. Switches"
                          " reproduce what real accounts do to clients.")
    parser.add_argument("--port", type=int, default=8766, help="port on 127.0.0.1")
    parser.add_argument("--token", default=argparse.SUPPRESS,
                        help="api_access_token to accept (random when not given)")
    parser.add_argument("--seed", type=int, default=7, help="makes the generated data repeatable")
    parser.add_argument("--days", type=float, default=14, help="days of history")
    parser.add_argument("--conversations", type=int, default=120, help="conversations generated")
    parser.add_argument("--agents", type=int, default=8, help="agents generated")
    parser.add_argument("--requests-per-second", type=float, default=50.0,
                        help="requests allowed per second, answered with 429 beyond"
                             " (Chatwoot Cloud: 3,000 a minute; 0 for none)")
    parser.add_argument("--churn", type=int, default=0,
                        help="changes agents make after every page of the conversation list:"
                             " new messages, status, label and attribute changes, receipts,"
                             " deletions, SLA misses, new conversations")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="share of requests answered with 5xx or truncated bodies")


def serve(args: argparse.Namespace) -> int:
    """Serves the account the switches describe until interrupted; returns the exit code."""
    from sources.chatwoot.sandbox.account import Account, AccountSize
    from sources.chatwoot.sandbox.server import SandboxOptions, SandboxServer

    options = SandboxOptions(requests_per_second=args.requests_per_second or None,
                             churn_per_request=args.churn, fault_rate=args.fault_rate,
                             seed=args.seed)
    if getattr(args, "token", None):
        options.api_access_token = args.token
    account = Account(seed=args.seed, size=AccountSize(days=args.days,
                                                       conversations=args.conversations,
                                                       agents=args.agents))
    server = SandboxServer(account, options, port=args.port)
    print(f"Chatwoot sandbox account {account.account_id} on {server.base_url}\n"
          f"  api_access_token: {options.api_access_token}\n"
          "Point ccelt at it:\n"
          f"  export SOURCES__CHATWOOT__BASE_URL={server.base_url}"
          f" SOURCES__CHATWOOT__ACCOUNT_ID={account.account_id}"
          f" SOURCES__CHATWOOT__API_ACCESS_TOKEN={options.api_access_token}"
          "\n"
          "  ccelt run chatwoot\n"
          "Ctrl-C stops it.", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0
