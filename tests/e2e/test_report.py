"""`ccelt demo` end to end, and the report it writes, opened in headless Chromium (Debian's
`chromium`): nothing is fetched from anywhere, no console error, every chart drawn, and the
numbers shown for a queue and an agent equal SQL on the facts. The screenshot is kept in
`test-artifacts/report.png`."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.demo import run_demo

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Recorder(BaseHTTPRequestHandler):
    """A proxy that answers nothing and remembers every request sent to it."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        Recorder.seen.append(self.path)
        self.send_error(404)

    do_POST = do_CONNECT = do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-default-apps",
             "--disable-domain-reliability", "--disable-client-side-phishing-detection",
             f"--proxy-server=http://127.0.0.1:{proxy.server_address[1]}",
             "--proxy-bypass-list=<-loopback>", "--enable-logging=stderr", "--v=0", *args],
            capture_output=True, text=True, timeout=120)
    finally:
        proxy.shutdown()


def require_chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("CCELT_REQUIRE_CHROMIUM"):
            pytest.fail("CCELT_REQUIRE_CHROMIUM is set but chromium is not installed")
        pytest.skip("chromium is not installed (Debian package chromium; .ci/run installs it)")


def test_the_demo_loads_every_source_and_its_report_opens_offline_with_every_chart_drawn(
        tmp_path: Path) -> None:
    require_chromium()
    database = str(tmp_path / "ccelt_demo.duckdb")
    shown: list[str] = []
    run_demo(database, shown.append)
    report = tmp_path / "ccelt_demo_report.html"
    assert any(str(report.resolve()) in line for line in shown), "the demo prints the path"
    text = report.read_text()

    # nothing in the file points off it: no script at all, no remote style, font or image
    assert "<script" not in text.lower()
    assert re.findall(r"""(?:src|href)\s*=\s*["'](?!#)[^"']+|url\((?!#)[^)]+\)|@import""",
                      text) == []
    Recorder.seen.clear()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = chromium("--window-size=900,3600", f"--screenshot={ARTIFACTS / 'report.png'}",
                    report.as_uri())
    dom = chromium("--dump-dom", report.as_uri())
    # Chromium's own housekeeping (its clock, updates, accounts) goes to Google's hosts
    # whatever page is open; anything else would be the report's
    asked = [url for url in Recorder.seen
             if not re.match(r"(https?://)?[\w.-]+\.(google\.com|googleapis\.com)[:/]", url)]
    assert asked == [], f"the report asked the network for {asked}"
    for run in (shot, dom):
        assert run.returncode == 0, run.stderr[-2000:]
        console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
        assert console == [], console
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000

    # every chart drawn: its section holds an SVG with marks in it
    sections = re.findall(r'<section class="chart" id="chart-\d+">(.*?)</section>', dom.stdout,
                          flags=re.S)
    assert len(sections) == 7
    for section in sections:
        title = re.search(r"<h2>(.*?)</h2>", section).group(1)
        assert "<svg" in section, f"{title}: not drawn"
        marks = re.findall(r'<path[^>]* d="M[^"]+"|<rect[^>]* width="[1-9]', section)
        assert len(marks) > 3, f"{title}: an empty chart"
        assert "Time zone: UTC." in section, title
    sources = re.search(r"sources: ([^;]+);", dom.stdout).group(1).split(", ")
    assert sources == ["alvaria", "chatwoot", "genesys", "ujet"]

    # the numbers shown are the facts' own
    connection = duckdb.connect(database, read_only=True)
    last = connection.execute("select max(local_date) from contact_center.fct_contacts"
                              ).fetchone()[0]
    first = last - timedelta(days=13)
    queue_row = re.search(r'<section id="top-queues">.*?<tr><td>(ujet: [^<]+)</td><td>(\d+)'
                          r"</td><td>(\d+)</td>", dom.stdout, flags=re.S)
    queue_name = html.unescape(queue_row.group(1)).removeprefix("ujet: ")
    entries, answered = connection.execute(
        "select sum(entries), sum(answered) from contact_center.fct_queue_interval"
        " where source = 'ujet' and queue_name = ? and cast(interval_start as date) between ? and ?",
        [queue_name, first, last]).fetchone()
    assert (int(queue_row.group(2)), int(queue_row.group(3))) == (entries, answered)
    agent_row = re.search(r'<section id="top-agents">.*?<tr><td>ujet: [^<(]+\(([^)]+)\)</td>'
                          r"<td>(\d+)</td><td>([\d.]+)</td>", dom.stdout, flags=re.S)
    handled, aht = connection.execute(
        "select sum(contacts_handled), round(sum(handle_seconds) / sum(handled), 1)"
        " from contact_center.fct_agent_daily where source = 'ujet' and agent_id = ?"
        " and local_date between ? and ?", [agent_row.group(1), first, last]).fetchone()
    assert (int(agent_row.group(2)), float(agent_row.group(3))) == (handled, aht)
    assert isinstance(last, date)
