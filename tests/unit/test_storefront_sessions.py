"""Storefront sessions (F12, F13): the authorizer in front of every session route, GET /me,
logout, change password, and everything that must end a session at once."""

from __future__ import annotations

import base64
import json

import pytest

from functions.me_get.app import handler as me_handler
from functions.operator_get_account.app import handler as get_account_handler
from local import template
from local.operator_auth import OperatorTokens
from portal_accounts.config import get_settings
from tests import faults
from tests.helpers import FakeContext, call
from tests.unit.clients import (
    GOOD_PASSWORD,
    OTHER_GOOD_PASSWORD,
    THIRD_GOOD_PASSWORD,
    UNAUTHORIZED,
    Operator,
    authorize,
    dynamodb_refuses_empty_keys,
    enc,
    is_valid,
    seed_account,
)

MARIO = "mario.rossi@example.com"


def mario(*names) -> list[str]:
    """Mario's account with these customers (default: Mario himself); their ids."""
    account = seed_account(MARIO, list(names) or [("Mario", "Rossi")])
    return list(account.customers.as_dict())


# ---- GET /me -----------------------------------------------------------------------------


def test_me_shows_the_login_and_its_customers(shop):
    ids = mario(("Mario", "Rossi"), ("Luca", "Rossi"))
    token = shop.token(MARIO, GOOD_PASSWORD)
    response = shop.me(token)
    assert response["statusCode"] == 200
    assert response["headers"]["Cache-Control"] == "no-store"
    body = response["json"]
    assert body["username"] == MARIO
    assert body["password_change_required"] is False
    assert sorted(c["customer_id"] for c in body["customers"]) == sorted(ids)
    assert {(c["first_name"], c["last_name"]) for c in body["customers"]} == {
        ("Mario", "Rossi"),
        ("Luca", "Rossi"),
    }


def test_the_authorizer_hands_the_session_to_other_storefront_apis(shop):
    [customer_id] = mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    answer = authorize(token, "GET /bookings")
    assert answer["isAuthorized"] is True
    assert answer["context"]["username"] == MARIO
    assert customer_id in answer["context"]["customers"]
    assert token not in str(answer)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic bWFyaW86c2VjcmV0",
        "garbage",
        "Bearer garbage",
        "Bearer a.b",
        "Bearer bm9ib2R5QGV4YW1wbGUuY29t.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer " + "x" * 5000,
        "Bearer ..",
        "Bearer %%%%.abc",
        "Bearer \u00e9\u00e8.\u00e0",
    ],
)
def test_a_missing_or_garbage_bearer_is_unauthorized(shop, header):
    mario()
    shop.token(MARIO, GOOD_PASSWORD)
    assert authorize(None, header=header) == UNAUTHORIZED
    assert shop.me(None)["statusCode"] == 401


@pytest.mark.parametrize("token", [".abc", "====.abc", "!!!!.abc"])
def test_a_bearer_whose_username_part_is_empty_is_unauthorized_on_dynamodb_too(shop, token):
    # Decodes to an empty username: DynamoDB refuses an empty key, which must still be a
    # 401 (the authorizer failing with anything but "Unauthorized" is a 500).
    mario()
    with dynamodb_refuses_empty_keys():
        assert authorize(token) == UNAUTHORIZED


def test_an_operator_jwt_is_not_a_session(shop):
    mario()
    shop.token(MARIO, GOOD_PASSWORD)
    jwt = OperatorTokens(["portal-accounts-local"]).issue(subject="op-123", email=MARIO)
    assert authorize(jwt) == UNAUTHORIZED
    assert authorize(jwt, "GET /bookings") == UNAUTHORIZED


def test_a_token_for_another_username_does_not_work(shop):
    mario()
    seed_account("anna@example.com", [("Anna", "Bianchi")])
    token = shop.token(MARIO, GOOD_PASSWORD)
    _, _, secret = token.partition(".")
    other = base64.urlsafe_b64encode(b"anna@example.com").decode().rstrip("=")
    assert authorize(f"{other}.{secret}") == UNAUTHORIZED
    assert authorize(token + "x") == UNAUTHORIZED
    assert authorize(token[:-1]) == UNAUTHORIZED
    assert is_valid(token)


# ---- lifetime and idle timeout -----------------------------------------------------------


