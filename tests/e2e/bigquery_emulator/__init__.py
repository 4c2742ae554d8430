"""A local BigQuery for the tests: bqemulator (REST API over DuckDB), run from its own venv.

`make test` installs it into `.venv-bqemulator` (see the Makefile). Without it the BigQuery
tests skip with a reason; CI sets CCELT_REQUIRE_BIGQUERY=1, which turns that into a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

PROJECT = "ccelt-test"
EMULATOR_VENV = Path(__file__).resolve().parents[3] / ".venv-bqemulator"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_emulator() -> Path:
    program = EMULATOR_VENV / "bin" / "bqemulator"
    if not (EMULATOR_VENV / ".installed").exists():
        reason = f"the BigQuery emulator is not installed in {EMULATOR_VENV} (`make test` does it)"
        if os.environ.get("CCELT_REQUIRE_BIGQUERY") == "1":
            pytest.fail(f"{reason}, and CCELT_REQUIRE_BIGQUERY=1 says it must be")
        pytest.skip(reason)
    return program


@contextmanager
def running_emulator() -> Iterator[str]:
    """Starts an in-memory emulator on free loopback ports; yields its `host:port`."""
    program = require_emulator()
    rest, grpc = _free_port(), _free_port()
    log = open(EMULATOR_VENV / "last-run.log", "wb")   # noqa: SIM115 (kept until it stops)
    process = subprocess.Popen(
        [str(program), "start", "--rest-host", "127.0.0.1", "--rest-port", str(rest),
         "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc), "--project", PROJECT,
         "--ephemeral", "--log-level", "warning"],
        # its DuckDB finds the spatial extension `make` installed there, and downloads nothing
        env={**os.environ, "HOME": str(EMULATOR_VENV / "home")},
        stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{rest}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the BigQuery emulator exited with {process.returncode};"
                                   f" see {log.name}")
            try:
                if httpx.get(f"http://{address}/bigquery/v2/projects/{PROJECT}/datasets",
                             timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the BigQuery emulator did not answer in 90 s; see {log.name}")
            time.sleep(0.3)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def credentials() -> Any:
    """dlt's BigQuery credentials for the emulator: anonymous, so no token is ever fetched."""
    from dlt.common.configuration.specs import GcpServiceAccountCredentials
    from google.auth.credentials import AnonymousCredentials

    creds = GcpServiceAccountCredentials()
    creds.project_id = PROJECT
    # dlt takes google's own credentials object as "default credentials": the emulator
    # checks none, and AnonymousCredentials never calls Google's token endpoint
    creds._set_default_credentials(AnonymousCredentials())
    creds.resolve()
    return creds


def client() -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials())
