"""`ccelt sandbox genesys`: the switches of the fake GWS site, and serving it."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Serve a fake Genesys Workspace site (GWS API v2: Basic sign-in,"
                          " JSESSIONID and CSRF, CometD long-polling, the user's interaction"
                          " list) whose e-mail world changes while it runs. Switches reproduce"
                          " what real servers and networks do to a listener.")
    parser.add_argument("--port", type=int, default=8768, help="port on 127.0.0.1")
    parser.add_argument("--username", default="reporting.agent", help="the user to accept")
    parser.add_argument("--password", default=argparse.SUPPRESS,
                        help="password to accept (random when not given)")
    parser.add_argument("--seed", type=int, default=11, help="makes the world repeatable")
    parser.add_argument("--per-second", type=float, default=2.0,
                        help="changes in the world per second (0: none)")
    parser.add_argument("--start-with", type=int, default=20,
                        help="changes made before serving (interactions already in the list)")
    parser.add_argument("--poll-timeout", type=float, default=10.0,
                        help="seconds a connect is held when nothing is queued")
    parser.add_argument("--session-lifetime", type=float, default=0.0,
                        help="seconds a session lives before the cookie dies (0: for ever)")
    parser.add_argument("--cut-share", type=float, default=0.0,
                        help="share of connects cut without an answer (their messages lost)")
    parser.add_argument("--redeliver-share", type=float, default=0.0,
                        help="share of messages queued twice with the same id")
    parser.add_argument("--forget-every", type=int, default=0,
                        help="answer every n-th connect with 402::Unknown client")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="share of requests answered with a 503 page or a truncated body")
    parser.add_argument("--emails-share", type=float, default=0.0,
                        help="share of notifications in the 8.5.2 shape on /v2/me/emails")
    parser.add_argument("--dirty-share", type=float, default=0.0,
                        help="share of notifications with odd key case and unknown fields")


def serve(args: argparse.Namespace) -> int:
    """Serves the site the switches describe until interrupted; returns the exit code."""
    from sources.genesys.sandbox.server import SandboxOptions, SandboxServer
    from sources.genesys.sandbox.world import World, WorldOptions

    world = World(seed=args.seed, options=WorldOptions(
        emails_share=args.emails_share, dirty_share=args.dirty_share))
    options = SandboxOptions(username=args.username, poll_timeout=args.poll_timeout,
                             session_lifetime=args.session_lifetime, cut_share=args.cut_share,
                             redeliver_share=args.redeliver_share,
                             forget_every=args.forget_every, fault_rate=args.fault_rate,
                             seed=args.seed)
    if getattr(args, "password", None):
        options.password = args.password
    server = SandboxServer(world, options, port=args.port)
    world.steps(args.start_with)
    if args.per_second > 0:
        server.run_world(args.per_second)
    env = {"SOURCES__GENESYS__BASE_URL": server.base_url,
           "SOURCES__GENESYS__USERNAME": options.username,
           "SOURCES__GENESYS__PASSWORD": options.password,
           "SOURCES__GENESYS__ALLOW_INSECURE_HTTP": "true"}
    channels = '["/v2/me/interactions", "/v2/me/emails"]' if args.emails_share else None
    if channels:
        env["SOURCES__GENESYS__CHANNELS"] = channels
    print(f"Genesys sandbox site on {server.base_url} ({len(world.listed())} interactions in"
          f" the list, {args.per_second:g} changes a second)\n"
          "Point ccelt at it:\n"
          f"  export {' '.join(f'{k}={v!r}' for k, v in env.items())}\n"
          "  ccelt run genesys --duration 30     # or: ccelt listen genesys\n"
          "Ctrl-C stops it.", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0
