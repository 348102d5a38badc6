"""F9 create, F10 associate, F8 dissociate, F3 set password, F7 disable/enable, F2 detail."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from portal_accounts.credentials import passwords
from portal_accounts.models import (
    AccountModel,
    CustomerModel,
    SearchEntryModel,
    ThrottleModel,
    linked_customers,
    login_throttle_key,
)
from tests.helpers import OPERATOR_CLAIMS
from tests.unit.clients import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, Desk

MARIO = "mario.rossi@example.com"


def search_entries() -> list[SearchEntryModel]:
    return list(SearchEntryModel.scan())


def account_item(username: str) -> AccountModel | None:
    try:
        return AccountModel.get(username, consistent_read=True)
    except AccountModel.DoesNotExist:
        return None


def actions_of(desk, username) -> list[str]:
    return [event["action"] for event in desk.events(username)["json"]["items"]]


# ---- F9: create ---------------------------------------------------------------------------


def test_create_makes_a_temporary_login_named_after_the_normalised_email(desk, frozen_clock):
    customer_id = desk.customer("Mario", "Rossi", "Mario.Rossi@Example.COM")
    response = desk.create_account(customer_id)
    assert response["statusCode"] == 201
    body = response["json"]
    assert body["username"] == MARIO
    assert body["status"] == "active"
    assert body["customers"] == [
        {"customer_id": customer_id, "first_name": "Mario", "last_name": "Rossi"}
    ]
    assert body["password_change_required"] is True
    assert body["created_at"] == "2026-01-01T09:00:00Z"
    assert body["password_changed_at"] == "2026-01-01T09:00:00Z"
    assert body["password_expires_at"] == "2026-01-08T09:00:00Z"  # 7 days
    assert body["last_login_at"] is None
    assert "password" not in body and "password_hash" not in body

    stored = AccountModel.get(MARIO)
    assert stored.password_temporary is True
    assert passwords.verify_password(stored.password_hash, GOOD_PASSWORD)
    assert CustomerModel.get(customer_id).account_username == MARIO
    assert desk.get_customer(customer_id)["json"]["account"] == {
        "username": MARIO,
        "status": "active",
    }


def test_create_with_temporary_false_opts_out(desk):
    customer_id = desk.customer("Mario", "Rossi", MARIO)
    response = desk.create_account(customer_id, temporary=False)
    assert response["statusCode"] == 201
    assert response["json"]["password_change_required"] is False
    assert response["json"]["password_expires_at"] is None
    stored = AccountModel.get(MARIO)
    assert stored.password_temporary is False
    assert stored.password_expires_at is None


def test_create_without_an_email_tells_to_save_one_first(desk):
    customer_id = desk.customer("Mario", "Rossi")
    response = desk.create_account(customer_id)
    assert response["statusCode"] == 422
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert response["json"]["type"] == "customer_email_missing"
    assert "email" in response["json"]["detail"]
    assert [e["field"] for e in response["json"]["errors"]] == ["email"]
    assert CustomerModel.get(customer_id).account_username is None


def test_create_with_an_invalid_stored_email_is_422(desk):
    # A legacy registry row with an email that never passed validation.
    customer_id = desk.customer("Mario", "Rossi")
    CustomerModel(customer_id).update(actions=[CustomerModel.email.set("mario.rossi@")])
    response = desk.create_account(customer_id)
    assert response["statusCode"] == 422
    assert response["json"]["type"] == "customer_email_missing"
    assert account_item("mario.rossi@") is None


def test_create_with_a_weak_password_is_422_and_leaves_nothing(desk):
    customer_id = desk.customer("Mario", "Rossi", MARIO)
    for weak, reason in [
        ("short one", "too_short"),
        ("passwordpassword", "common_or_guessable"),
        ("Rossi lanterna verde molo", "context_word"),
        ("mario.rossi lanterna verde", "context_word"),
        ("Palestra Aurora lanterna verde", "context_word"),
    ]:
        response = desk.create_account(customer_id, password=weak)
        assert response["statusCode"] == 422, weak
        assert response["json"]["type"] == "weak_password"
        assert response["json"]["errors"] == [{"field": "password", "reason": reason}], weak
    assert account_item(MARIO) is None
    assert CustomerModel.get(customer_id).account_username is None
    assert search_entries() == []
    assert desk.usernames(q="ross") == []


def test_create_twice_for_the_same_customer_is_409(desk):
    customer_id, _ = desk.account_for("Mario", "Rossi", MARIO)
    response = desk.create_account(customer_id, password=OTHER_GOOD_PASSWORD)
    assert response["statusCode"] == 409
    assert response["json"]["type"] == "customer_already_linked"
    assert passwords.verify_password(AccountModel.get(MARIO).password_hash, GOOD_PASSWORD)


def test_create_with_a_taken_username_is_409_with_a_hint_and_leaves_nothing(desk):
    first_id, _ = desk.account_for("Mario", "Rossi", MARIO)
    entries_before = {(e.prefix, e.entry) for e in search_entries()}
    second_id = desk.customer("Luca", "Verdi", "MARIO.ROSSI@example.com")

    response = desk.create_account(second_id, password=OTHER_GOOD_PASSWORD)

    assert response["statusCode"] == 409
    assert response["json"]["type"] == "username_taken"
    assert "associate" in response["json"]["detail"].lower()
    assert CustomerModel.get(second_id).account_username is None
    account = AccountModel.get(MARIO)
    assert set(linked_customers(account)) == {first_id}
    assert passwords.verify_password(account.password_hash, GOOD_PASSWORD)
    assert {(e.prefix, e.entry) for e in search_entries()} == entries_before
    assert desk.usernames(q="verdi") == []
    assert actions_of(desk, MARIO) == ["account.created"]


def test_create_for_an_unknown_customer_is_404(desk):
    response = desk.create_account("no-such-customer")
    assert response["statusCode"] == 404
    assert search_entries() == []


def test_create_writes_an_audit_event_with_the_operator_from_the_claims(clean_aws, frozen_clock):
    claims = {**OPERATOR_CLAIMS, "sub": "op-777", "email": "front.desk@palestra.example"}
    desk = Desk(claims)
    customer_id, username = desk.account_for("Mario", "Rossi", MARIO, temporary=False)
    events = desk.events(username)["json"]["items"]
    assert events == [
        {
            "at": "2026-01-01T09:00:00Z",
            "action": "account.created",
            "actor": {"type": "operator", "id": "op-777", "email": "front.desk@palestra.example"},
            "target": customer_id,
            "details": {"temporary_password": False},
        }
    ]


# ---- F10: associate -----------------------------------------------------------------------


def test_associate_links_a_second_customer_to_the_same_login(frozen_clock, desk):
    parent_id, username = desk.account_for("Mario", "Rossi", MARIO)
    child_id = desk.customer("Luca", "Rossi")
    frozen_clock.advance(minutes=1)
    response = desk.associate(child_id, "Mario.Rossi@EXAMPLE.com")  # case-insensitive
    assert response["statusCode"] == 200
    assert response["json"]["username"] == username
    assert {c["customer_id"] for c in response["json"]["customers"]} == {parent_id, child_id}

    # Both sides of the link agree.
    assert CustomerModel.get(child_id).account_username == username
    assert CustomerModel.get(parent_id).account_username == username
    assert set(linked_customers(AccountModel.get(username))) == {parent_id, child_id}
    detail = desk.get_account(username)["json"]
    assert [c["customer_id"] for c in detail["customers"]] == [parent_id, child_id]
    assert desk.get_customer(child_id)["json"]["account"]["username"] == username
    assert desk.usernames(q="luca") == [username]
    assert "account.customer_associated" in actions_of(desk, username)


def test_associate_the_same_account_again_is_200_and_changes_nothing(desk):
    parent_id, username = desk.account_for("Mario", "Rossi", MARIO)
    child_id = desk.customer("Luca", "Rossi")
    assert desk.associate(child_id, username)["statusCode"] == 200
    before = AccountModel.get(username).serialize()
    events_before = actions_of(desk, username)

    response = desk.associate(child_id, username)

    assert response["statusCode"] == 200
    assert {c["customer_id"] for c in response["json"]["customers"]} == {parent_id, child_id}
    assert AccountModel.get(username).serialize() == before
    assert actions_of(desk, username) == events_before


def test_associate_a_customer_linked_to_another_account_is_409(desk):
    _, mario = desk.account_for("Mario", "Rossi", MARIO)
    lucia_id, lucia = desk.account_for("Lucia", "Verdi", "lucia.verdi@example.com")
    response = desk.associate(lucia_id, mario)
    assert response["statusCode"] == 409
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert CustomerModel.get(lucia_id).account_username == lucia
    assert lucia_id not in linked_customers(AccountModel.get(mario))


def test_associate_an_unknown_username_is_404(desk):
    customer_id = desk.customer("Luca", "Rossi")
    for username in ("nobody@example.com", "not-an-email"):
        response = desk.associate(customer_id, username)
        assert response["statusCode"] == 404, username
    assert CustomerModel.get(customer_id).account_username is None


def test_associate_an_unknown_customer_is_404(desk):
    _, username = desk.account_for("Mario", "Rossi", MARIO)
    response = desk.associate("no-such-customer", username)
    assert response["statusCode"] == 404
    assert len(linked_customers(AccountModel.get(username))) == 1


# ---- F8: dissociate -----------------------------------------------------------------------


def test_dissociate_removes_only_that_link(desk):
    parent_id, username = desk.account_for("Mario", "Rossi", MARIO)
    child_id = desk.customer("Luca", "Bianchi")
    assert desk.associate(child_id, username)["statusCode"] == 200
    version = AccountModel.get(username).credential_version

    response = desk.dissociate(child_id)

    assert response["statusCode"] == 204
    assert not response.get("body")
    assert CustomerModel.get(child_id).account_username is None
    assert desk.get_customer(child_id)["json"]["account"] is None
    account = AccountModel.get(username)
    assert set(linked_customers(account)) == {parent_id}
    assert account.status == "active"
    assert account.credential_version == version  # the other customer keeps working
    assert CustomerModel.get(parent_id).account_username == username
    assert desk.usernames(q="bianchi") == []
    assert desk.usernames(q="ross") == [username]
    assert actions_of(desk, username)[0] == "account.customer_dissociated"
    assert "sessions.revoked" not in actions_of(desk, username)


def test_dissociating_the_last_customer_ends_the_sessions(desk):
    customer_id, username = desk.account_for("Mario", "Rossi", "cliente42@example.com")
    version = AccountModel.get(username).credential_version
    assert desk.dissociate(customer_id)["statusCode"] == 204
    account = AccountModel.get(username)
    assert linked_customers(account) == {}
    assert account.credential_version == version + 1
    assert desk.get_account(username)["json"]["customers"] == []
    assert desk.usernames(q="ross") == []
    assert actions_of(desk, username)[:2] == ["sessions.revoked", "account.customer_dissociated"]
    # The login still exists and can be given a customer again.
    assert desk.associate(customer_id, username)["statusCode"] == 200


def test_dissociate_a_customer_without_a_link_is_404(desk):
    customer_id = desk.customer("Mario", "Rossi", MARIO)
    assert desk.dissociate(customer_id)["statusCode"] == 404
    assert desk.dissociate("no-such-customer")["statusCode"] == 404


# ---- F3: operator sets a password ---------------------------------------------------------


@pytest.fixture
def mario(desk) -> str:
    _, username = desk.account_for("Mario", "Rossi", MARIO, temporary=False)
    return username


def test_set_password_with_a_mismatch_is_422(desk, mario):
    response = desk.set_password(mario, OTHER_GOOD_PASSWORD, OTHER_GOOD_PASSWORD + "!")
    assert response["statusCode"] == 422
    assert response["json"]["type"] == "password_mismatch"
    assert [e["field"] for e in response["json"]["errors"]] == ["password_confirmation"]
    assert passwords.verify_password(AccountModel.get(mario).password_hash, GOOD_PASSWORD)


def test_set_password_refuses_weak_passwords_with_the_same_policy(desk, mario):
    for weak, reason in [
        ("tiny", "too_short"),
        ("123456789012345", "common_or_guessable"),
        ("mario lanterna verde molo", "context_word"),
        ("x" * 129, "too_long"),
    ]:
        response = desk.set_password(mario, weak)
        assert response["statusCode"] == 422, weak
        assert response["json"]["type"] == "weak_password"
        assert response["json"]["errors"] == [{"field": "password", "reason": reason}], weak
    assert passwords.verify_password(AccountModel.get(mario).password_hash, GOOD_PASSWORD)


def test_set_password_refuses_the_names_of_every_linked_customer(desk, mario):
    child_id = desk.customer("Ludovico", "Bianchi")
    assert desk.associate(child_id, mario)["statusCode"] == 200
    response = desk.set_password(mario, "ludovico lanterna verde molo")
    assert response["statusCode"] == 422
    assert response["json"]["errors"] == [{"field": "password", "reason": "context_word"}]


def test_set_password_replaces_the_password_and_ends_sessions(frozen_clock, desk, mario):
    # Failed logins have throttled the account for the next hour.
    ThrottleModel(
        login_throttle_key(mario),
        failures=6,
        locked_until=frozen_clock.current + timedelta(hours=1),
        expires_at=frozen_clock.current + timedelta(days=1),
    ).save()
    assert desk.get_account(mario)["json"]["locked_until"] == "2026-01-01T10:00:00Z"
    version = AccountModel.get(mario).credential_version
    frozen_clock.advance(minutes=2)

    response = desk.set_password(mario, OTHER_GOOD_PASSWORD)

    assert response["statusCode"] == 204
    assert not response.get("body")
    account = AccountModel.get(mario)
    assert passwords.verify_password(account.password_hash, OTHER_GOOD_PASSWORD)
    assert not passwords.verify_password(account.password_hash, GOOD_PASSWORD)
    assert account.credential_version == version + 1
    assert account.password_temporary is True  # default: must change at next login
    # The failed-login count is reset: the throttle is lifted.
    assert ThrottleModel.count(login_throttle_key(mario)) == 0
    detail = desk.get_account(mario)["json"]
    assert detail["locked_until"] is None
    assert detail["password_change_required"] is True
    assert detail["password_changed_at"] == "2026-01-01T09:02:00Z"
    assert detail["password_expires_at"] == "2026-01-08T09:02:00Z"
    assert actions_of(desk, mario)[:2] == ["sessions.revoked", "account.password_set"]


def test_set_password_not_temporary(desk, mario):
    assert desk.set_password(mario, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    assert AccountModel.get(mario).password_temporary is True
    response = desk.set_password(mario, "nuvole basse sopra il porto", temporary=False)
    assert response["statusCode"] == 204
    account = AccountModel.get(mario)
    assert account.password_temporary is False
    assert account.password_expires_at is None
    assert desk.get_account(mario)["json"]["password_change_required"] is False


def test_set_password_for_an_unknown_account_is_404(desk):
    assert desk.set_password("nobody@example.com", OTHER_GOOD_PASSWORD)["statusCode"] == 404
    # Even with a mismatch, the missing account is what the operator needs to hear.
    response = desk.set_password("nobody@example.com", OTHER_GOOD_PASSWORD, "other")
    assert response["statusCode"] == 404


# ---- F7: disable / enable -----------------------------------------------------------------


def test_disable_then_enable(desk, mario):
    version = AccountModel.get(mario).credential_version

    response = desk.disable(mario)
    assert response["statusCode"] == 200
    assert response["json"]["status"] == "disabled"
    assert response["json"]["username"] == mario
    assert AccountModel.get(mario).status == "disabled"
    assert AccountModel.get(mario).credential_version == version + 1

    response = desk.enable(mario)
    assert response["statusCode"] == 200
    assert response["json"]["status"] == "active"
    account = AccountModel.get(mario)
    assert account.status == "active"
    assert account.credential_version == version + 1  # enabling does not revive old sessions
    assert actions_of(desk, mario)[:3] == [
        "account.enabled",
        "sessions.revoked",
        "account.disabled",
    ]


def test_disable_and_enable_are_idempotent(desk, mario):
    assert desk.disable(mario)["statusCode"] == 200
    version = AccountModel.get(mario).credential_version
    events = actions_of(desk, mario)
    again = desk.disable(mario)
    assert again["statusCode"] == 200
    assert again["json"]["status"] == "disabled"
    assert AccountModel.get(mario).credential_version == version
    assert actions_of(desk, mario) == events

    assert desk.enable(mario)["statusCode"] == 200
    again = desk.enable(mario)
    assert again["statusCode"] == 200
    assert again["json"]["status"] == "active"


def test_disable_and_enable_unknown_account_are_404(desk):
    assert desk.disable("nobody@example.com")["statusCode"] == 404
    assert desk.enable("nobody@example.com")["statusCode"] == 404


def test_disabled_accounts_leave_the_default_listing(desk, mario):
    _, lucia = desk.account_for("Lucia", "Verdi", "lucia.verdi@example.com")
    assert desk.disable(mario)["statusCode"] == 200
    assert desk.usernames() == [lucia]
    assert desk.usernames(status="active") == [lucia]
    assert desk.usernames(status="disabled") == [mario]
    # "all" walks the active accounts, then the disabled ones: follow the cursor.
    assert desk.all_pages(status="all") == [lucia, mario]
    assert desk.usernames(q="ross") == []
    assert desk.usernames(q="ross", status="disabled") == [mario]
    assert desk.usernames(q="ross", status="all") == [mario]
    listed = desk.list_accounts(status="disabled")["json"]["items"][0]
    assert listed["status"] == "disabled"
    assert desk.enable(mario)["statusCode"] == 200
    assert sorted(desk.usernames()) == sorted([lucia, mario])
    assert desk.usernames(status="disabled") == []
    assert desk.usernames(q="ross") == [mario]


# ---- F2: detail ---------------------------------------------------------------------------


def test_detail_shows_what_the_operator_needs(desk, frozen_clock):
    customer_id, username = desk.account_for("Mario", "Rossi", MARIO)
    response = desk.get_account("MARIO.ROSSI@example.com")
    assert response["statusCode"] == 200
    detail = response["json"]
    assert detail["username"] == username
    assert detail["status"] == "active"
    assert detail["customers"] == [
        {"customer_id": customer_id, "first_name": "Mario", "last_name": "Rossi"}
    ]
    assert detail["created_at"] == "2026-01-01T09:00:00Z"
    assert detail["last_login_at"] is None
    assert detail["password_changed_at"] == "2026-01-01T09:00:00Z"
    assert detail["locked_until"] is None
    assert [e["action"] for e in detail["recent_events"]] == ["account.created"]


def test_detail_of_an_unknown_account_is_404(desk):
    for username in ("nobody@example.com", "garbage", "%E0%A4%A"):
        response = desk.get_account(username)
        assert response["statusCode"] == 404, username
        assert response["headers"]["Content-Type"] == "application/problem+json"


def test_the_stored_username_is_the_normalised_key(desk):
    desk.account_for("Mario", "Rossi", "Mario.Rossi@Example.COM")
    keys = [
        item["username"]["S"]
        for item in boto3.client("dynamodb").scan(TableName=AccountModel.Meta.table_name)["Items"]
    ]
    assert keys == [MARIO]