def test_a_session_ends_after_its_absolute_lifetime_even_if_used(shop, frozen_clock):
    mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    lifetime = get_settings().session_ttl_seconds
    step = get_settings().session_idle_timeout_seconds // 2
    elapsed = 0
    while elapsed + step < lifetime:
        frozen_clock.advance(seconds=step)
        elapsed += step
        assert is_valid(token), elapsed
    frozen_clock.advance(seconds=lifetime - 1 - elapsed)
    assert is_valid(token)
    frozen_clock.advance(seconds=1)
    assert authorize(token) == UNAUTHORIZED
    assert shop.me(token)["statusCode"] == 401


def test_an_unused_session_ends_after_the_idle_timeout(shop, frozen_clock):
    mario()
    used = shop.token(MARIO, GOOD_PASSWORD)
    idle = shop.token(MARIO, GOOD_PASSWORD)
    timeout = get_settings().session_idle_timeout_seconds
    frozen_clock.advance(seconds=timeout - 1)
    assert is_valid(used)
    frozen_clock.advance(seconds=1)
    assert authorize(idle) == UNAUTHORIZED
    assert is_valid(used)
    # Once ended, it stays ended.
    assert authorize(idle) == UNAUTHORIZED


def test_a_session_in_use_outlives_the_idle_timeout(shop, frozen_clock):
    mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    timeout = get_settings().session_idle_timeout_seconds
    step = timeout * 2 // 3
    for _ in range(4):  # well beyond the idle timeout in total
        frozen_clock.advance(seconds=step)
        assert shop.me(token)["statusCode"] == 200
    frozen_clock.advance(seconds=timeout)
    assert authorize(token) == UNAUTHORIZED


def test_the_idle_timeout_follows_the_setting(shop, frozen_clock, monkeypatch):
    monkeypatch.setenv("SESSION_IDLE_TIMEOUT_SECONDS", "900")
    get_settings.cache_clear()
    mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    frozen_clock.advance(seconds=899)
    assert is_valid(token)
    frozen_clock.advance(seconds=900)
    assert authorize(token) == UNAUTHORIZED


# ---- logout ------------------------------------------------------------------------------


def test_logout_ends_only_that_session(shop, desk):
    mario()
    this = shop.token(MARIO, GOOD_PASSWORD)
    other = shop.token(MARIO, GOOD_PASSWORD)
    response = shop.logout(this)
    assert response["statusCode"] == 204
    assert response["headers"]["Cache-Control"] == "no-store"
    assert authorize(this) == UNAUTHORIZED
    assert shop.logout(this)["statusCode"] == 401
    assert is_valid(other)
    assert "session.logged_out" in [e["action"] for e in desk.events(MARIO)["json"]["items"]]


# ---- change password (F13) ---------------------------------------------------------------


def test_changing_the_password_keeps_this_session_and_ends_the_others(shop, postman, desk):
    mario()
    this = shop.token(MARIO, GOOD_PASSWORD)
    other = shop.token(MARIO, GOOD_PASSWORD)
    response = shop.change_password(this, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)
    assert response["statusCode"] == 204
    assert response["headers"]["Cache-Control"] == "no-store"
    assert is_valid(this)
    assert shop.me(this)["statusCode"] == 200
    assert authorize(other) == UNAUTHORIZED
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 401
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200

    [request] = postman.queued_requests()
    assert request["template_id"] == "password_changed"
    assert request["to"] == MARIO
    assert OTHER_GOOD_PASSWORD not in str(request)
    postman.drain()
    [email] = postman.sent_to(MARIO)
    assert email["subject"] == "Palestra Aurora: la password è stata cambiata"
    assert OTHER_GOOD_PASSWORD not in email["text"] + email["html"]
    # The audit trail has the change and the sessions it ended, by the customer.
    events = desk.events(MARIO)["json"]["items"]
    [revoked] = [e for e in events if e["action"] == "sessions.revoked"]
    assert "password.changed" in [e["action"] for e in events]
    assert revoked["details"] == {"cause": "password.changed", "scope": "others"}
    assert revoked["actor"] == {"type": "customer", "id": MARIO, "email": None}
    # The session can change it again.
    assert shop.change_password(this, OTHER_GOOD_PASSWORD, THIRD_GOOD_PASSWORD)["statusCode"] == 204


def test_a_wrong_current_password_is_403_and_changes_nothing(shop, postman):
    mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    other = shop.token(MARIO, GOOD_PASSWORD)
    response = shop.change_password(token, "a wrong current password", OTHER_GOOD_PASSWORD)
    assert response["statusCode"] == 403
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response["json"]["errors"]] == ["current_password"]
    assert is_valid(token) and is_valid(other)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert postman.queued_requests() == []


