"""The PII policy: keep, hash or drop the fields a vendor's documents mark as personal data.

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

from sources.kit.errors import ConfigurationError

POLICIES = ("keep", "hash", "drop")
MIN_SALT_LENGTH = 16
"""A short salt makes hashes of small values reversible: with a one-character salt, every
agent or customer id below a million is found again by hashing them all."""

PiiFields = Mapping[str, tuple[str, ...]]
"""Personal fields per kind of record, as path patterns; each vendor supplies its own."""


@dataclass(frozen=True)
class PiiPolicy:
    """How to treat each personal field: `default` unless `overrides` names the field.

    Attributes:
        fields: the vendor's personal fields per kind of record (e.g. UJET's in its settings).
        section: the vendor's config section, named in error messages (`sources.ujet`).
    """

    default: str = "keep"
    overrides: Mapping[str, str] = field(default_factory=dict)
    # never in a repr, a log line or a traceback's locals
    salt: Optional[str] = field(default=None, repr=False)
    fields: PiiFields = field(default_factory=dict, repr=False)
    section: str = "sources"

    def __post_init__(self) -> None:
        for where, policy in [(f"{self.section}.pii", self.default), *(
                (f"{self.section}.pii_fields[{path!r}]", p) for path, p in self.overrides.items())]:
            if policy not in POLICIES:
                raise ConfigurationError(f"{where} must be keep, hash or drop, got {policy!r}")
        known = set(self._paths())
        unknown = sorted(set(self.overrides) - known)
        if unknown:
            raise ConfigurationError(
                f"{self.section}.pii_fields names unknown fields {unknown}; known: {sorted(known)}")
        env = self.section.upper().replace(".", "__") + "__PII_SALT"
        if self.hashes_anything and not self.salt:
            raise ConfigurationError(
                f"{self.section}.pii asks to hash personal data: set a secret salt in"
                f" {self.section}.pii_salt (.dlt/secrets.toml or {env}); keep it"
                " stable, or hashes of the same value stop matching across runs")
        if self.hashes_anything and len(str(self.salt)) < MIN_SALT_LENGTH:
            raise ConfigurationError(
                f"{self.section}.pii_salt must be at least {MIN_SALT_LENGTH} characters (got"
                f" {len(str(self.salt))}): with a short salt, hashes of small ids can be reversed"
                " by trying every id. Use a long random value, e.g. from"
                " `python -c 'import secrets; print(secrets.token_hex(16))'`")

    @property
    def hashes_anything(self) -> bool:
        return self.default == "hash" or "hash" in self.overrides.values()

    def fingerprint(self) -> dict[str, Any]:
        """What a change of policy changes in loaded rows, without the salt itself.

        `hashed` lists the fields whose values (and types: an integer id hashes to text)
        are hashes; `salt` is a hash made with the salt, so a changed salt shows without
        the salt being stored anywhere.
        """
        hashed = sorted(path for path in self._paths()
                        if self.overrides.get(path, self.default) == "hash")
        salt = self._treat("ccelt salt check", "hash") if hashed else None
        return {"hashed": hashed, "salt": salt}

    def _paths(self) -> Iterator[str]:
        """Every personal field path of every kind, patterns expanded."""
        for patterns in self.fields.values():
            for pattern in patterns:
                yield from _expand(pattern)

    @property
    def keeps_everything(self) -> bool:
        return self.default == "keep" and all(p == "keep" for p in self.overrides.values())

    def apply(self, kind: str, record: Any) -> Any:
        """The record with its personal fields hashed or dropped, in place."""
        if self.keeps_everything or not isinstance(record, dict):
            return record
        for pattern in self.fields.get(kind, ()):
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


POLICY_STATE_KEY = "pii_policy"


def refuse_policy_change(source_state: Optional[dict[str, Any]], policy: PiiPolicy) -> None:
    """Stops a run whose policy would hash differently from the rows already loaded.

    Hashing a field changes its values and, for an integer id, its type: rows loaded before
    and after would no longer join, and dlt would move the new text values into a variant
    column (`end_user__id__v_text`) that the staging models do not read. So a change of which
    fields are hashed, or of the salt, is refused with what to do; keep and drop may change
    freely (a dropped field loads as null in the same column). The fingerprint is kept in
    the source's dlt state, committed with the rows it describes.
    """
    if source_state is None:
        return   # the source was built outside a pipeline (a test): nothing was loaded
    now = policy.fingerprint()
    before = source_state.get(POLICY_STATE_KEY)
    if before is not None and before != now:
        what = ("the salt changed" if before.get("hashed") == now["hashed"]
                else _difference(before.get("hashed") or [], now["hashed"]))
        raise ConfigurationError(
            f"{policy.section}.pii/pii_fields/pii_salt changed since rows were loaded ({what}):"
            " rows already loaded keep their old values and types, so old and new rows would"
            " not join. Put the old setting back, or reload from scratch under the new one:"
            " drop the raw dataset and the pipeline's local state (docs/privacy.md, 'Changing"
            " the policy')")
    source_state[POLICY_STATE_KEY] = now


def _difference(before: list[str], now: list[str]) -> str:
    def some(paths: list[str]) -> str:
        return ", ".join(paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")

    added = sorted(set(now) - set(before))
    removed = sorted(set(before) - set(now))
    parts = ([f"now hashed: {some(added)}"] if added else []) + (
        [f"no longer hashed: {some(removed)}"] if removed else [])
    return "; ".join(parts)


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
