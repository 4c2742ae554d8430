"""Processes the benchmarks measure: a sandbox tenant, `ccelt`, and dlt's rest_api baseline.

Each runs in its own process, so its wall time and memory belong to it alone. Memory is
sampled from /proc every 0.1 s as the proportional set size (PSS) of the process and every
process it starts, so pages that forked normalize workers share with their parent count
once; the peak resident set of the main process (from wait4) is kept beside it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PAGE_SIZE = 100
"""`per` ccelt asks for and the sandbox's cap: the page size of every floor."""


@dataclass(frozen=True)
class TenantShape:
    """A sandbox tenant: `calls` over `days`, with a fifth as many chats and a tenth as many
    emails, as the demo tenant has."""

    calls: int
    days: float = 30
    agents: int = 50

    @property
    def chats(self) -> int:
        return max(1, self.calls // 5)

    @property
    def emails(self) -> int:
        return max(1, self.calls // 10)

    def arguments(self) -> list[str]:
        return ["--calls", str(self.calls), "--chats", str(self.chats), "--emails",
                str(self.emails), "--agents", str(self.agents), "--days", str(self.days)]

    def describe(self) -> str:
        return (f"{self.calls:,} calls, {self.chats:,} chats, {self.emails:,} emails over"
                f" {self.days:g} days, {self.agents} agents")


@dataclass
class Finished:
    """One finished process: how long it took, its memory, what it printed."""

    command: list[str]
    seconds: float
    peak_pss_mb: float
    """Largest sum of PSS over the process and its children, sampled every 0.1 s."""
    peak_rss_mb: float
    """Peak resident set of the main process alone (wait4)."""
    cpu_seconds: float
    """User and system CPU time of the process and the children it waited for."""
    returncode: int
    stdout: str
    stderr: str
    report: Optional[dict[str, Any]] = None
    """The JSON `--report` the command wrote, if it was asked to."""
    pss_series: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since start, PSS of the process tree in MB), every 0.1 s."""

    def peak_by_tenth(self) -> list[float]:
        """Peak PSS in each tenth of the run: flat tenths mean memory does not grow with it."""
        if not self.pss_series:
            return []
        tenths = [0.0] * 10
        for at, mb in self.pss_series:
            index = min(9, int(at / max(self.seconds, 1e-9) * 10))
            tenths[index] = max(tenths[index], mb)
        return tenths

    def check(self, what: str) -> Finished:
        if self.returncode != 0:
            raise RuntimeError(f"{what} failed with exit code {self.returncode}:\n"
                               f"{self.stderr[-4000:]}")
        return self


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        return []


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_mb(pid: int) -> float:
    """PSS of a process and all its descendants, in MB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        total += _pss_kb(current)
        pending += _children(current)
    return total / 1024


def run_measured(command: list[str], env: dict[str, str], cwd: Path,
                 report: Optional[Path] = None, timeout: float = 4 * 3600) -> Finished:
    """Runs `command` to its end, measuring wall time and memory; reads `report` after."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    err: list[str] = []
    series: list[tuple[float, float]] = []
    done = threading.Event()

    def drain(stream: IO[str], sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def sample() -> None:
        while not done.wait(0.1):
            series.append((time.monotonic() - started, tree_pss_mb(process.pid)))

    threads = [threading.Thread(target=drain, args=(process.stdout, out), daemon=True),
               threading.Thread(target=drain, args=(process.stderr, err), daemon=True),
               threading.Thread(target=sample, daemon=True)]
    for thread in threads:
        thread.start()
    deadline = threading.Timer(timeout, process.kill)
    deadline.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        deadline.cancel()
    seconds = time.monotonic() - started
    done.set()
    for thread in threads:
        thread.join(timeout=30)
    process.returncode = os.waitstatus_to_exitcode(status)
    written = json.loads(report.read_text()) if report and report.exists() else None
    return Finished(command, seconds, max((mb for _, mb in series), default=0.0),
                    usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, process.returncode,
                    "".join(out), "".join(err), written, series)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Sandbox:
    """`ccelt sandbox ujet --frozen` in its own process: the API the benchmarks read."""

    shape: TenantShape
    requests_per_second: float = 0
    """The tenant's rate limit (a token bucket without burst, the strictest reading of the
    documents); 0 for none."""
    token: str = field(default_factory=lambda: secrets.token_hex(12))
    port: int = field(default_factory=free_port)
    process: Optional[subprocess.Popen[str]] = None
    generated_in: float = 0.0
    switches: tuple[str, ...] = ()
    """More `ccelt sandbox ujet` switches, e.g. `--no-pagination-headers`."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/manager/api/v1"

    def __enter__(self) -> Sandbox:
        started = time.monotonic()
        self.process = start_sandbox(
            "ujet", ["--port", str(self.port), "--token", self.token, "--frozen",
                     "--requests-per-second", str(self.requests_per_second),
                     *self.shape.arguments(), *self.switches],
            "UJET sandbox tenant on", raised_priority=True)
        self.generated_in = time.monotonic() - started
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop_sandbox(self.process)