def test_mismatched_or_weak_new_passwords_are_422(shop, postman):
    mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    mismatch = shop.change_password(token, GOOD_PASSWORD, OTHER_GOOD_PASSWORD, "something else")
    assert mismatch["statusCode"] == 422
    assert mismatch["json"]["type"] == "password_mismatch"
    for weak, reason in [
        ("short one", "too_short"),
        ("passwordpassword", "common_or_guessable"),
        ("mario.rossi tramonto viola", "context_word"),
    ]:
        response = shop.change_password(token, GOOD_PASSWORD, weak)
        assert response["statusCode"] == 422, weak
        assert response["json"]["type"] == "weak_password"
        # The request's own field: PUT /me/password takes the new one as new_password.
        assert response["json"]["errors"] == [{"field": "new_password", "reason": reason}]
    assert is_valid(token)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert postman.queued_requests() == []


def test_change_password_needs_a_session(shop):
    mario()
    assert shop.change_password(None, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)["statusCode"] == 401
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


# ---- what ends every session -------------------------------------------------------------


def two_sessions(shop) -> list[str]:
    return [shop.token(MARIO, GOOD_PASSWORD) for _ in range(2)]


def test_an_operator_password_ends_every_session(shop, desk):
    mario()
    tokens = two_sessions(shop)
    assert desk.set_password(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    assert [authorize(t) for t in tokens] == [UNAUTHORIZED, UNAUTHORIZED]


def test_disabling_the_account_ends_every_session_and_enabling_does_not_revive_them(shop, desk):
    mario()
    tokens = two_sessions(shop)
    assert desk.disable(MARIO)["statusCode"] == 200
    assert [authorize(t) for t in tokens] == [UNAUTHORIZED, UNAUTHORIZED]
    assert desk.enable(MARIO)["statusCode"] == 200
    assert [authorize(t) for t in tokens] == [UNAUTHORIZED, UNAUTHORIZED]
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_an_operator_reset_ends_every_session(shop):
    [customer_id] = mario()
    tokens = two_sessions(shop)
    assert Operator().reset_password(customer_id)["statusCode"] == 202
    assert [authorize(t) for t in tokens] == [UNAUTHORIZED, UNAUTHORIZED]


def test_a_dissociated_customer_disappears_from_the_session_at_once(shop, desk):
    mario_id, luca_id = mario(("Mario", "Rossi"), ("Luca", "Rossi"))
    token = shop.token(MARIO, GOOD_PASSWORD)
    assert desk.dissociate(luca_id)["statusCode"] == 204
    response = shop.me(token)
    assert response["statusCode"] == 200
    assert [c["customer_id"] for c in response["json"]["customers"]] == [mario_id]
    assert luca_id not in authorize(token, "GET /bookings")["context"]["customers"]
    # Losing the last customer ends the session.
    assert desk.dissociate(mario_id)["statusCode"] == 204
    assert authorize(token) == UNAUTHORIZED
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 401


# ---- temporary passwords -----------------------------------------------------------------


def test_a_temporary_password_session_may_only_change_the_password(shop, desk):
    mario()
    assert desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=True)["statusCode"] == 204
    login = shop.login(MARIO, OTHER_GOOD_PASSWORD)
    assert login["json"]["password_change_required"] is True
    token = login["json"]["token"]

    for route in ("GET /bookings", "POST /purchases", "POST /auth/password/forgot", "GET /me/x"):
        assert authorize(token, route) == {"isAuthorized": False}, route
    for route in ("GET /me", "PUT /me/password", "POST /auth/logout"):
        assert authorize(token, route)["isAuthorized"] is True, route
    me = shop.me(token)
    assert me["statusCode"] == 200
    assert me["json"]["password_change_required"] is True

    assert (
        shop.change_password(token, OTHER_GOOD_PASSWORD, THIRD_GOOD_PASSWORD)["statusCode"] == 204
    )
    # The same session is now a full one.
    assert authorize(token, "GET /bookings")["isAuthorized"] is True
    assert shop.me(token)["json"]["password_change_required"] is False
    assert shop.login(MARIO, THIRD_GOOD_PASSWORD)["json"]["password_change_required"] is False


def test_a_temporary_password_session_ends_when_the_password_expires(shop, desk, frozen_clock):
    mario()
    desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=True)
    frozen_clock.advance(days=7, seconds=-120)
    token = shop.token(MARIO, OTHER_GOOD_PASSWORD)
    assert is_valid(token)
    frozen_clock.advance(seconds=120)
    assert authorize(token) == UNAUTHORIZED


