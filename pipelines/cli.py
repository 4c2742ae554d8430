"""`ccelt`: run pipelines, the demo, and sandbox tenants. Parses, calls, reports.

Exit codes: 0 success, 1 the run failed, 2 bad configuration or arguments, 3 the vendor
refused the credentials, 4 the data was loaded and built but breaks a data test, 5 the
warehouse could not be reached (or its DuckDB file is locked), 6 another run of the pipeline
is in progress, 7 the warehouse rejected a load package (aborted, cursors rewound).
docs/operations.md says what each means and what to do.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Optional
from urllib.parse import urlsplit

from pipelines.lock import RunInProgress, run_lock
from pipelines.memory import limit_malloc_arenas
from pipelines.summary import format_summary, summary_record
from pipelines.ujet import PackageRejected
from pipelines.warehouse import (
    WarehouseSettingError,
    WarehouseUnreachable,
    unreachable,
    warehouse_destination,
)
from sources.kit.errors import AuthenticationError, ConfigurationError, HttpError, SourceError
from transforms.runner import DataTestFailed
from transforms.settings import SettingsError, load_settings

_DEBUG = False
EXIT_FAILED, EXIT_CONFIG, EXIT_AUTH, EXIT_DATA, EXIT_WAREHOUSE, EXIT_BUSY, EXIT_REJECTED = range(1, 8)
logger = logging.getLogger("ccelt")


def main(argv: Optional[Sequence[str]] = None) -> int:
    limit_malloc_arenas()   # first: it applies to the threads started after it
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_CONFIG
    redactor = _configure_logging("DEBUG" if args.debug else args.log_level)
    global _DEBUG
    _DEBUG = args.debug
    try:
        result: int = args.handler(args, redactor)
        return result
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccelt",
        description="Incremental ELT for contact-center platforms into DuckDB, Postgres or BigQuery.",
    )
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="how much to log on stderr (default: INFO)")
    parser.add_argument("--debug", action="store_true",
                        help="log everything and print the full traceback of a failure")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="load a vendor's tenant into the warehouse",
        description="Load a vendor's tenant into the warehouse configured as"
                    " [destination.warehouse]. Safe to schedule every few minutes.")
    run_vendors = run.add_subparsers(title="vendors", metavar="VENDOR")
    run_ujet = run_vendors.add_parser(
        "ujet", help="UJET / Google CCAI Platform",
        description="Load every documented UJET list endpoint incrementally. Settings come"
                    " from .dlt/config.toml and .dlt/secrets.toml under [sources.ujet], or from"
                    " environment variables such as SOURCES__UJET__API_TOKEN.")
    run_ujet.add_argument("--resources", type=_csv, default=None, metavar="NAMES",
                          help="comma-separated resources to load (default: all), e.g. calls,chats")
    run_ujet.add_argument("--no-transform", action="store_true",
                          help="load only; do not rebuild the contact_center tables afterwards")
    run_ujet.add_argument("--destination", metavar="TYPE", default=None,
                          help="load this engine instead of the configured warehouse, for one"
                               " run: duckdb, postgres, bigquery, motherduck; its credentials come"
                               " from DESTINATION__<TYPE>__CREDENTIALS")
    run_ujet.add_argument("--report", metavar="FILE", default=None,
                          help="also write the run's summary as JSON to FILE, for monitoring")
    run_ujet.set_defaults(handler=_run_ujet)

    transform = commands.add_parser(
        "transform", help="rebuild the contact_center tables from what was loaded",
        description="Bring the contact_center dataset (fct_*, dim_*) up to date with the loaded"
                    " UJET data: incrementally where possible, fully when the models or"
                    " transforms.reporting_timezone changed. Runs the data tests afterwards.")
    transform.add_argument("--full-refresh", action="store_true",
                           help="rebuild every table from scratch")
    transform.add_argument("--destination", metavar="TYPE", default=None,
                           help="build in this engine instead of the configured warehouse")
    transform.add_argument("--report", metavar="FILE", default=None,
                           help="also write the build's summary as JSON to FILE")
    transform.set_defaults(handler=_transform)

    demo = commands.add_parser(
        "demo", help="load a local sandbox tenant into ccelt_demo.duckdb and show the result",
        description="Start a sandbox UJET tenant on 127.0.0.1, backfill it into"
                    " ccelt_demo.duckdb, let the tenant work for a moment, run again"
                    " incrementally, and print what was loaded. Touches no real tenant.")
    demo.add_argument("--database", default="ccelt_demo.duckdb", help="DuckDB file to write")
    demo.set_defaults(handler=_demo)

    sandbox = commands.add_parser("sandbox", help="serve a fake vendor tenant on 127.0.0.1")
    sandbox_vendors = sandbox.add_subparsers(title="vendors", metavar="VENDOR")
    sandbox_ujet = sandbox_vendors.add_parser(
        "ujet", help="a fake UJET tenant speaking the documented manager API",
        description="Serve a generated UJET tenant (plus the vendor's own sample records) until"
                    " interrupted. Switches reproduce what real tenants do to clients.")
    sandbox_ujet.add_argument("--port", type=int, default=8765)
    sandbox_ujet.add_argument("--token", default=None, help="API token to accept (default: random)")
    sandbox_ujet.add_argument("--seed", type=int, default=7, help="makes the generated data repeatable")
    sandbox_ujet.add_argument("--days", type=float, default=7, help="days of history")
    sandbox_ujet.add_argument("--calls", type=int, default=600)
    sandbox_ujet.add_argument("--chats", type=int, default=300)
    sandbox_ujet.add_argument("--emails", type=int, default=120)
    sandbox_ujet.add_argument("--agents", type=int, default=24)
    sandbox_ujet.add_argument("--requests-per-second", type=float, default=1.0,
                              help="rate limit answered with 429 (default: 1, as documented; 0 for none)")
    sandbox_ujet.add_argument("--max-per", type=int, default=100, help="silent cap on per")
    sandbox_ujet.add_argument("--exclusive-bounds", action="store_true",
                              help="treat [from]/[to] as exclusive (default: inclusive)")
    sandbox_ujet.add_argument("--no-pagination-headers", action="store_true",
                              help="send no Link, Total or Per-Page headers")
    sandbox_ujet.add_argument("--shuffle-ties", action="store_true",
                              help="return equal sort values in a new order on every request")
    sandbox_ujet.add_argument("--churn", type=int, default=0,
                              help="contacts changed after every page of calls, chats or emails")
    sandbox_ujet.add_argument("--fault-rate", type=float, default=0.0,
                              help="share of requests answered with 5xx, truncated or dropped responses")
    sandbox_ujet.add_argument("--frozen", action="store_true",
                              help="a tenant that never changes, kept compact: millions of records"
                                   " fit in memory and are served fast (benchmarks; no --churn)")
    sandbox_ujet.set_defaults(handler=_sandbox_ujet)
    return parser


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# -- commands ------------------------------------------------------------------------------
def _run_ujet(args: argparse.Namespace, redactor: _Redactor) -> int:
    import dlt

    from pipelines.ujet import run_ujet

    token: Optional[str] = dlt.secrets.get("sources.ujet.api_token")
    subdomain: Optional[str] = dlt.config.get("sources.ujet.subdomain")
    redactor.add(token, subdomain)
    redactor.add_warehouse_password(args.destination)

    def run() -> None:
        _clear_report(args.report)
        settings = None if args.no_transform else load_settings()
        destination = warehouse_destination(args.destination)
        try:
            summary = run_ujet(destination=destination, resources=args.resources,
                               transform=settings)
        except DataTestFailed as failed:
            # loaded and built: the report says so, and the exit code says the tests failed
            if hasattr(failed, "summary"):
                _write_report(args.report, summary_record(failed.summary))
            raise
        _write_report(args.report, summary_record(summary))
        print(format_summary(summary))

    return _report_failures(redactor, "ccelt run ujet", run)


def _transform(args: argparse.Namespace, redactor: _Redactor) -> int:
    import dlt
    from dlt.common.pipeline import get_dlt_pipelines_dir

    from pipelines.summary import build_record, format_build
    from pipelines.ujet import DATASET_NAME, PIPELINE_NAME
    from transforms.runner import build

    redactor.add_warehouse_password(args.destination)

    def run() -> None:
        _clear_report(args.report)
        settings = load_settings()
        destination = warehouse_destination(args.destination)
        with run_lock(get_dlt_pipelines_dir(), PIPELINE_NAME):
            pipeline = dlt.pipeline(PIPELINE_NAME, destination=destination,
                                    dataset_name=DATASET_NAME)
            try:
                result = build(pipeline, settings, full_refresh=args.full_refresh)
            except Exception as exc:
                raise unreachable(exc, destination) or exc from exc
        _write_report(args.report, build_record(result))
        print(format_build(result, settings))

    return _report_failures(redactor, "ccelt transform", run)


def _demo(args: argparse.Namespace, redactor: _Redactor) -> int:
    from pipelines.demo import run_demo

    return _report_failures(redactor, "ccelt demo", lambda: run_demo(args.database, print))


def _sandbox_ujet(args: argparse.Namespace, redactor: _Redactor) -> int:
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
    if args.token:
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


def _clear_report(path: Optional[str]) -> None:
    """An old report must not pass for this run's: a failed run leaves none."""
    if path and os.path.exists(path):
        os.remove(path)