def start_sandbox(vendor: str, switches: list[str], banner: str,
                  raised_priority: bool = False) -> subprocess.Popen[str]:
    """`ccelt sandbox <vendor> <switches>` in its own process, once its first line (printed
    when its data is generated and it serves) contains `banner`."""
    command = [PYTHON, "-m", "pipelines.cli", "--log-level", "WARNING", "sandbox", vendor,
               *switches]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                               preexec_fn=_server_priority if raised_priority else None)
    assert process.stdout is not None
    line = process.stdout.readline()
    if banner not in line:
        process.terminate()
        raise RuntimeError(f"the {vendor} sandbox did not start: {line!r}")
    return process


def stop_sandbox(process: Optional[subprocess.Popen[str]]) -> None:
    if process:
        process.terminate()
        process.wait(timeout=60)


SERVER_NICENESS = -10


def _server_priority() -> None:
    """The sandbox stands in for a server on machines of its own. On these two cores it
    shares the CPU with the pipeline it serves, and a request that waits a few ms for the
    CPU reaches the rate limiter late, making the next one look early: 429s no real tenant
    would send. A higher priority costs ccelt little (the sandbox needs a few % of a core).
    Without the right to raise it (not root), the sandbox runs at the normal priority."""
    try:
        os.nice(SERVER_NICENESS)
    except OSError:
        pass


def server_priority_applies() -> bool:
    """Whether this process may raise the sandbox's priority (what the report says)."""
    return os.geteuid() == 0 if hasattr(os, "geteuid") else False


def read_only(database: Path) -> Any:
    """A read-only DuckDB connection to `database`, once the run's process has let go of it
    (it may hold the file for a moment after it exits)."""
    import duckdb

    for _ in range(50):
        try:
            return duckdb.connect(str(database), read_only=True)
        except duckdb.IOException:
            time.sleep(0.1)
    return duckdb.connect(str(database), read_only=True)


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A scratch folder for one pipeline's warehouse and dlt state, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"ccelt-bench-{prefix}-") as folder:
        yield Path(folder)


def ccelt_env(sandbox: Sandbox, folder: Path, requests_per_second: float,
              **extra: str) -> dict[str, str]:
    """The environment of a `ccelt` process reading `sandbox` into DuckDB in `folder`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOURCES__", "DESTINATION__", "TRANSFORMS__", "NORMALIZE__",
                                "EXTRACT__", "LOAD__", "DATA_WRITER__"))}
    env.update({
        "PYTHONPATH": str(PROJECT_ROOT),
        "DLT_DATA_DIR": str(folder / "dlt"),
        "SOURCES__UJET__SUBDOMAIN": "sandbox",
        "SOURCES__UJET__API_TOKEN": sandbox.token,
        "SOURCES__UJET__BASE_URL": sandbox.base_url,
        "SOURCES__UJET__REQUESTS_PER_SECOND": str(requests_per_second),
        "DESTINATION__WAREHOUSE__CREDENTIALS": str(folder / "warehouse.duckdb"),
    })
    env.update(extra)
    return env


def ccelt(folder: Path, *args: str) -> tuple[list[str], Path]:
    """A `ccelt` command line writing its JSON report into `folder`, and that report's path."""
    report = folder / f"report-{len(list(folder.glob('report-*')))}.json"
    return [PYTHON, "-m", "pipelines.cli", "--log-level", "INFO", *args, "--report",
            str(report)], report


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                   .splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    from importlib.metadata import version
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libraries": ", ".join(f"{name} {version(name)}" for name in
                               ("dlt", "duckdb", "httpx", "orjson")),
    }
