"""One run per pipeline at a time: a lock the operating system frees when its holder dies.

Scheduled runs can overlap (a slow backfill, a cron job every few minutes). Two runs of one
pipeline would race on its local state and load packages. `flock` on a file beside the
pipeline's working folder lets exactly one in; the kernel releases it when the holder exits
in any way, SIGKILL included, so a crashed run never leaves it stuck.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RunInProgress(RuntimeError):
    """Another run of the same pipeline holds the lock; this one did nothing."""


BUILD_LOCK = "ccelt_transforms"
"""The lock of the fact build: one build at a time per machine, whichever source started it."""


@contextmanager
def run_lock(pipelines_dir: str, pipeline_name: str, *, wait: bool = False) -> Iterator[None]:
    """Holds the pipeline's run lock, or raises `RunInProgress` at once (`wait`: waits for it;
    two tenants' runs that end together build the facts one after the other)."""
    directory = Path(pipelines_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".{pipeline_name}.ccelt-lock"
    handle = open(path, "a+")  # noqa: SIM115 (held open for the lock's lifetime)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = _holder(handle.read())
            raise RunInProgress(
                f"another ccelt run of pipeline '{pipeline_name}' is in progress ({holder});"
                " this run did nothing and the running one is unharmed. The lock frees itself"
                " when that process ends, even if it crashes.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing the descriptor releases the lock


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']}, since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
