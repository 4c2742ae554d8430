"""`ccelt`: run pipelines, the demo, and sandbox tenants. Parses, calls, reports.

Exit codes: 0 success, 1 the run failed, 2 bad configuration or arguments, 3 the vendor
refused the credentials, 4 the data was loaded and built but breaks a data test, 5 the
warehouse could not be reached (or its DuckDB file is locked), 6 another run of the pipeline
is in progress, 7 the warehouse rejected a load package (aborted, cursors rewound), 130 and
143 stopped cleanly by SIGINT and SIGTERM (what was loaded is kept).
docs/operations.md says what each means and what to do.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Optional
from urllib.parse import urlsplit

from pipelines.lock import RunInProgress, run_lock
from pipelines.memory import limit_malloc_arenas
from pipelines.privacy import no_telemetry_unless_asked
from pipelines.progress_bar import live_progress
from pipelines.summary import format_summary, summary_record
from pipelines.registry import SOURCES
from pipelines.registry import instance as registry_instance
from pipelines.runner import PackageRejected
from pipelines.warehouse import (
    WarehouseSettingError,
    WarehouseUnreachable,
    facts_pipeline,
    unreachable,
    warehouse_destination,
)
from sources.kit.errors import AuthenticationError, ConfigurationError, HttpError, SourceError
from transforms.runner import DataTestFailed
from transforms.settings import SettingsError, load_settings

_DEBUG = False
_JSON = False
"""`--log-format json`: the CLI's own messages on stderr are JSON lines too."""
EXIT_FAILED, EXIT_CONFIG, EXIT_AUTH, EXIT_DATA, EXIT_WAREHOUSE, EXIT_BUSY, EXIT_REJECTED = range(1, 8)
logger = logging.getLogger("ccelt")


