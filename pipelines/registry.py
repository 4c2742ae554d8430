"""Every source ccelt can run, as data: one entry per vendor, nothing else to edit.

The runner, the CLI and the transforms know a source only through its `SourceSpec`: the
`@dlt.source` to call, its config section, its resources, which settings are secrets, and
its sandbox. A tenant (`--tenant acme`) is an instance of a spec with its own config
subsection, pipeline, raw dataset, lock and state.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any, Optional

from sources.kit.errors import ConfigurationError


@dataclass(frozen=True)
class SourceSpec:
    """One vendor's source.

    Attributes:
        name: the CLI's name, the config section (`sources.<name>`) and the default pipeline
            and raw dataset name.
        title: what `ccelt run --help` lists.
        source: `module:function` of the `@dlt.source`; imported only when run.
        sandbox: module with `add_arguments(parser)` and `serve(args) -> int`.
        settings: the source's non-secret settings, to name keys in configuration errors.
        secrets: settings whose values are secret, to redact from every message and log.
        summary: one line for `ccelt run <name> --help`.
        check: `module:function` that reaches the API with one cheap request, its
            arguments resolved from the source's config like the source's own, and says
            what it reached (`ccelt check`).
        basic_auth_user: the setting sent as the HTTP Basic username with a secret as the
            password, if any: the header that carries both is redacted too.
        listens: the source receives pushed notifications rather than reading lists: `ccelt
            run <name> --duration S` listens for S seconds, `ccelt listen <name>` until a
            signal; the source function takes `listen_seconds` (None: until a signal).
        load_every: seconds a slice takes before it is loaded, when the user sets no
            `load_every` (None: the runner's default).
    """

    name: str
    title: str
    source: str
    sandbox: str
    settings: tuple[str, ...]
    secrets: tuple[str, ...]
    summary: str
    check: str = ""
    basic_auth_user: Optional[str] = None
    listens: bool = False
    load_every: Optional[float] = None

    def source_factory(self) -> Any:
        module, function = self.source.split(":")
        return getattr(importlib.import_module(module), function)

    def check_function(self) -> Any:
        module, function = self.check.split(":")
        return getattr(importlib.import_module(module), function)

    def sandbox_module(self) -> Any:
        return importlib.import_module(self.sandbox)


@dataclass(frozen=True)
class SourceInstance:
    """A spec run for one tenant (or the default one): where its config, state and data live.

    `name` is what facts call it in their `source` column, and its pipeline and raw dataset
    name: `ujet`, or `ujet_acme` for `--tenant acme`.
    """

    spec: SourceSpec
    tenant: Optional[str] = None

    @property
    def name(self) -> str:
        return f"{self.spec.name}_{self.tenant}" if self.tenant else self.spec.name

    @property
    def pipeline_name(self) -> str:
        return self.name

    @property
    def dataset_name(self) -> str:
        return self.name

    @property
    def sections(self) -> tuple[str, ...]:
        """Config sections searched, most specific first: `sources.ujet.acme`, `sources.ujet`."""
        own = f"sources.{self.spec.name}"
        return (f"{own}.{self.tenant}", own) if self.tenant else (own,)

    def key(self, setting: str) -> str:
        """The setting's most specific key, for messages: `sources.ujet.acme.api_token`."""
        return f"{self.sections[0]}.{setting}"

    def keys(self, setting: str) -> str:
        """Every key the setting is read from, for messages about a missing one."""
        return " or ".join(f"{section}.{setting}" for section in self.sections)

    def env(self, setting: str) -> str:
        return self.key(setting).upper().replace(".", "__")

    def config(self, setting: str, hint: Any = None) -> Any:
        """The setting from the tenant's section, else the vendor's (dlt config or env)."""
        import dlt

        for section in self.sections:
            value = dlt.config.get(f"{section}.{setting}", hint)
            if value is not None:
                return value
        return None

    def secret(self, setting: str) -> Any:
        import dlt

        for section in self.sections:
            value = dlt.secrets.get(f"{section}.{setting}")
            if value is not None:
                return value
        return None

    def check(self) -> str:
        """Runs the spec's check with its settings looked up like the source's: the tenant's
        section first, then the vendor's."""
        from dlt.common.configuration.inject import with_config

        sections = ("sources", self.spec.name) + ((self.tenant,) if self.tenant else ())
        result: str = with_config(self.spec.check_function(), sections=sections)()
        return result

    def source(self, **kwargs: Any) -> Any:
        """The `@dlt.source` reading `sources.<vendor>.<tenant>.*` first, then
        `sources.<vendor>.*` (dlt's nested lookup, so env `SOURCES__UJET__ACME__API_TOKEN`)."""
        factory = self.spec.source_factory()
        if self.tenant:
            factory = factory.clone(name=self.tenant, section=self.spec.name)
        return factory(**kwargs)


UJET = SourceSpec(
    name="ujet",
    title="UJET / Google CCAI Platform",
    source="sources.ujet:ujet_source",
    sandbox="sources.ujet.sandbox.cli",
    settings=("subdomain", "domain", "base_url", "start_date", "requests_per_second",
              "page_size", "lookback", "sla_minutes", "timeout", "max_attempts",
              "retry_backoff", "allow_insecure_http", "pii", "pii_fields", "load_every",
              "load_every_rows"),
    secrets=("api_token", "pii_salt"),
    summary="Load every documented UJET list endpoint incrementally.",
    check="sources.ujet:check_connection",
    basic_auth_user="subdomain",
)

CHATWOOT = SourceSpec(
    name="chatwoot",
    title="Chatwoot",
    source="sources.chatwoot:chatwoot_source",
    sandbox="sources.chatwoot.sandbox.cli",
    settings=("base_url", "account_id", "start_date", "requests_per_second", "lookback",
              "sla_refresh", "timeout", "max_attempts", "retry_backoff", "allow_insecure_http",
              "pii", "pii_fields", "load_every", "load_every_rows"),
    secrets=("api_access_token", "pii_salt"),
    summary="Load every conversation of a Chatwoot account with its whole message thread.",
    check="sources.chatwoot:check_connection",
)

ALVARIA = SourceSpec(
    name="alvaria",
    title="Alvaria Cloud EmailQueue",
    source="sources.alvaria:alvaria_source",
    sandbox="sources.alvaria.sandbox.cli",
    settings=("org_id", "base_url", "token_url", "client_id", "requests_per_second",
              "page_size", "extended_info", "max_passes", "timeout", "max_attempts",
              "retry_backoff", "allow_insecure_http", "pii", "pii_fields", "load_every",
              "load_every_rows"),
    secrets=("client_secret", "api_key", "pii_salt"),
    summary="Snapshot the live e-mail queue of an Alvaria organisation and track each e-mail.",
    check="sources.alvaria:check_connection",
)

GENESYS = SourceSpec(
    name="genesys",
    title="Genesys Workspace (GWS API v2) e-mail interactions",
    source="sources.genesys:genesys_source",
    sandbox="sources.genesys.sandbox.cli",
    settings=("base_url", "username", "channels", "spool_dir", "load_every", "timeout",
              "allow_insecure_http", "pii", "pii_fields", "load_every_rows"),
    secrets=("password", "pii_salt"),
    summary="Receive every e-mail interaction notification a Genesys user can see, spool it"
            " durably and load it within seconds; keep the current interactions true.",
    check="sources.genesys:check_connection",
    basic_auth_user="username",
    listens=True,
    load_every=5.0,
)

SOURCES: dict[str, SourceSpec] = {spec.name: spec for spec in (UJET, CHATWOOT, ALVARIA,
                                                               GENESYS)}
"""Every source, by name. A new vendor is one entry here and its room under sources/."""

_TENANT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def instance(name: str, tenant: Optional[str] = None) -> SourceInstance:
    """The source instance `name` (for `tenant`), or a clear error naming the choices."""
    spec = SOURCES.get(name)
    if spec is None:
        raise ConfigurationError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
    if tenant is not None and not _TENANT.match(tenant):
        raise ConfigurationError(
            f"--tenant must be a lowercase name of letters, digits and underscores starting with"
            f" a letter (it becomes part of a config section, a pipeline and a dataset name),"
            f" got {tenant!r}")
    return SourceInstance(spec, tenant)
