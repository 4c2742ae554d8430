"""The live status line: what it says, and the ETA from the request floor."""

from __future__ import annotations

import io

from pipelines.progress_bar import live_progress, status_line
from sources.kit.progress import ACTIVE, Progress


def test_the_line_counts_records_of_the_total_and_takes_eta_from_the_request_floor() -> None:
    calls = Progress("calls", lambda: 12, total=lambda: 6_530, per_request=100,
                     requests_per_second=1.0)
    calls.records = 1_200
    logs = Progress("agent_activity_logs", lambda: 30)   # no total: counted, no ETA share
    logs.records = 2_900
    done = Progress("agents", lambda: 1, total=lambda: 53, per_request=100,
                    requests_per_second=1.0)
    done.records = 53
    done.finished = True

    line = status_line([logs, done, calls], width=200)

    # by hand: 6,530 - 1,200 = 5,330 calls left = 54 requests of 100 at 1/s = 54 s
    assert line == ("agent_activity_logs 2,900 · agents 53/53✓ · calls 1,200/6,530"
                    " · 43 requests · ETA 54s")


def test_a_narrow_terminal_gets_a_cut_line() -> None:
    calls = Progress("calls", lambda: 1, total=lambda: 10, per_request=5, requests_per_second=1.0)

    assert status_line([calls], width=12) == "calls 0/10 …"


def test_nothing_is_drawn_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    ACTIVE.clear()
    Progress("calls", lambda: 1)

    with live_progress(stream, enabled=True):
        pass

    assert stream.getvalue() == ""