def _write_report(path: Optional[str], record: dict[str, Any]) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as report:
            json.dump(record, report, indent=2, default=str)


def _report_failures(redactor: _Redactor, command: str, action: Callable[[], Any]) -> int:
    """Runs `action`; turns failures into one clear, secret-free message and an exit code."""
    try:
        action()
        return 0
    except Exception as exc:  # noqa: BLE001 (the CLI is where failures become messages)
        code, message = _explain(exc)
        if _DEBUG:
            import traceback

            print(redactor.redact("".join(traceback.format_exception(exc))), file=sys.stderr)
        print(redactor.redact(f"{command} failed: {message}"), file=sys.stderr)
        return code


def _explain(exc: BaseException) -> tuple[int, str]:
    from dlt.common.configuration.exceptions import (
        ConfigFieldMissingException,
        ConfigValueCannotBeCoercedException,
    )
    from dlt.common.destination.exceptions import UnknownDestinationModule

    chain = _causes(exc)

    def first(kind: type[BaseException]) -> Optional[Any]:
        return next((e for e in chain if isinstance(e, kind)), None)

    if missing := first(ConfigFieldMissingException):
        keys = ", ".join(f"sources.ujet.{f}" if f in _UJET_SETTINGS + ("api_token",) else f
                         for f in missing.fields)
        return EXIT_CONFIG, (f"missing configuration: {keys}. Set it in .dlt/config.toml (the"
                             " token in .dlt/secrets.toml) or as an environment variable such as"
                             " SOURCES__UJET__SUBDOMAIN; see README.md, 'Connect your tenant'")
    if wrong_type := first(ConfigValueCannotBeCoercedException):
        key = wrong_type.field_name
        if key in _UJET_SETTINGS:
            key = f"sources.ujet.{key} (SOURCES__UJET__{key.upper()})"
        return EXIT_CONFIG, (f"the configured value of {key} is not a valid"
                             f" {getattr(wrong_type.hint, '__name__', wrong_type.hint)}")
    if unknown_engine := first(UnknownDestinationModule):
        return EXIT_CONFIG, (f"unknown warehouse engine {getattr(unknown_engine, 'ref', '')!r} in"
                             " destination.warehouse.destination_type (or --destination): use"
                             " duckdb, postgres, bigquery or motherduck; see docs/destinations.md")
    if invalid := (first(ConfigurationError) or first(SettingsError)
                   or first(WarehouseSettingError)):
        return EXIT_CONFIG, str(invalid)
    if broken := first(DataTestFailed):
        loaded = getattr(broken, "summary", None)
        prefix = f"{format_summary(loaded)}\n" if loaded else ""
        return EXIT_DATA, f"{prefix}the tables were built, but {broken}"
    if down := first(WarehouseUnreachable):
        return EXIT_WAREHOUSE, str(down)
    if busy := first(RunInProgress):
        return EXIT_BUSY, str(busy)
    if rejected := first(PackageRejected):
        return EXIT_REJECTED, str(rejected)
    if refused := first(AuthenticationError):
        return EXIT_AUTH, str(refused)
    if failed := first(HttpError) or first(SourceError):
        return EXIT_FAILED, str(failed)
    root = chain[-1]
    step = getattr(exc, "step", None)
    where = f" at the {step} step" if step else ""
    return EXIT_FAILED, f"{type(root).__name__}{where}: {root}"


