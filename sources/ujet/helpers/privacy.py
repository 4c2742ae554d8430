"""The PII policy: keep, hash or drop the fields UJET's documents mark as personal data.

Applied to every record before dlt sees it, so nothing personal reaches the extract files,
the warehouse or the quarantine unless the policy keeps it. `hash` is an HMAC-SHA256 with a
secret salt: the same value always hashes the same way, so joins and counts still work, but
the value cannot be recovered or guessed without the salt.

Fields are named by path: `agent_info.first_name`, `photos[].url` (every element of a list),
`transfers[].{from_agent,to_agent}.name` (alternatives).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from sources.ujet.helpers.errors import ConfigurationError

POLICIES = ("keep", "hash", "drop")
_PERSON = "{name,first_name,middle_name,last_name,agent_number,avatar_url}"


def _person(prefix: str) -> str:
    return f"{prefix}.{_PERSON}"


# What the UJET documents mark "may be considered PII", per resource; see docs/privacy.md
PII_FIELDS: dict[str, tuple[str, ...]] = {
    "contacts": (
        _person("agent_info"),
        "end_user.{id,identifier,out_contact_id}",
        _person("transfers[].{from_agent,to_agent}"),
        "photos[].{id,photo_type,url}", "videos[].{id,url}", "email_attachments[].url",
        "email_threads[].subject", "recording_url",
        "participants[].{user_id,end_user_id}",
    ),
    "agents": ("{email,first_name,middle_name,last_name,agent_number,avatar_url}",),
    "menus": (_person("agent_assignments[].assignee"),
              _person("team_assignments[].team.assignees[]")),
    "teams": (_person("assignees[]"),),
    "agent_activity_logs": (_person("whodunnit"),),
}


@dataclass(frozen=True)
class PiiPolicy:
    """How to treat each personal field: `default` unless `overrides` names the field."""

    default: str = "keep"
    overrides: Mapping[str, str] = field(default_factory=dict)
    salt: Optional[str] = None

    def __post_init__(self) -> None:
        for where, policy in [("sources.ujet.pii", self.default), *(
                (f"sources.ujet.pii_fields[{path!r}]", p) for path, p in self.overrides.items())]:
            if policy not in POLICIES:
                raise ConfigurationError(f"{where} must be keep, hash or drop, got {policy!r}")
        known = {path for paths in PII_FIELDS.values() for pattern in paths for path in _expand(pattern)}
        unknown = sorted(set(self.overrides) - known)
        if unknown:
            raise ConfigurationError(
                f"sources.ujet.pii_fields names unknown fields {unknown}; known: {sorted(known)}")
        uses_hash = self.default == "hash" or "hash" in self.overrides.values()
        if uses_hash and not self.salt:
            raise ConfigurationError(
                "sources.ujet.pii asks to hash personal data: set a secret salt in"
                " sources.ujet.pii_salt (.dlt/secrets.toml or SOURCES__UJET__PII_SALT); keep it"
                " stable, or hashes of the same value stop matching across runs")

    @property
    def keeps_everything(self) -> bool:
        return self.default == "keep" and all(p == "keep" for p in self.overrides.values())

    def apply(self, kind: str, record: Any) -> Any:
        """The record with its personal fields hashed or dropped, in place."""
        if self.keeps_everything or not isinstance(record, dict):
            return record
        for pattern in PII_FIELDS.get(kind, ()):
            for path in _expand(pattern):
                policy = self.overrides.get(path, self.default)
                if policy != "keep":
                    _rewrite(record, path.split("."), lambda v, p=policy: self._treat(v, p))
        return record

    def _treat(self, value: Any, policy: str) -> Any:
        if value is None or policy == "drop":
            return None
        digest = hmac.new(str(self.salt).encode(), str(value).encode("utf-8", "surrogatepass"),
                          hashlib.sha256)
        return digest.hexdigest()


def _expand(pattern: str) -> Iterator[str]:
    """`a.{b,c}.d` -> `a.b.d`, `a.c.d`."""
    match = re.search(r"\{([^}]*)\}", pattern)
    if not match:
        yield pattern
        return
    for choice in match.group(1).split(","):
        yield from _expand(pattern[:match.start()] + choice.strip() + pattern[match.end():])


def _rewrite(value: Any, parts: list[str], treat: Any) -> None:
    if not parts or not isinstance(value, dict):
        return
    head, rest = parts[0], parts[1:]
    is_list = head.endswith("[]")
    key = head[:-2] if is_list else head
    if key not in value:
        return
    if not rest and not is_list:
        value[key] = treat(value[key])
        return
    children = value[key] if is_list and isinstance(value[key], list) else [value[key]]
    for child in children:
        _rewrite(child, rest, treat)
