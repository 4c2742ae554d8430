"""Processes the benchmarks measure: a sandbox tenant, `ccelt`, and dlt's rest_api baseline.

Each runs in its own process so wall time and peak memory belong to it alone.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass(frozen=True)
class TenantShape:
    calls: int
    days: float = 30
    agents: int = 50

    def arguments(self) -> list[str]:
        return ["--calls", str(self.calls), "--chats", str(max(1, self.calls // 5)),
                "--emails", str(max(1, self.calls // 10)), "--agents", str(self.agents),
                "--days", str(self.days)]


@dataclass
class Result:
    """One finished process: how long it took, its peak memory, what it printed."""

    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str

    def check(self, what: str) -> Result:
        if self.returncode != 0:
            raise RuntimeError(f"{what} failed ({self.returncode}):\n{self.stderr[-3000:]}")
        return self

    @property
    def requests(self) -> int:
        match = re.search(r"requests: ([\d,]+)", self.stdout)
        return int(match.group(1).replace(",", "")) if match else 0

    def rows(self, table: str) -> int:
        match = re.search(rf"^  {re.escape(table)} +([\d,]+)$", self.stdout, re.MULTILINE)
        return int(match.group(1).replace(",", "")) if match else 0

    def resource_requests(self, resource: str) -> Optional[int]:
        match = re.search(rf"{re.escape(resource)}: [\d,]+ records in (\d+) requests", self.stderr)
        return int(match.group(1)) if match else None


def run(command: list[str], env: dict[str, str], cwd: Path, timeout: float = 7200) -> Result:
    """Runs `command`, measuring wall time and the peak resident memory of that process."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate(timeout=timeout)
    seconds = time.monotonic() - started
    # the child has been reaped by communicate(); its resource usage is in RUSAGE_CHILDREN,
    # which is a maximum over all children so far: the benchmarks run one child at a time
    import resource
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return Result(seconds, peak_kb / 1024, process.returncode, stdout, stderr)


def run_measured(command: list[str], env: dict[str, str], cwd: Path, timeout: float = 7200) -> Result:
    """Like `run`, but the peak memory is this process's own, read with wait4."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    import threading

    def drain(stream: object, sink: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line)

    readers = [threading.Thread(target=drain, args=(process.stdout, out_chunks)),
               threading.Thread(target=drain, args=(process.stderr, err_chunks))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    for reader in readers:
        reader.join(timeout=timeout)
    process.returncode = os.waitstatus_to_exitcode(status)
    return Result(seconds, usage.ru_maxrss / 1024, process.returncode, "".join(out_chunks),
                  "".join(err_chunks))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Sandbox:
    """`ccelt sandbox ujet` in its own process."""

    shape: TenantShape
    requests_per_second: float = 0
    token: str = field(default_factory=lambda: secrets.token_hex(12))
    port: int = field(default_factory=free_port)
    process: Optional[subprocess.Popen[str]] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/manager/api/v1"

    def __enter__(self) -> Sandbox:
        command = [PYTHON, "-m", "pipelines.cli", "--log-level", "WARNING", "sandbox", "ujet",
                   "--port", str(self.port), "--token", self.token, "--static",
                   "--requests-per-second", str(self.requests_per_second), *self.shape.arguments()]
        self.process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True,
                                        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
        assert self.process.stdout is not None
        line = self.process.stdout.readline()   # printed once the tenant is generated
        if "UJET sandbox tenant on" not in line:
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)


def ccelt_env(sandbox: Sandbox, workdir: Path, requests_per_second: float, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOURCES__", "DESTINATION__", "TRANSFORMS__"))}
    env.update({
        "PYTHONPATH": str(PROJECT_ROOT),
        "DLT_DATA_DIR": str(workdir / "dlt"),
        "SOURCES__UJET__SUBDOMAIN": "sandbox",
        "SOURCES__UJET__API_TOKEN": sandbox.token,
        "SOURCES__UJET__BASE_URL": sandbox.base_url,
        "SOURCES__UJET__REQUESTS_PER_SECOND": str(requests_per_second),
        "DESTINATION__WAREHOUSE__CREDENTIALS": str(workdir / "warehouse.duckdb"),
    })
    env.update(extra)
    return env


def ccelt(*args: str) -> list[str]:
    return [PYTHON, "-m", "pipelines.cli", *args]
