"""The scheduling recipes in deploy/ are valid for the tools that read them."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT_ROOT / "deploy"
CCELT = PROJECT_ROOT / ".venv" / "bin" / "ccelt"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


def test_the_service_runs_ccelt_stops_it_with_sigterm_and_the_timer_starts_it() -> None:
    service, timer = unit("ccelt@.service"), unit("ccelt@.timer")

    assert service["Service"]["ExecStart"] == "/opt/ccelt/.venv/bin/ccelt run $CCELT_RUN"
    assert service["Service"]["KillSignal"] == "SIGTERM"     # ccelt's clean stop (exit 143)
    assert service["Service"]["SuccessExitStatus"] == "6"    # another run holds the lock
    assert timer["Timer"]["Unit"] == "ccelt@%i.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (Debian package systemd)")
def test_systemd_verifies_an_instance_of_the_units_without_a_complaint(tmp_path: Path) -> None:
    # the unit as installed, pointed at this checkout's ccelt so that systemd finds it
    text = (DEPLOY / "systemd" / "ccelt@.service").read_text()
    (tmp_path / "ccelt@.service").write_text(text.replace("/opt/ccelt/.venv/bin/ccelt", str(CCELT)))
    (tmp_path / "ccelt@.timer").write_text((DEPLOY / "systemd" / "ccelt@.timer").read_text())
    for kind in ("service", "timer"):
        (tmp_path / f"ccelt@acme.{kind}").symlink_to(tmp_path / f"ccelt@.{kind}")

    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "ccelt@acme.service"),
                             str(tmp_path / "ccelt@acme.timer")],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


def test_the_listen_service_runs_ccelt_listen_restarts_on_failure_but_not_on_bad_config() -> None:
    service = unit("ccelt-listen@.service")["Service"]

    assert service["ExecStart"] == ("/opt/ccelt/.venv/bin/ccelt --log-format json listen"
                                    " $CCELT_LISTEN --no-transform")
    assert service["KillSignal"] == "SIGTERM"       # loads what was received, exits 0
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"].split() == ["3", "6"]  # bad settings, a lock


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (Debian package systemd)")
def test_systemd_verifies_an_instance_of_the_listen_service(tmp_path: Path) -> None:
    text = (DEPLOY / "systemd" / "ccelt-listen@.service").read_text()
    (tmp_path / "ccelt-listen@.service").write_text(
        text.replace("/opt/ccelt/.venv/bin/ccelt", str(CCELT)))
    (tmp_path / "ccelt-listen@genesys.service").symlink_to(tmp_path / "ccelt-listen@.service")

    result = subprocess.run(["systemd-analyze", "verify",
                             str(tmp_path / "ccelt-listen@genesys.service")],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (Debian package systemd)")
def test_systemd_verify_would_see_a_broken_unit(tmp_path: Path) -> None:
    (tmp_path / "broken.service").write_text("[Service]\nType=oneshot\nExecStart=ccelt run\n")

    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "broken.service")],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode != 0 or result.stderr


def test_the_github_workflow_is_a_scheduled_single_run_of_ccelt_with_secrets_from_the_repo() -> None:
    workflow = yaml.safe_load((DEPLOY / "github-actions" / "ccelt.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))   # YAML 1.1 reads a bare `on` as true

    cron = triggers["schedule"][0]["cron"].split()
    assert len(cron) == 5 and cron[0] == "*/15"
    assert workflow["concurrency"]["cancel-in-progress"] is False
    steps = workflow["jobs"]["load"]["steps"]
    run = next(step for step in steps if "ccelt run" in step.get("run", ""))
    assert run["env"]["SOURCES__UJET__API_TOKEN"] == "${{ secrets.UJET_API_TOKEN }}"
    assert all(value.startswith("${{ secrets.") for key, value in run["env"].items()
               if "TOKEN" in key or "CREDENTIALS" in key)
