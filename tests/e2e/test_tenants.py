"""Several tenants of one vendor in one warehouse: separate raw datasets, one set of facts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.e2e.conftest import Harness
from tests.e2e.exactness import assert_exact
from transforms.runner import build
from tests.e2e.marts import SAME_DATA_MARTS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MARTS = SAME_DATA_MARTS
UTC = "UTC"


def as_tenant(h: Harness, tenant: str, database: Path) -> Harness:
    h.tenant_name, h.raw_dataset, h.pipeline_name, h.database = (
        tenant, f"ujet_{tenant}", f"ujet_{tenant}", database)
    return h


def facts(database: Path, mart: str, source: str, dataset: str = "contact_center") -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return sorted(connection.execute(
            f"select * from {dataset}.{mart} where source = ?", [source]).fetchall(), key=repr)


def test_two_tenants_load_side_by_side_and_each_ones_facts_equal_its_own_build(
        harness, tmp_path: Path) -> None:
    shared = tmp_path / "agency.duckdb"
    acme = as_tenant(harness(seed=7), "acme", shared)
    globex = as_tenant(harness(seed=11), "globex", shared)

    acme.run(transform=UTC)
    globex.run(transform=UTC)

    for h in (acme, globex):
        with h.warehouse() as warehouse:
            assert_exact(warehouse, h.tenant, as_of=h.run_began())
    # the two tenants number their contacts alike: keys without `source` would collide
    acme_ids = {r["id"] for r in acme.tenant.records("calls")}
    globex_ids = {r["id"] for r in globex.tenant.records("calls")}
    assert acme_ids & globex_ids
    with duckdb.connect(str(shared), read_only=True) as connection:
        by_source = dict(connection.execute(
            "select source, count(*) from contact_center.fct_contacts where channel = 'call'"
            " group by source").fetchall())
        duplicates = connection.execute(
            "select count(*) from (select source, channel, contact_id from"
            " contact_center.fct_contacts group by all having count(*) > 1) d").fetchone()[0]
    assert by_source == {"ujet_acme": len(acme_ids), "ujet_globex": len(globex_ids)}
    assert duplicates == 0

    # each tenant's facts equal a build of that tenant alone, row for row
    for h in (acme, globex):
        alone = harness(sandbox=h.sandbox)
        as_tenant(alone, str(h.tenant_name), tmp_path / f"{h.tenant_name}-alone.duckdb")
        alone.run(transform=UTC)
        for mart in MARTS:
            together = facts(shared, mart, h.source_name)
            assert together, f"{mart} has no rows of {h.source_name}: nothing compared"
            assert together == facts(alone.database, mart, h.source_name), mart

    # one tenant works on and loads again: it stays exact, the other's facts do not move
    before = {mart: facts(shared, mart, "ujet_globex") for mart in MARTS}
    acme.tenant.create("calls", 6)
    acme.tenant.touch("calls", 10)
    acme.tenant.advance_activity()
    summary = acme.run(transform=UTC)

    assert summary.transform is not None and summary.transform.mode == "incremental"
    assert summary.transform.sources == ["ujet_acme", "ujet_globex"]
    with acme.warehouse() as warehouse:
        assert_exact(warehouse, acme.tenant, as_of=acme.run_began())
    assert {mart: facts(shared, mart, "ujet_globex") for mart in MARTS} == before
    build(acme.pipeline(), acme.settings(UTC, suffix="_full"), full_refresh=True,
          sources=[acme.raw_source(), globex.raw_source()])
    for mart in MARTS:
        for source in ("ujet_acme", "ujet_globex"):
            assert facts(shared, mart, source) == facts(shared, mart, source,
                                                        "contact_center_full"), (mart, source)


def test_a_tenant_reads_its_own_config_section_first_and_the_vendors_after(
        harness, tmp_path: Path) -> None:
    h = harness()
    database = tmp_path / "tenants.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT), DLT_DATA_DIR=str(tmp_path / "dlt"),
        DESTINATION__WAREHOUSE__DESTINATION_TYPE="duckdb",
        DESTINATION__WAREHOUSE__CREDENTIALS=str(database),
        # shared by every tenant of the vendor
        SOURCES__UJET__BASE_URL=h.sandbox.base_url, SOURCES__UJET__REQUESTS_PER_SECOND="500",
        SOURCES__UJET__SUBDOMAIN="wrong-subdomain", SOURCES__UJET__API_TOKEN="wrong-token-000",
        # the tenant's own, which must win
        SOURCES__UJET__ACME__SUBDOMAIN=h.sandbox.options.subdomain,
        SOURCES__UJET__ACME__API_TOKEN=h.sandbox.options.api_token,
    )

    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "ujet", "--tenant", "acme",
         "--resources", "calls", "--no-transform"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    untenanted = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "ujet", "--resources", "calls",
         "--no-transform"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)

    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(database), read_only=True) as connection:
        loaded = connection.execute("select count(*) from ujet_acme.calls").fetchone()[0]
        schemas = {r[0] for r in connection.execute(
            "select schema_name from information_schema.schemata").fetchall()}
    assert loaded == len(h.tenant.records("calls"))
    assert "ujet" not in schemas and (tmp_path / "dlt" / "pipelines" / "ujet_acme").is_dir()
    # without --tenant, the vendor's section alone is read: its wrong token is refused
    assert untenanted.returncode == 3, untenanted.stderr
    assert "wrong-token-000" not in untenanted.stderr + result.stderr
    assert h.sandbox.options.api_token not in result.stderr


def test_a_bad_tenant_name_is_refused_naming_the_rule(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(PYTHONPATH=str(PROJECT_ROOT), DLT_DATA_DIR=str(tmp_path / "dlt"))

    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "ujet", "--tenant", "Acme Corp"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "--tenant must be a lowercase name" in result.stderr and "'Acme Corp'" in result.stderr


def test_a_source_that_never_loaded_breaks_no_build(harness, tmp_path: Path) -> None:
    from transforms.dialect import RawSource

    h = harness()
    # no source at all yet (`ccelt transform` on a new warehouse): every table, no rows
    empty = build(h.pipeline(), h.settings(UTC))
    assert empty.mode == "full" and set(empty.rows) >= set(MARTS)
    assert all(count == 0 for count in empty.rows.values())

    # one tenant registered whose raw dataset was never created, one that loaded
    ghost = RawSource("ujet_ghost", "ujet", "ujet_ghost")
    build(h.pipeline(), h.settings(UTC), sources=[ghost])
    h.run(transform=UTC)

    with duckdb.connect(str(h.database), read_only=True) as connection:
        sources = {row[0] for mart in MARTS for row in connection.execute(
            f"select distinct source from contact_center.{mart}").fetchall()}
        contacts = connection.execute("select count(*) from contact_center.fct_contacts").fetchone()[0]
    assert sources == {"ujet"}
    assert contacts == sum(len(h.tenant.records(kind)) for kind in ("calls", "chats", "emails"))


def test_run_all_runs_every_configured_tenant_at_once_with_one_summary_and_the_worst_code(
        harness, tmp_path: Path) -> None:
    acme, globex = harness(seed=7), harness(seed=11)
    database = tmp_path / "all.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(PYTHONPATH=str(PROJECT_ROOT), DLT_DATA_DIR=str(tmp_path / "dlt"),
               DESTINATION__WAREHOUSE__DESTINATION_TYPE="duckdb",
               DESTINATION__WAREHOUSE__CREDENTIALS=str(database),
               SOURCES__UJET__REQUESTS_PER_SECOND="500")
    for name, h in (("ACME", acme), ("GLOBEX", globex)):
        env.update({f"SOURCES__UJET__{name}__SUBDOMAIN": h.sandbox.options.subdomain,
                    f"SOURCES__UJET__{name}__API_TOKEN": h.sandbox.options.api_token,
                    f"SOURCES__UJET__{name}__BASE_URL": h.sandbox.base_url})

    def run_all() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--all"], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)

    both = run_all()

    assert both.returncode == 0, both.stderr
    assert "== ujet_acme: done" in both.stdout and "== ujet_globex: done" in both.stdout
    assert "[ujet_acme] " in both.stderr and "[ujet_globex] " in both.stderr
    with duckdb.connect(str(database), read_only=True) as connection:
        loaded = dict(connection.execute(
            "select source, count(*) from contact_center.fct_contacts where channel = 'call'"
            " group by source").fetchall())
    assert loaded == {"ujet_acme": len(acme.tenant.records("calls")),
                      "ujet_globex": len(globex.tenant.records("calls"))}

    # one tenant's credential is revoked: the other still loads, the exit code says so
    env["SOURCES__UJET__GLOBEX__API_TOKEN"] = "revoked-token-8c1d"
    acme.tenant.create("calls", 3)
    one_fails = run_all()

    assert one_fails.returncode == 3, one_fails.stderr
    assert "== ujet_acme: done" in one_fails.stdout
    assert "== ujet_globex: exit code 3" in one_fails.stdout
    assert "revoked-token-8c1d" not in one_fails.stdout + one_fails.stderr
    with duckdb.connect(str(database), read_only=True) as connection:
        calls = connection.execute("select count(*) from ujet_acme.calls").fetchone()[0]
    assert calls == len(acme.tenant.records("calls"))


def test_a_load_without_transforms_is_registered_and_built_by_a_later_transform(harness) -> None:
    h = harness()
    h.run()      # --no-transform: loads, builds nothing

    result = build(h.pipeline(), h.settings(UTC))     # `ccelt transform`: no source named

    assert result.mode == "full" and result.sources == ["ujet"]
    with duckdb.connect(str(h.database), read_only=True) as connection:
        contacts = connection.execute("select count(*) from contact_center.fct_contacts").fetchone()[0]
    assert contacts == sum(len(h.tenant.records(k)) for k in ("calls", "chats", "emails"))