def main(argv: Optional[Sequence[str]] = None) -> int:
    limit_malloc_arenas()   # first: it applies to the threads started after it
    no_telemetry_unless_asked()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_CONFIG
    redactor = _configure_logging("DEBUG" if args.debug else args.log_level, args.log_format)
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
    parser.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="log lines for people (text, default) or one JSON object per"
                             " line for schedulers and log shippers (json)")
    parser.add_argument("--debug", action="store_true",
                        help="log everything and print the full traceback of a failure")
    parser.add_argument("--version", action="version", version=f"ccelt {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="load a source into the warehouse",
        description="Load a source's tenant into the warehouse configured as"
                    " [destination.warehouse]. Safe to schedule every few minutes. Sources: "
                    + "; ".join(f"{spec.name} ({spec.title})" for spec in SOURCES.values()))
    run.add_argument("--all", action="store_true",
                     help="run every configured source and tenant at once, each in its own"
                          " process with its own lock and budget; one summary; the exit code"
                          " is the highest of theirs")
    run.add_argument("--no-transform", dest="all_no_transform", action="store_true",
                     help="with --all: load only")
    run.add_argument("--destination", dest="all_destination", metavar="TYPE", default=None,
                     help="with --all: load this engine instead of the configured warehouse")
    run.set_defaults(handler=_run_all)
    run_sources = run.add_subparsers(title="sources", metavar="SOURCE")
    for spec in SOURCES.values():
        env = f"SOURCES__{spec.name.upper()}__{spec.secrets[0].upper()}"
        run_source = run_sources.add_parser(
            spec.name, help=spec.title,
            description=f"{spec.summary} Settings come from .dlt/config.toml and"
                        f" .dlt/secrets.toml under [sources.{spec.name}], or from environment"
                        f" variables such as {env}.")
        run_source.add_argument("--tenant", default=None, metavar="NAME",
                                help=f"run one of several tenants: reads sources.{spec.name}.NAME.*"
                                     f" first, then sources.{spec.name}.*; pipeline and raw dataset"
                                     f" {spec.name}_NAME (default: no tenant, {spec.name})")
        run_source.add_argument("--resources", type=_csv, default=None, metavar="NAMES",
                                help="comma-separated resources to load (default: all)")
        run_source.add_argument("--no-transform", action="store_true",
                                help="load only; do not rebuild the contact_center tables afterwards")
        run_source.add_argument("--destination", metavar="TYPE", default=None,
                                help="load this engine instead of the configured warehouse, for"
                                     " one run: duckdb, postgres, bigquery, motherduck; its"
                                     " credentials come from DESTINATION__<TYPE>__CREDENTIALS")
        run_source.add_argument("--no-progress", action="store_true",
                                help="no live status line on a terminal (log lines only)")
        run_source.add_argument("--report", metavar="FILE", default=None,
                                help="also write the run's summary as JSON to FILE, for monitoring")
        if spec.listens:
            run_source.add_argument(
                "--duration", type=_seconds, default=DEFAULT_LISTEN_SECONDS, metavar="S",
                help="seconds to listen before loading what was received and stopping"
                     f" (default: {DEFAULT_LISTEN_SECONDS:g}); `ccelt listen {spec.name}` listens"
                     " until SIGTERM or SIGINT")
        run_source.set_defaults(handler=_run, source=spec.name, listening=False)

    listen = commands.add_parser(
        "listen", help="receive a push source's notifications until stopped (a service)",
        description="Listen to a source that pushes notifications, loading them every few"
                    " seconds, until SIGTERM or SIGINT; then load what was received and exit 0."
                    " Run it as a service (docs/operations.md).")
    listen_sources = listen.add_subparsers(title="sources", metavar="SOURCE")
    for spec in SOURCES.values():
        if not spec.listens:
            continue
        listen_source = listen_sources.add_parser(spec.name, help=spec.title,
                                                  description=spec.summary)
        listen_source.add_argument("--tenant", default=None, metavar="NAME",
                                   help=f"listen for one of several tenants (sources.{spec.name}.NAME.*)")
        listen_source.add_argument("--no-transform", action="store_true",
                                   help="load only; do not rebuild the contact_center tables on exit")
        listen_source.add_argument("--destination", metavar="TYPE", default=None,
                                   help="load this engine instead of the configured warehouse")
        listen_source.add_argument("--report", metavar="FILE", default=None,
                                   help="also write the run's summary as JSON to FILE on exit")
        listen_source.set_defaults(handler=_run, source=spec.name, listening=True, duration=None,
                                   resources=None, no_progress=True)

    check = commands.add_parser(
        "check", help="check the configuration, the API and the warehouse; load nothing",
        description="Validate a source's settings and reach its API and the warehouse with one"
                    " cheap request each, loading nothing. Exit codes as for run.")
    check.add_argument("source", nargs="?", choices=list(SOURCES), metavar="SOURCE",
                       help="the source to check (default: every configured source, or every source"
                            f" when none is: {', '.join(SOURCES)})")
    check.add_argument("--tenant", default=None, metavar="NAME", help="check one tenant")
    check.add_argument("--destination", metavar="TYPE", default=None,
                       help="check this engine instead of the configured warehouse")
    check.set_defaults(handler=_check)

    transform = commands.add_parser(
        "transform", help="rebuild the contact_center tables from what was loaded",
        description="Bring the contact_center dataset (fct_*, dim_*) up to date with the loaded"
                    " data of every source: incrementally where possible, fully when the models or"
                    " transforms.reporting_timezone changed. Runs the data tests afterwards.")
    transform.add_argument("--full-refresh", action="store_true",
                           help="rebuild every table from scratch")
    transform.add_argument("--destination", metavar="TYPE", default=None,
                           help="build in this engine instead of the configured warehouse")
    transform.add_argument("--report", metavar="FILE", default=None,
                           help="also write the build's summary as JSON to FILE")
    transform.set_defaults(handler=_transform)

    catalog = commands.add_parser(
        "catalog", help="write the table catalog (docs/catalog.md) from what ccelt writes",
        description="Load each source's sandbox tenant into a throwaway DuckDB file, build the"
                    " facts, and describe every table, column, type, key and join as Markdown"
                    " with Mermaid diagrams. Touches no real tenant or warehouse.")
    catalog.add_argument("--out", default="docs/catalog.md", help="the Markdown file to write")
    catalog.set_defaults(handler=_catalog)

    report = commands.add_parser(
        "report", help="write the facts as one HTML file of charts and tables",
        description="Write one self-contained HTML file (no script, style or font fetched from"
                    " anywhere) from the contact_center facts of the warehouse configured as"
                    " [destination.warehouse]: service level and volume per queue, contacts per"
                    " channel and source, handle time per agent, status time, backlog, and the"
                    " busiest queues and agents.")
    report.add_argument("--out", default="report.html", help="the HTML file to write"
                        " (default: report.html)")
    report.add_argument("--days", type=_days, default=14,
                        help="local days to show, ending at the last day with data (default: 14)")
    report.add_argument("--source", action="append", default=None, metavar="NAME",
                        help="only this source instance (ujet, ujet_acme, chatwoot, ...);"
                             " repeat for several (default: all)")
    report.add_argument("--destination", metavar="TYPE", default=None,
                        help="read this engine instead of the configured warehouse")
    report.set_defaults(handler=_report)

    demo = commands.add_parser(
        "demo", help="load a local sandbox tenant into ccelt_demo.duckdb and show the result",
        description="Start each source's sandbox tenant on 127.0.0.1, backfill it into"
                    " ccelt_demo.duckdb, let the tenant work for a moment, run again"
                    " incrementally, and print what was loaded. Touches no real tenant.")
    demo.add_argument("--database", default="ccelt_demo.duckdb", help="DuckDB file to write")
    demo.set_defaults(handler=_demo)

    sandbox = commands.add_parser("sandbox", help="serve a fake vendor tenant on 127.0.0.1")
    sandbox_sources = sandbox.add_subparsers(title="sources", metavar="SOURCE")
    for spec in SOURCES.values():
        sandbox_source = sandbox_sources.add_parser(
            spec.name, help=f"a fake {spec.title} tenant speaking its documented API",
            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        spec.sandbox_module().add_arguments(sandbox_source)
        sandbox_source.set_defaults(handler=_sandbox, source=spec.name)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ccelt")
    except PackageNotFoundError:   # run from a checkout that was never installed
        return "unknown (not installed)"


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# -- commands ------------------------------------------------------------------------------
def _run(args: argparse.Namespace, redactor: _Redactor) -> int:
    from pipelines.runner import run_source

    verb = "listen" if args.listening else "run"
    command = f"ccelt {verb} {args.source}" + (f" --tenant {args.tenant}" if args.tenant else "")

    interrupt = threading.Event()

    def run() -> None:
        instance = registry_instance(args.source, args.tenant)
        _CONTEXT["instance"] = instance
        redactor.add_source_secrets(instance)
        redactor.add_warehouse_password(args.destination)
        _clear_report(args.report)
        settings = None if args.no_transform else load_settings()
        destination = warehouse_destination(args.destination)
        try:
            with _stopping_cleanly(interrupt, command), \
                    live_progress(sys.stderr, enabled=not _JSON and not args.no_progress):
                listening = {"listen_seconds": args.duration} if instance.spec.listens else None
                summary = run_source(instance, destination=destination,
                                     resources=args.resources, transform=settings,
                                     interrupt=interrupt, source_args=listening)
        except DataTestFailed as failed:
            # loaded and built: the report says so, and the exit code says the tests failed
            if hasattr(failed, "summary"):
                _write_report(args.report, summary_record(failed.summary))
            raise
        _write_report(args.report, summary_record(summary))
        print(format_summary(summary))
        if summary.interrupted and args.listening:
            # a signal is how a listener is stopped: what it received is loaded
            _tell(f"{command} stopped by {_SIGNALS[interrupt.signum]}: everything received was"  # type: ignore[attr-defined]
                  f" loaded ({sum(summary.rows.values()):,} rows in {summary.slices} slice(s))",
                  "INFO")
            return
        if summary.interrupted:
            rows = sum(summary.rows.values())
            _tell(f"{command} interrupted by {_SIGNALS[interrupt.signum]}: kept {rows:,} rows"  # type: ignore[attr-defined]
                  f" in {summary.slices} slice(s), loaded with their cursors; the next run"
                  " continues from there", "WARNING")
            raise _Interrupted(interrupt.signum)  # type: ignore[attr-defined]

    return _report_failures(redactor, command, run)


_SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
DEFAULT_LISTEN_SECONDS = 60.0
"""How long `ccelt run <push source>` listens without `--duration`."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive seconds, got {text!r}")
    return value


class _Abandoned(KeyboardInterrupt):
    """A second signal: stop at once, abandoning the load under way (a KeyboardInterrupt, so
    that nothing on the way up mistakes it for a failure to report)."""

    def __init__(self, signum: int) -> None:
        super().__init__(_SIGNALS.get(signum, str(signum)))
        self.signum = signum


class _Interrupted(Exception):
    """The run stopped cleanly on a signal; the exit code says which (128 + its number)."""

    def __init__(self, signum: int) -> None:
        super().__init__(_SIGNALS.get(signum, str(signum)))
        self.signum = signum


@contextmanager
def _stopping_cleanly(interrupt: threading.Event, command: str) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM (schedulers, systemd) stop a run cleanly: the first one
    sets `interrupt`, so fetching stops and the slice taken so far is loaded with its
    cursors; a second one abandons that load at once (its package is kept, and the next run
    loads it first)."""
    def handle(signum: int, frame: Any) -> None:
        if interrupt.is_set():
            raise _Abandoned(signum)
        interrupt.signum = signum  # type: ignore[attr-defined]
        interrupt.set()
        logger.warning("%s: %s received; stopping: loading what was fetched so far (send it"
                       " again to stop at once)", command, _SIGNALS.get(signum, signum))

    previous = {number: signal.signal(number, handle) for number in _SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _run_all(args: argparse.Namespace, redactor: _Redactor) -> int:
    import dlt

    from pipelines.run_all import configured_instances, run_all

    if not args.all:
        _parser().parse_args(["run", "--help"])    # prints the help and exits
    found = configured_instances(dlt.config.get("sources") or {}, os.environ)
    if not found:
        _tell("ccelt run --all: no source is configured (no [sources.<name>] section in"
              " .dlt/config.toml or .dlt/secrets.toml, and no SOURCES__<NAME>__... variable);"
              f" sources: {', '.join(SOURCES)}", "ERROR")
        return EXIT_CONFIG
    extra = (["--no-transform"] if args.all_no_transform else []) + (
        ["--destination", args.all_destination] if args.all_destination else [])
    logger.info("running %s", ", ".join(i.name for i in found))
    own = [sys.executable, "-m", "pipelines.cli", "--log-level",
           "DEBUG" if args.debug else args.log_level, "--log-format", args.log_format]
    from pipelines.warehouse import engine

    parallel = engine(warehouse_destination(args.all_destination)) != "duckdb"
    code, summary = run_all(found, extra, own, parallel=parallel)
    print(summary)
    return code


def _check(args: argparse.Namespace, redactor: _Redactor) -> int:
    from pipelines.warehouse import check_warehouse

    import dlt

    from pipelines.run_all import configured_instances

    if args.source:
        instances = [registry_instance(args.source, args.tenant)]
    else:
        # every source the configuration sets up; with none, every source, so that the
        # messages name the keys to set
        instances = (configured_instances(dlt.config.get("sources") or {}, os.environ)
                     or [registry_instance(name, args.tenant) for name in SOURCES])
    command = "ccelt check" + (f" {args.source}" if args.source else "")

    def run() -> None:
        for instance in instances:
            _CONTEXT["instance"] = instance
            redactor.add_source_secrets(instance)
            print(f"{instance.name}: {instance.check()}")
        redactor.add_warehouse_password(args.destination)
        print(f"warehouse: {check_warehouse(warehouse_destination(args.destination))}")

    return _report_failures(redactor, command, run)


def _transform(args: argparse.Namespace, redactor: _Redactor) -> int:
    from dlt.common.pipeline import get_dlt_pipelines_dir

    from pipelines.lock import BUILD_LOCK
    from pipelines.summary import build_record, format_build
    from transforms.runner import build

    redactor.add_warehouse_password(args.destination)

    def run() -> None:
        _clear_report(args.report)
        settings = load_settings()
        destination = warehouse_destination(args.destination)
        with run_lock(get_dlt_pipelines_dir(), BUILD_LOCK):
            pipeline = facts_pipeline(destination, settings.dataset, BUILD_LOCK)
            try:
                result = build(pipeline, settings, full_refresh=args.full_refresh)
            except Exception as exc:
                raise unreachable(exc, destination) or exc from exc
        _write_report(args.report, build_record(result))
        print(format_build(result, settings))

    return _report_failures(redactor, "ccelt transform", run)


def _catalog(args: argparse.Namespace, redactor: _Redactor) -> int:
    from pathlib import Path

    from pipelines.catalog import write_catalog

    return _report_failures(redactor, "ccelt catalog", lambda: write_catalog(Path(args.out)))


def _report(args: argparse.Namespace, redactor: _Redactor) -> int:
    from pathlib import Path

    from pipelines.lock import BUILD_LOCK
    from pipelines.report import write_report
    from pipelines.warehouse import describe

    redactor.add_warehouse_password(args.destination)

    def run() -> None:
        settings = load_settings()
        destination = warehouse_destination(args.destination)
        pipeline = facts_pipeline(destination, settings.dataset, BUILD_LOCK)
        out = Path(args.out)
        try:
            facts = write_report(pipeline, settings, out, args.days, args.source,
                                 describe(destination))
        except Exception as exc:
            raise unreachable(exc, destination) or exc from exc
        print(f"report of {facts.first_day} to {facts.last_day}"
              f" ({', '.join(facts.sources) or 'no sources'}) written to {out.resolve()}")

    return _report_failures(redactor, "ccelt report", run)


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not 1 <= value <= 366:
        raise argparse.ArgumentTypeError(f"must be 1 to 366 days, got {value}")
    return value


def _demo(args: argparse.Namespace, redactor: _Redactor) -> int:
    from pipelines.demo import run_demo

    return _report_failures(redactor, "ccelt demo", lambda: run_demo(args.database, print))


def _sandbox(args: argparse.Namespace, redactor: _Redactor) -> int:
    result: int = SOURCES[args.source].sandbox_module().serve(args)
    return result


def _clear_report(path: Optional[str]) -> None:
    """An old report must not pass for this run's: a failed run leaves none."""
    if path and os.path.exists(path):
        os.remove(path)


def _write_report(path: Optional[str], record: dict[str, Any]) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as report:
            json.dump(record, report, indent=2, default=str)


def _tell(message: str, level: str) -> None:
    """A message of the CLI's own on stderr: a line of text, or a JSON object under
    `--log-format json` (so a log shipper reads every line)."""
    if _JSON:
        message = json.dumps({"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                              "level": level, "logger": "ccelt", "message": message},
                             ensure_ascii=False)
    print(message, file=sys.stderr)


def _report_failures(redactor: _Redactor, command: str, action: Callable[[], Any]) -> int:
    """Runs `action`; turns failures into one clear, secret-free message and an exit code."""
    try:
        action()
        return 0
    except KeyboardInterrupt as stopped:
        # a second signal (or Ctrl-C outside a run): the load under way was abandoned
        _tell(f"{command} stopped at once: the slice being loaded was abandoned; its package is"
              " kept and the next run loads it first, so nothing is lost", "WARNING")
        return 128 + getattr(stopped, "signum", signal.SIGINT)
    except Exception as exc:  # noqa: BLE001 (the CLI is where failures become messages)
        code, message = _explain(exc)
        if not message:
            return code
        if _DEBUG:
            import traceback

            print(redactor.redact("".join(traceback.format_exception(exc))), file=sys.stderr)
        _tell(redactor.redact(f"{command} failed: {message}"), "ERROR")
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
        return EXIT_CONFIG, _missing_configuration(missing)
    if wrong_type := first(ConfigValueCannotBeCoercedException):
        key = wrong_type.field_name
        instance = _CONTEXT.get("instance")
        if instance is not None and key in instance.spec.settings + instance.spec.secrets:
            key = f"{instance.key(key)} ({instance.env(key)})"
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
    if stopped := first(_Interrupted):
        return 128 + stopped.signum, ""
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


_CONTEXT: dict[str, Any] = {}
"""The source instance the command runs, once known, to name its settings in messages."""


def _missing_configuration(missing: Any) -> str:
    """Names every missing key exactly, with the environment variable that sets it."""
    instance = _CONTEXT.get("instance")
    fields = list(missing.fields)
    if instance is not None and all(f in instance.spec.settings + instance.spec.secrets
                                    for f in fields):
        keys = ", ".join(instance.keys(f) for f in fields)
        envs = ", ".join(instance.env(f) for f in fields)
        where = " (secrets in .dlt/secrets.toml)" if any(
            f in instance.spec.secrets for f in fields) else ""
        return (f"missing configuration: {keys}. Set it in .dlt/config.toml{where} or as the"
                f" environment variable {envs}; see README.md, 'Connect your tenant'")
    # elsewhere (a warehouse's credentials): the most specific key dlt looked each field up at
    keys = []
    for field_name, traces in getattr(missing, "traces", {}).items():
        for trace in traces:
            nested = getattr(trace, "traces", None)
            if isinstance(nested, dict):    # a credentials object with fields of its own
                if "password" in nested and str(getattr(trace, "spec_name", "")).endswith(
                        "Credentials"):
                    section = _deepest_section(nested["password"]) or "destination.warehouse.credentials"
                    return (f"{section} has no password. dlt requires a password in a"
                            " Postgres connection string even when the server asks for none"
                            " (trust authentication): put any value there, e.g."
                            " postgresql://postgres:unused@127.0.0.1:5432/warehouse, in"
                            " .dlt/secrets.toml or DESTINATION__WAREHOUSE__CREDENTIALS")
                keys += [f"{_deepest_section(found) or field_name}.{name}"
                         for name, found in nested.items()]
                break
        else:
            section = _deepest_section(traces)
            keys.append(f"{section}.{field_name}" if section else field_name)
    return (f"missing configuration: {', '.join(keys)}. Set it in .dlt/config.toml,"
            " .dlt/secrets.toml or as an environment variable")


def _deepest_section(traces: Any) -> str:
    """The most specific config section among dlt's lookup traces, e.g.
    `destination.warehouse.credentials`."""
    sections = [list(t.sections) for t in traces if hasattr(t, "sections")]
    return ".".join(max(sections, key=len)) if sections else ""


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

    def add_source_secrets(self, instance: Any) -> None:
        """Every secret setting of the source instance, and its basic-auth header forms."""
        user_setting = instance.spec.basic_auth_user
        username = instance.config(user_setting) if user_setting else None
        for setting in instance.spec.secrets:
            value = instance.secret(setting)
            if isinstance(value, dict):
                for item in value.values():
                    self.add(str(item))
            elif value is not None:
                self.add(str(value), username)

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


class _JsonLines(logging.Formatter):
    """One JSON object per log line: time (UTC, ISO 8601), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _configure_logging(level: str, log_format: str = "text") -> _Redactor:
    global _JSON
    _JSON = log_format == "json"
    redactor = _Redactor()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines() if _JSON else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"))
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
