"""Reliability tests reuse the end-to-end harness: real processes, real sandboxes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Harness, harness, isolated_dlt  # noqa: F401 (fixtures)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CCELT = [sys.executable, "-m", "pipelines.cli"]


def env_for(h: Harness, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `ccelt` process pointed at the harness's sandbox and DuckDB file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "TRANSFORMS__"))}
    env.update({
        "PYTHONPATH": str(PROJECT_ROOT),
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "SOURCES__UJET__SUBDOMAIN": h.sandbox.options.subdomain,
        "SOURCES__UJET__API_TOKEN": h.sandbox.options.api_token,
        "SOURCES__UJET__BASE_URL": h.sandbox.base_url,
        "SOURCES__UJET__REQUESTS_PER_SECOND": "500",
        "SOURCES__UJET__RETRY_BACKOFF": "0.01",
        "DESTINATION__WAREHOUSE__DESTINATION_TYPE": "duckdb",
        "DESTINATION__WAREHOUSE__CREDENTIALS": str(h.database),
    })
    env.update(extra)
    return env


def ccelt(*args: str, env: dict[str, str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CCELT, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def start_ccelt(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*CCELT, *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture
def cli_env(tmp_path: Path):
    def make(h: Harness, **extra: str) -> dict[str, str]:
        return env_for(h, tmp_path, **extra)
    return make
