"""Dirty payloads load without loss; what cannot be loaded is quarantined, never dropped."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from sources.ujet.sandbox.generate import ts
from tests.e2e.conftest import Harness
from tests.reliability.conftest import ccelt

ODD = "Zoë 😀 \u202eRTL\u202c e\u0301 𝔘𝔍𝔈𝔗"  # accents, emoji, bidi controls, combining, astral


def test_dirty_records_load_without_loss_and_the_unloadable_are_quarantined(
        harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness(latin1_endpoints=("emails",))
    tenant = h.tenant
    now = ts(tenant.now())
    calls = tenant.records("calls")
    typed, untyped, nulled, extended, huge, nul = calls[1], calls[2], calls[3], calls[4], calls[5], calls[6]
    with tenant.lock:
        typed.update(rating="5", updated_at=now)                 # a number sent as a string
        untyped.update(rating="five stars", updated_at=now)      # not a number at all
        nulled.update(agent_info=None, menu_path=None, selected_menu=None, updated_at=now)
        extended.update(sentiment={"score": 0.5, "labels": ["calm", "brief"]}, updated_at=now)
        huge.update(notes="x" * 2_000_000, updated_at=now)      # a 2 MB field
        nul.update(out_ticket_id="AB\x00CD", updated_at=now)
        tenant.collections["agents"][100]["first_name"] = ODD
        tenant.collections["agents"]["ghost"] = {"first_name": "Ghost", "email": "g@x"}  # no id
        tenant.collections["user_statuses"]["odd"] = "Lunch"   # not an object
        email = tenant.records("emails")[0]
        email["email_threads"][0]["subject"] = "Réclamation"   # sent in Latin-1, not UTF-8
        email["updated_at"] = now

    result = ccelt("run", "ujet", "--no-transform", env=cli_env(h), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "quarantine: 4 row(s)" in result.stdout, result.stdout
    with h.warehouse() as warehouse:
        def value(sql: str, *args: object) -> object:
            rows = warehouse.execute(sql, args).fetchall()
            assert len(rows) == 1, (sql, rows)
            return rows[0][0] if len(rows[0]) == 1 else rows[0]

        assert value("select rating from ujet.calls where id = ?", typed["id"]) == 5
        assert value("select rating, rating__v_text from ujet.calls where id = ?",
                     untyped["id"]) == (None, "five stars")
        assert value("select agent_info__id, menu_path__name from ujet.calls where id = ?",
                     nulled["id"]) == (None, None)
        assert value("select sentiment__score from ujet.calls where id = ?", extended["id"]) == 0.5
        assert value("select count(*) from ujet.calls__sentiment__labels where call_id = ?",
                     extended["id"]) == 2
        assert value("select length(notes) from ujet.calls where id = ?", huge["id"]) == 2_000_000
        assert value("select out_ticket_id from ujet.calls where id = ?", nul["id"]) == "AB\x00CD"
        assert value("select first_name from ujet.agents where id = 100") == ODD
        # the email is loaded, with U+FFFD where the Latin-1 byte was
        assert value("select subject from ujet.emails__email_threads where id = ?",
                     email["email_threads"][0]["id"]) == "R\ufffdclamation"
        held = warehouse.execute(
            "select resource, reason, record_id, payload from ujet.quarantine order by resource, reason").fetchall()

    by_resource = {(r[0], r[1].split(" ")[0] + " " + r[1].split(" ")[1]): r for r in held}
    assert set(by_resource) == {("agents", "has no"), ("calls", "contains NUL"),
                                ("emails", "body was"), ("user_statuses", "not a")}
    assert json.loads(by_resource[("agents", "has no")][3]) == {"first_name": "Ghost", "email": "g@x"}
    assert json.loads(by_resource[("calls", "contains NUL")][3])["out_ticket_id"] == "AB\x00CD"
    assert json.loads(by_resource[("user_statuses", "not a")][3]) == "Lunch"
    raw_page = base64.b64decode(by_resource[("emails", "body was")][3])
    assert "Réclamation".encode("latin-1") in raw_page