def test_operator_routes_refuse_a_session_token(shop, desk):
    mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    # What reaches an operator function when no operator JWT was verified: no claims.
    response = call(
        get_account_handler,
        "GET",
        f"/operator/accounts/{enc(MARIO)}",
        headers={"authorization": f"Bearer {token}"},
        claims=None,
    )
    assert response["statusCode"] == 401
    assert MARIO not in response["body"]


@pytest.mark.parametrize("timeout", [4, 30, 300])
def test_a_session_in_constant_use_survives_a_short_idle_timeout(
    shop, frozen_clock, monkeypatch, timeout
):
    # Activity is recorded at most once a minute by default: with an idle timeout under
    # that, a session used all the time must still not end.
    monkeypatch.setenv("SESSION_IDLE_TIMEOUT_SECONDS", str(timeout))
    get_settings.cache_clear()
    mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    step = max(1, timeout // 4)
    for _ in range(12):  # three idle timeouts in total
        frozen_clock.advance(seconds=step)
        assert shop.me(token)["statusCode"] == 200, frozen_clock
    # ... and once left alone, it ends.
    frozen_clock.advance(seconds=timeout)
    assert authorize(token) == UNAUTHORIZED


# ---- the authorizer's context as the handlers receive it ---------------------------------


@pytest.mark.parametrize(
    ("passed", "required"),
    [(True, True), ("true", True), ("True", True), (False, False), ("false", False), (None, False)],
)
def test_the_password_change_flag_reads_the_same_as_a_boolean_or_a_string(
    clean_aws, passed, required
):
    """The authorizer returns a boolean; what reaches the handler in a payload-2.0 event
    may be its string form ("true", or Python's "True"): each must read the same, or a
    session on a temporary password would look like one that may do anything."""
    event = json.loads((template.ROOT / "events/me_get.json").read_text())
    context = event["requestContext"]["authorizer"]["lambda"]
    if passed is None:
        del context["password_change_required"]
    else:
        context["password_change_required"] = passed
    response = me_handler(event, FakeContext())
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["password_change_required"] is required


@pytest.fixture
def idle_timeout(monkeypatch):
    def configure(seconds: int) -> None:
        monkeypatch.setenv("SESSION_IDLE_TIMEOUT_SECONDS", str(seconds))
        get_settings.cache_clear()

    return configure


def test_activity_is_recorded_once_a_tenth_of_the_idle_timeout_has_passed(
    shop, frozen_clock, idle_timeout
):
    """A short idle timeout (under ten touch intervals) records use every tenth of it,
    rounded down to whole seconds: 105 s, every 10 s. A request exactly 10 s after the
    last record counts, so the session lives until 10 + 105 s."""
    idle_timeout(105)
    mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    frozen_clock.advance(seconds=10)
    assert is_valid(token)
    frozen_clock.advance(seconds=104)  # 114 s after the login, 104 s after the last use
    assert is_valid(token)


def test_use_sooner_than_a_tenth_of_the_idle_timeout_is_not_recorded(
    shop, frozen_clock, idle_timeout
):
    idle_timeout(100)  # a record every 10 s
    mario()
    token = shop.token(MARIO, GOOD_PASSWORD)
    frozen_clock.advance(seconds=9)
    assert is_valid(token)  # not recorded: the session still ends 100 s after the login
    frozen_clock.advance(seconds=91)
    assert authorize(token) == UNAUTHORIZED


@pytest.mark.parametrize(
    "token",
    [
        "bWFyaW8ucm9zc2lAZXhhbXBsZS5jb20",  # no dot
        "bWFyaW8ucm9zc2lAZXhhbXBsZS5jb20.",  # no secret
        "bWFyaW8ucm9zc2lAZXhhbXBsZS5jb20." + "A" * 993,  # 1025 characters
    ],
)
def test_a_malformed_bearer_is_refused_without_a_read(shop, token):
    from tests.unit.test_security_rules_storage import reads

    mario()
    with reads() as seen, faults.failing("BatchGetItem", "ThrottlingException") as batch:
        assert authorize(token) == UNAUTHORIZED
    assert (seen, batch.seen) == ([], 0)


def test_a_bearer_of_1024_characters_is_looked_up(shop):
    mario()
    token = "bWFyaW8ucm9zc2lAZXhhbXBsZS5jb20." + "A" * 992
    assert len(token) == 1024
    with faults.failing("BatchGetItem", "ThrottlingException") as batch:
        authorize(token)
    assert batch.seen == 1