_UJET_SETTINGS = ("subdomain", "domain", "base_url", "start_date", "requests_per_second",
                  "page_size", "lookback", "sla_minutes", "timeout", "max_attempts",
                  "retry_backoff")


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: dlt wraps source errors in PipelineStepFailed."""
    chain: list[BaseException] = []
    current: Optional[BaseException] = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        inner = getattr(current, "exception", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return chain


# -- logging -------------------------------------------------------------------------------
class _Redactor(logging.Filter):
    """Replaces secrets in log records and messages, wherever they come from."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, secret: Optional[str], username: Optional[str] = None) -> None:
        if secret and len(str(secret)) >= 4:
            self.secrets.add(str(secret))
            if username:
                # what an Authorization header would carry
                self.secrets.add(base64.b64encode(f"{username}:{secret}".encode()).decode())

    def add_warehouse_password(self, destination_type: Optional[str]) -> None:
        """The password inside a warehouse connection string, wherever it is configured."""
        import dlt

        for section in ("warehouse", destination_type):
            if not section:
                continue
            credentials: Any = dlt.secrets.get(f"destination.{section}.credentials")
            if isinstance(credentials, str) and "://" in credentials:
                self.add(urlsplit(credentials).password)
            elif isinstance(credentials, dict):
                self.add(credentials.get("password"))
                self.add(credentials.get("private_key"))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.redact(record.getMessage())
            record.args = ()
        return True


class _QuietNullColumns(logging.Filter):
    """dlt warns on every run about columns that were only ever null; they appear once a
    value arrives, so the warning is noise for a scheduled job."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "did not receive any data during this load" not in record.getMessage()


def _configure_logging(level: str) -> _Redactor:
    redactor = _Redactor()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           datefmt="%H:%M:%S"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO; our own progress lines are enough
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    dlt_logger = logging.getLogger("dlt")
    dlt_logger.addFilter(redactor)
    dlt_logger.addFilter(_QuietNullColumns())
    return redactor


if __name__ == "__main__":
    sys.exit(main())
