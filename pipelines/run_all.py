"""`ccelt run --all`: every configured source and tenant, one summary.

Each instance runs as its own `ccelt run` process, so it keeps its own lock, request budget,
memory and exit code; one failing tenant does not stop the others. Into a server warehouse
they run at once; into DuckDB, whose file takes one writer, one after the other. Its log lines are passed
on prefixed with its name, and its summary is printed when all are done. The exit code is the
highest of theirs (0 only if every run succeeded).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from pipelines.registry import SOURCES, SourceInstance, instance


def configured_instances(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[SourceInstance]:
    """Every source instance the configuration sets up.

    A source is configured when its section (`sources.<name>`) exists in the config files or
    the environment; its tenants are the subsections (`sources.ujet.acme`) that are not
    settings of the source. With tenants, each tenant runs (the vendor's own section then
    holds what they share); without, the source runs once.
    """
    found: list[SourceInstance] = []
    for name, spec in SOURCES.items():
        settings = set(spec.settings) | set(spec.secrets)
        section = config.get(name)
        tenants: set[str] = set()
        present = isinstance(section, Mapping)
        if isinstance(section, Mapping):
            tenants |= {key for key, value in section.items()
                        if isinstance(value, Mapping) and key not in settings}
        prefix = f"SOURCES__{name.upper()}__"
        for variable in environ:
            if not variable.startswith(prefix):
                continue
            present = True
            parts = variable[len(prefix):].split("__")
            if len(parts) >= 2 and parts[0].lower() not in settings:
                tenants.add(parts[0].lower())
        if not present:
            continue
        found += [instance(name, tenant) for tenant in sorted(tenants)] or [instance(name)]
    return found


@dataclass
class Outcome:
    name: str
    code: int = 0
    stdout: str = ""


def run_all(instances: Sequence[SourceInstance], extra: Sequence[str],
            command: Sequence[str] = (sys.executable, "-m", "pipelines.cli"),
            parallel: bool = True) -> tuple[int, str]:
    """Runs every instance in its own process, all at once (`parallel`) or one after the
    other; returns (the highest exit code, the summaries).

    A DuckDB file takes one writing process at a time, so runs into DuckDB go one after the
    other; a server warehouse (Postgres, BigQuery) takes them all at once.
    """
    outcomes = {i.name: Outcome(i.name) for i in instances}
    waves = [list(instances)] if parallel else [[i] for i in instances]
    for wave in waves:
        _run_wave(wave, extra, command, outcomes)
    return max((o.code for o in outcomes.values()), default=0), _summary(outcomes.values())


def _run_wave(wave: Sequence[SourceInstance], extra: Sequence[str], command: Sequence[str],
              outcomes: dict[str, Outcome]) -> None:
    processes: dict[str, subprocess.Popen[str]] = {}
    for item in wave:
        tenant = ["--tenant", item.tenant] if item.tenant else []
        processes[item.name] = subprocess.Popen(
            [*command, "run", item.spec.name, *tenant, *extra], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    relays = [threading.Thread(target=_relay, args=(name, process.stderr), daemon=True)
              for name, process in processes.items()]
    for relay in relays:
        relay.start()
    previous = {number: signal.signal(number, _forward(processes))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        for name, process in processes.items():
            outcomes[name].stdout = process.stdout.read() if process.stdout else ""
            outcomes[name].code = process.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    for relay in relays:
        relay.join(timeout=10)


def _relay(name: str, stream: Optional[Iterable[str]]) -> None:
    for line in stream or ():
        sys.stderr.write(f"[{name}] {line}")
    sys.stderr.flush()


def _forward(processes: Mapping[str, subprocess.Popen[str]]) -> Any:
    """Passes a signal on to every run, which stops cleanly on it."""
    def handle(signum: int, frame: Any) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signum)
    return handle


def _summary(outcomes: Iterable[Outcome]) -> str:
    lines = []
    for outcome in outcomes:
        state = "done" if outcome.code == 0 else f"exit code {outcome.code}"
        lines.append(f"== {outcome.name}: {state}")
        if outcome.stdout.strip():
            lines.append(outcome.stdout.rstrip())
    return "\n".join(lines)
