"""Which source instances `ccelt run --all` finds in the configuration."""

from __future__ import annotations

from pipelines.run_all import configured_instances


def names(config: dict, environ: dict) -> list[str]:
    return [i.name for i in configured_instances(config, environ)]


def test_a_source_without_tenants_runs_once() -> None:
    assert names({"ujet": {"subdomain": "acme", "page_size": 100}}, {}) == ["ujet"]


def test_tenants_in_the_config_files_run_each_and_the_shared_section_does_not_run_alone() -> None:
    config = {"ujet": {"requests_per_second": 1, "acme": {"subdomain": "acme"},
                       "globex": {"subdomain": "globex"}}}

    assert names(config, {}) == ["ujet_acme", "ujet_globex"]


def test_tenants_set_only_in_the_environment_are_found_too() -> None:
    environ = {"SOURCES__UJET__ACME__API_TOKEN": "x", "SOURCES__UJET__ACME__SUBDOMAIN": "acme",
               "SOURCES__UJET__REQUESTS_PER_SECOND": "2", "PATH": "/bin"}

    assert names({}, environ) == ["ujet_acme"]


def test_a_setting_that_is_a_table_is_not_mistaken_for_a_tenant() -> None:
    config = {"ujet": {"subdomain": "acme", "pii_fields": {"end_user.id": "keep"}}}

    assert names(config, {"SOURCES__UJET__PII_FIELDS__X": "1"}) == ["ujet"]


def test_nothing_configured_runs_nothing() -> None:
    assert names({}, {"PATH": "/bin"}) == []
