"""The PII policy keeps personal data out of the warehouse and the working directory."""

from __future__ import annotations

from pathlib import Path

from sources.ujet.sandbox.generate import ts
from tests.e2e.conftest import Harness
from tests.reliability.conftest import ccelt

SALT = "pepper-for-tests-7c1"


def personal_values(h: Harness) -> set[str]:
    """Distinctive personal values of the generated tenant: agent names and emails, end-user
    identifiers, email subjects (the vendor's sample records reuse their strings in fields
    that are not personal, such as menu greetings, so they are left out)."""
    values: set[str] = set()
    for agent in h.tenant.reference.agents:
        values.update({agent["email"], agent["avatar_url"], f"{agent['first_name']} {agent['last_name']}"})
    for kind in ("calls", "chats", "emails"):
        for contact in h.tenant.records(kind):
            user = contact.get("end_user") or {}
            if str(user.get("identifier", "")).startswith("customer-"):
                values.update({user["identifier"], user["out_contact_id"]})
            values.update(t["subject"] for t in contact.get("email_threads", [])
                          if str(t.get("subject", "")).startswith(("Case", "Re: Case")))
    return {v for v in values if len(v) >= 8}


def warehouse_text(h: Harness) -> list[str]:
    with h.warehouse() as warehouse:
        columns = warehouse.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where data_type = 'VARCHAR' and table_schema in ('ujet', 'contact_center')").fetchall()
        text: list[str] = []
        for schema, table, column in columns:
            text += [v for (v,) in warehouse.execute(
                f'select "{column}" from "{schema}"."{table}" where "{column}" is not null').fetchall()]
    return text


def test_hash_keeps_every_personal_value_out_and_facts_still_work(harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness()
    with h.tenant.lock:   # a record only the quarantine will see, with personal data inside
        h.tenant.records("calls")[9].update(out_ticket_id="x\x00y", updated_at=ts(h.tenant.now()))
    secrets = personal_values(h)
    assert len(secrets) > 50, "the tenant has too little personal data for this test to mean much"
    env = cli_env(h, SOURCES__UJET__PII="hash", SOURCES__UJET__PII_SALT=SALT)

    result = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    stored = set(warehouse_text(h))
    leaked = secrets & stored
    assert leaked == set(), f"personal values in the warehouse: {sorted(leaked)[:5]}"
    files = [p for p in (tmp_path / "dlt").rglob("*") if p.is_file()]
    blob = b"".join(p.read_bytes() for p in files)
    assert [s for s in secrets if s.encode() in blob] == []
    assert SALT not in result.stdout + result.stderr and SALT.encode() not in blob
    with h.warehouse() as warehouse:
        contacts = warehouse.execute("select count(*) from contact_center.fct_contacts").fetchone()[0]
        agents = warehouse.execute(
            "select count(*) from contact_center.dim_agents where not is_unknown").fetchone()[0]
        hashed = warehouse.execute("select email from ujet.agents where id = 100").fetchone()[0]
        held = warehouse.execute("select payload from ujet.quarantine").fetchall()
    assert contacts == sum(len(h.tenant.records(k)) for k in ("calls", "chats", "emails"))
    assert agents == len(h.tenant.records("agents"))
    assert len(hashed) == 64 and "@" not in hashed
    assert held and all("customer-" not in payload for (payload,) in held)


def test_drop_with_a_per_field_exception(harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness()
    env = cli_env(h, SOURCES__UJET__PII="drop",
                  SOURCES__UJET__PII_FIELDS='{"email_threads[].subject": "keep"}')

    result = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    stored = set(warehouse_text(h))
    emails = {a["email"] for a in h.tenant.records("agents") if a.get("email")}
    subjects = {t["subject"] for e in h.tenant.records("emails") for t in e["email_threads"]}
    assert emails and not emails & stored        # dropped: no agent email anywhere
    assert subjects <= stored                    # the exception kept every subject


def test_hash_without_a_salt_is_refused_before_any_request(harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness()

    result = ccelt("run", "ujet", env=cli_env(h, SOURCES__UJET__PII="hash"), cwd=tmp_path)

    assert result.returncode == 2
    assert "sources.ujet.pii_salt" in result.stderr
    assert h.sandbox.requests == []
