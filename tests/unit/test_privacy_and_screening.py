"""The PII policy and the screening of records before they reach dlt."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from sources.kit.errors import ConfigurationError
from sources.kit.privacy import PiiPolicy, refuse_policy_change
from sources.kit.screening import screen
from sources.ujet.settings import PII_FIELDS

SALT = "a-long-test-salt-0123"


def ujet_policy(*args: object, **kwargs: object) -> PiiPolicy:
    return PiiPolicy(*args, fields=PII_FIELDS, section="sources.ujet", **kwargs)  # type: ignore[arg-type]


def call() -> dict:
    return {
        "id": 7, "updated_at": "2026-11-20T10:00:00.000Z", "lang": "en",
        "agent_info": {"id": 100, "name": "Ava Chen", "first_name": "Ava", "agent_number": "42"},
        "end_user": {"id": 5001, "identifier": "customer-9", "out_contact_id": "77"},
        "transfers": [{"id": 1, "from_agent": {"id": 100, "name": "Ava Chen"},
                       "to_agent": {"id": 101, "name": "Ben Brook"}}],
        "email_threads": [{"id": 3, "subject": "Refund please"}],
        "menu_path": {"name": "Support/Billing"},
    }


def expected_hash(value: object, salt: str = SALT) -> str:
    return hmac.new(salt.encode(), str(value).encode(), hashlib.sha256).hexdigest()


def test_hash_replaces_personal_fields_at_every_depth_and_nothing_else() -> None:
    record = ujet_policy("hash", salt=SALT).apply("contacts", call())

    assert record["agent_info"] == {"id": 100, "name": expected_hash("Ava Chen"),
                                    "first_name": expected_hash("Ava"),
                                    "agent_number": expected_hash("42")}
    assert record["end_user"]["id"] == expected_hash(5001)
    assert record["transfers"][0]["to_agent"] == {"id": 101, "name": expected_hash("Ben Brook")}
    assert record["email_threads"][0]["subject"] == expected_hash("Refund please")
    assert record["menu_path"] == {"name": "Support/Billing"}   # a queue's name is not personal
    assert (record["id"], record["lang"]) == (7, "en")


def test_the_same_value_hashes_alike_across_records_so_joins_survive() -> None:
    policy = ujet_policy("hash", salt=SALT)

    first, second = policy.apply("contacts", call()), policy.apply("contacts", call())

    assert first["end_user"]["id"] == second["end_user"]["id"]
    assert ujet_policy("hash", salt="another-long-salt-456").apply("contacts", call())["end_user"]["id"] != first["end_user"]["id"]


def test_drop_with_an_exception_keeps_only_the_excepted_field() -> None:
    policy = ujet_policy("drop", {"email_threads[].subject": "keep"})

    record = policy.apply("contacts", call())

    assert record["agent_info"]["name"] is None and record["end_user"]["identifier"] is None
    assert record["email_threads"][0]["subject"] == "Refund please"


@pytest.mark.parametrize("policy, message", [
    (dict(default="blur"), "sources.ujet.pii must be keep, hash or drop"),
    (dict(default="keep", overrides={"agent_info.shoe_size": "drop"}), "unknown fields"),
    (dict(default="hash"), "sources.ujet.pii_salt"),
    (dict(default="keep", overrides={"agent_info.name": "hash"}), "sources.ujet.pii_salt"),
])
def test_a_policy_that_cannot_work_is_refused_naming_the_setting(policy: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ujet_policy(**policy)


def test_screen_quarantines_what_cannot_be_loaded_with_reason_and_raw_record() -> None:
    good = call()
    no_id = {**call(), "id": None}
    bad_cursor = {**call(), "id": 8, "updated_at": "next tuesday"}
    with_nul = {**call(), "id": 9, "lang": "e\x00n"}

    loaded, held = screen([good, no_id, bad_cursor, "oops", with_nul], resource="calls",
                          kind="contacts", policy=ujet_policy(), cursor="updated_at")

    assert [r["id"] for r in loaded] == [7, 9]
    reasons = [row["reason"] for row in held]
    assert reasons[0] == "has no id, which the table is keyed on"
    assert reasons[1] == "updated_at is not a timestamp: 'next tuesday'"
    assert reasons[2] == "not a JSON object but str"
    assert reasons[3].startswith("contains NUL characters")
    assert json.loads(held[1]["payload"])["updated_at"] == "next tuesday"
    assert held[3]["record_id"] == "9"


def test_text_that_only_spells_an_escaped_nul_is_not_quarantined() -> None:
    spelled = {**call(), "id": 10, "subject": "the bytes \\u0000 in a log line"}
    key_with_nul = {**call(), "id": 11, "custom": {"a\x00b": 1}}

    loaded, held = screen([spelled, key_with_nul], resource="calls", kind="contacts",
                          policy=ujet_policy(), cursor="updated_at")

    assert [r["id"] for r in loaded] == [10, 11]
    assert [row["record_id"] for row in held] == ["11"]


def test_quarantine_payloads_follow_the_pii_policy() -> None:
    _, held = screen([{**call(), "id": None}, ["raw", "list"]], resource="calls", kind="contacts",
                     policy=ujet_policy("hash", salt=SALT), cursor="updated_at")

    assert "Ava Chen" not in held[0]["payload"]
    assert held[1]["payload"] is None and "payload withheld" in held[1]["reason"]


def test_the_salt_never_shows_in_a_repr() -> None:
    policy = ujet_policy("hash", salt=SALT)

    assert SALT not in repr(policy) and SALT not in str(policy)


@pytest.mark.parametrize("salt", ["s", "x" * 15])
def test_a_salt_shorter_than_16_characters_is_refused(salt: str) -> None:
    with pytest.raises(ConfigurationError, match="sources.ujet.pii_salt must be at least 16"):
        ujet_policy("hash", salt=salt)


def test_a_short_salt_is_fine_when_nothing_is_hashed() -> None:
    assert ujet_policy("drop", salt="s").apply("contacts", call())["agent_info"]["name"] is None


def test_a_change_of_hashed_fields_or_salt_is_refused_once_rows_were_loaded() -> None:
    state: dict = {}
    refuse_policy_change(state, ujet_policy("keep"))
    refuse_policy_change(state, ujet_policy("drop"))      # keep <-> drop changes no type

    with pytest.raises(ConfigurationError, match=r"now hashed: agent_assignments\[\]\.assignee\.agent_number, .* and \d+ more"):
        refuse_policy_change(state, ujet_policy("hash", salt=SALT))

    hashed: dict = {}
    refuse_policy_change(hashed, ujet_policy("hash", salt=SALT))
    with pytest.raises(ConfigurationError, match="the salt changed"):
        refuse_policy_change(hashed, ujet_policy("hash", salt="another-long-salt-456"))
    assert SALT not in repr(hashed)
    refuse_policy_change(hashed, ujet_policy("hash", salt=SALT))   # the same policy runs on
