"""F12 login, and the brute-force throttle in front of it."""

from __future__ import annotations

import base64
import json

import pytest
from argon2 import PasswordHasher

from functions.auth_forgot_password.app import handler as forgot_handler
from functions.auth_login.app import handler as login_handler
from functions.auth_reset_password.app import handler as reset_handler
from functions.auth_verify_reset_link.app import handler as verify_link_handler
from portal_accounts import clients
from portal_accounts import dynamodb as store
from portal_accounts.config import get_settings
from portal_accounts.credentials import passwords
from portal_accounts.credentials.sessions import hash_token
from portal_accounts.models import AccountModel, SessionModel
from portal_accounts.signin import auth
from tests.helpers import call
from tests.unit.clients import (
    GOOD_PASSWORD,
    OTHER_GOOD_PASSWORD,
    dynamodb_refuses_empty_keys,
    is_valid,
    link_in,
    seed_account,
)

MARIO = "mario.rossi@example.com"
WRONG = "not the right password at all"


def max_failures() -> int:
    return get_settings().login_max_failures


def actions_of(desk, username=MARIO) -> list[str]:
    return [e["action"] for e in desk.events(username, limit=100)["json"]["items"]]


# ---- login -------------------------------------------------------------------------------


def test_login_answers_a_session_with_the_linked_customers(shop, frozen_clock):
    account = seed_account(MARIO, [("Mario", "Rossi"), ("Luca", "Rossi")])
    response = shop.login(MARIO, GOOD_PASSWORD)
    assert response["statusCode"] == 200, response
    assert response["headers"]["Cache-Control"] == "no-store"
    body = response["json"]
    assert set(body) == {"token", "expires_at", "password_change_required", "customers"}
    assert body["expires_at"] == "2026-01-01T21:00:00Z"  # + SESSION_TTL_SECONDS (12 h)
    assert body["password_change_required"] is False
    linked = account.customers.as_dict()
    assert sorted(body["customers"], key=lambda c: c["first_name"]) == sorted(
        [
            {"customer_id": cid, "first_name": c["first_name"], "last_name": c["last_name"]}
            for cid, c in linked.items()
        ],
        key=lambda c: c["first_name"],
    )


def test_the_token_is_opaque_with_256_random_bits(shop):
    seed_account(MARIO, [("Mario", "Rossi")])
    tokens = [shop.token(MARIO, GOOD_PASSWORD) for _ in range(2)]
    assert tokens[0] != tokens[1]
    for token in tokens:
        _, dot, secret = token.partition(".")
        assert dot
        raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
        assert len(raw) >= 32
        assert GOOD_PASSWORD not in token
    secrets_part = [t.partition(".")[2] for t in tokens]
    assert secrets_part[0] != secrets_part[1]


def test_the_session_lifetime_follows_the_setting(shop, frozen_clock, monkeypatch):
    monkeypatch.setenv("SESSION_TTL_SECONDS", "600")
    get_settings.cache_clear()
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.login(MARIO, GOOD_PASSWORD)["json"]["expires_at"] == "2026-01-01T09:10:00Z"


def test_the_stored_session_holds_a_hash_not_the_token(shop):
    seed_account(MARIO, [("Mario", "Rossi")])
    token = shop.token(MARIO, GOOD_PASSWORD)
    [session] = list(SessionModel.scan())
    assert session.session_hash == hash_token(token)
    stored = json.dumps(session.serialize())
    assert token not in stored
    assert token.partition(".")[2] not in stored


def test_usernames_are_case_insensitive(shop):
    seed_account(MARIO, [("Mario", "Rossi")])
    response = shop.login("  Mario.ROSSI@Example.COM ", GOOD_PASSWORD)
    assert response["statusCode"] == 200
    assert is_valid(response["json"]["token"])


def test_passwords_are_compared_as_typed(shop):
    seed_account(MARIO, [("Mario", "Rossi")])
    for variant in (GOOD_PASSWORD.upper(), GOOD_PASSWORD + " ", " " + GOOD_PASSWORD):
        assert shop.login(MARIO, variant)["statusCode"] == 401, variant


def test_every_login_failure_gets_the_same_answer(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    seed_account("spento@example.com", [("Spento", "Neri")], status="disabled")
    seed_account("orfano@example.com", [])
    temporary_customer = desk.customer("Tina", "Tempo", "tina@example.com")
    assert desk.create_account(temporary_customer, temporary=True)["statusCode"] == 201
    frozen_clock.advance(days=7, seconds=1)  # Tina's temporary password has expired

    failures = {
        "unknown username": shop.login("nessuno@example.com", GOOD_PASSWORD),
        "wrong password": shop.login(MARIO, WRONG),
        "disabled account": shop.login("spento@example.com", GOOD_PASSWORD),
        "no linked customer": shop.login("orfano@example.com", GOOD_PASSWORD),
        "expired temporary password": shop.login("tina@example.com", GOOD_PASSWORD),
        "not even an email": shop.login("mario", GOOD_PASSWORD),
    }
    bodies = set()
    for why, response in failures.items():
        assert response["statusCode"] == 401, why
        assert response["headers"]["Content-Type"] == "application/problem+json", why
        assert response["headers"]["Cache-Control"] == "no-store", why
        assert "token" not in response["json"], why
        bodies.add(response["body"])
    assert len(bodies) == 1
    # The right password still works for the one that is fine.
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_an_unknown_username_costs_a_password_check_too(shop, monkeypatch):
    seed_account(MARIO, [("Mario", "Rossi")])
    checks = []
    original = auth.verify_password

    def counting(password_hash, password):
        checks.append(password_hash)
        return original(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    shop.login("nessuno@example.com", GOOD_PASSWORD)
    shop.login(MARIO, WRONG)
    assert len(checks) == 2


def test_login_rehashes_a_password_stored_with_weaker_parameters(shop):
    account = seed_account(MARIO, [("Mario", "Rossi")])
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(GOOD_PASSWORD)
    account.update(actions=[AccountModel.password_hash.set(weak_hash)])
    assert passwords.needs_rehash(weak_hash)

    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    stored = AccountModel.get(MARIO, consistent_read=True).password_hash
    assert stored != weak_hash
    assert stored.startswith("$argon2id$")
    assert not passwords.needs_rehash(stored)
    assert passwords.verify_password(stored, GOOD_PASSWORD)
    # And logging in again leaves it alone.
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert AccountModel.get(MARIO, consistent_read=True).password_hash == stored


def test_a_failed_login_does_not_rehash(shop):
    account = seed_account(MARIO, [("Mario", "Rossi")])
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(GOOD_PASSWORD)
    account.update(actions=[AccountModel.password_hash.set(weak_hash)])
    assert shop.login(MARIO, WRONG)["statusCode"] == 401
    assert AccountModel.get(MARIO, consistent_read=True).password_hash == weak_hash


def test_login_records_last_login(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    frozen_clock.advance(minutes=5)
    shop.login(MARIO, GOOD_PASSWORD)
    assert desk.get_account(MARIO)["json"]["last_login_at"] == "2026-01-01T09:05:00Z"


@pytest.mark.parametrize("username", ["", "   ", "\t"])
def test_an_empty_username_is_refused_not_a_500(shop, username):
    # On DynamoDB an empty key is a ValidationException (moto does not check it in
    # BatchGetItem, so the rule is added here): it must never reach the table.
    seed_account(MARIO, [("Mario", "Rossi")])
    with dynamodb_refuses_empty_keys():
        response = shop.login(username, GOOD_PASSWORD)
    assert response["statusCode"] in (401, 422)
    assert response["headers"]["Content-Type"] == "application/problem+json"


def test_bad_login_bodies_are_4xx_not_500(shop):
    for body in ('{"username": 1}', "{", '{"username": "a@b.c"}', '{"x": 1}'):
        response = call(login_handler, "POST", "/auth/login", body=body, claims=None)
        assert response["statusCode"] in (400, 422), body


def test_lone_surrogates_are_a_422_on_every_storefront_route_without_a_session(shop):
    # "\ud800" is valid JSON, but no text encoder (argon2's, a token hash's) takes it.
    seed_account(MARIO, [("Mario", "Rossi")])
    odd = "\ud800" * 16
    routes = [
        (login_handler, "/auth/login", {"username": MARIO, "password": odd}),
        (login_handler, "/auth/login", {"username": odd + "@example.com", "password": odd}),
        (verify_link_handler, "/auth/password/reset/verify", {"token": odd}),
        (
            reset_handler,
            "/auth/password/reset",
            {"token": odd, "password": odd, "password_confirmation": odd},
        ),
        (forgot_handler, "/auth/password/forgot", {"email": odd + "@example.com"}),
    ]
    for handler, path, body in routes:
        response = call(handler, "POST", path, body=json.dumps(body), claims=None)
        assert response["statusCode"] == 422, (path, body, response)
        assert response["headers"]["Content-Type"] == "application/problem+json"
        assert response["json"]["errors"], path


# ---- throttling --------------------------------------------------------------------------


def fail_until_throttled(shop, username) -> tuple[list[int], dict]:
    """Wrong passwords at one instant until a 429; (the statuses, the 429 response)."""
    statuses = []
    for _ in range(max_failures() + 3):
        response = shop.login(username, WRONG)
        statuses.append(response["statusCode"])
        if response["statusCode"] == 429:
            return statuses, response
    raise AssertionError(f"never throttled: {statuses}")


def retry_after(response) -> int:
    value = response["headers"]["Retry-After"]
    assert value.isdigit(), value
    assert int(value) > 0
    return int(value)


def test_failures_beyond_the_limit_are_throttled_with_retry_after(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    statuses, throttled = fail_until_throttled(shop, MARIO)
    # LOGIN_MAX_FAILURES failures are free; the throttle answers right after.
    assert statuses[: max_failures()] == [401] * max_failures()
    assert len(statuses) <= max_failures() + 2
    assert throttled["json"]["type"] == "too_many_requests"
    assert throttled["headers"]["Content-Type"] == "application/problem+json"
    assert throttled["headers"]["Cache-Control"] == "no-store"
    retry_after(throttled)


def test_the_delay_rises(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    _, throttled = fail_until_throttled(shop, MARIO)
    delays = [retry_after(throttled)]
    for _ in range(3):
        frozen_clock.advance(seconds=delays[-1])
        assert shop.login(MARIO, WRONG)["statusCode"] == 401  # the window's one attempt
        throttled = shop.login(MARIO, WRONG)
        assert throttled["statusCode"] == 429
        delays.append(retry_after(throttled))
    assert delays == sorted(delays) and len(set(delays)) == len(delays), delays


def test_retry_after_counts_down(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    _, throttled = fail_until_throttled(shop, MARIO)
    frozen_clock.advance(seconds=1)
    for _ in range(3):  # the delay rises enough to observe it
        frozen_clock.advance(seconds=retry_after(throttled))
        shop.login(MARIO, WRONG)
        throttled = shop.login(MARIO, WRONG)
    first = retry_after(throttled)
    assert first >= 2
    frozen_clock.advance(seconds=1)
    assert retry_after(shop.login(MARIO, WRONG)) == first - 1


def test_unknown_usernames_are_throttled_the_same_way(shop, frozen_clock):
    statuses, throttled = fail_until_throttled(shop, "nessuno@example.com")
    assert statuses[: max_failures()] == [401] * max_failures()
    retry_after(throttled)
    # Other usernames are not affected.
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_the_right_password_while_throttled_is_still_429(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    fail_until_throttled(shop, MARIO)
    response = shop.login(MARIO, GOOD_PASSWORD)
    assert response["statusCode"] == 429
    assert "token" not in response["json"]
    # Another spelling of the same username is the same throttle.
    assert shop.login(MARIO.upper(), GOOD_PASSWORD)["statusCode"] == 429


def test_once_the_delay_is_over_the_right_password_works_and_clears_it(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    _, throttled = fail_until_throttled(shop, MARIO)
    frozen_clock.advance(seconds=retry_after(throttled))
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    # Cleared: a fresh allowance of free failures.
    for _ in range(max_failures()):
        assert shop.login(MARIO, WRONG)["statusCode"] == 401


def test_a_reset_lifts_the_throttle(shop, postman, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    fail_until_throttled(shop, MARIO)
    # Throttling never blocks recovery.
    assert shop.forgot(MARIO)["statusCode"] == 202
    postman.drain()
    [email] = postman.sent_to(MARIO)
    _, token = link_in(email)
    assert shop.reset(token, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200


def test_an_operator_password_lifts_the_throttle(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    fail_until_throttled(shop, MARIO)
    assert desk.get_account(MARIO)["json"]["locked_until"] is not None
    assert desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=False)["statusCode"] == 204
    assert desk.get_account(MARIO)["json"]["locked_until"] is None
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200


def test_the_audit_trail_shows_failures_throttling_and_success(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    _, throttled = fail_until_throttled(shop, MARIO)
    frozen_clock.advance(seconds=retry_after(throttled))
    shop.login(MARIO, GOOD_PASSWORD)
    events = desk.events(MARIO, limit=100)["json"]["items"]
    actions = [e["action"] for e in events]
    assert actions[0] == "login.succeeded"
    assert "login.throttled" in actions
    assert actions.count("login.failed") >= max_failures()
    failed = next(e for e in events if e["action"] == "login.failed")
    assert failed["details"] == {"reason": "wrong_password"}
    assert failed["actor"]["type"] == "customer"
    assert all(e["at"] for e in events)
    assert WRONG not in json.dumps(events) and GOOD_PASSWORD not in json.dumps(events)


# ---- DynamoDB leaving keys unprocessed ------------------------------------------------------


def _unprocessed(client, monkeypatch, *, give_up_after: int | None = None) -> list[float]:
    """BatchGetItem answers "unprocessed" for every key (throttling), `give_up_after` times
    or for ever; returns the pauses the retries took."""
    real, calls, pauses = client.batch_get_item, [], []

    def throttled(**kwargs):
        calls.append(kwargs)
        if give_up_after is None or len(calls) <= give_up_after:
            return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}
        return real(**kwargs)

    monkeypatch.setattr(client, "batch_get_item", throttled)
    monkeypatch.setattr(store, "_pause", pauses.append)
    return pauses


def test_a_login_retries_keys_dynamodb_left_unprocessed(shop, monkeypatch):
    seed_account(MARIO, [("Mario", "Rossi")])
    pauses = _unprocessed(clients.dynamodb().client, monkeypatch, give_up_after=2)
    response = shop.login(MARIO, GOOD_PASSWORD)
    assert response["statusCode"] == 200, response
    assert pauses == [0.025, 0.05]


def test_a_login_dynamodb_keeps_throttling_is_503_not_a_refusal(shop, monkeypatch):
    seed_account(MARIO, [("Mario", "Rossi")])
    pauses = _unprocessed(clients.dynamodb().client, monkeypatch)
    response = shop.login(MARIO, GOOD_PASSWORD)
    # Not the generic 401: the account exists, the client should try again shortly.
    assert response["statusCode"] == 503, response
    assert response["headers"]["Retry-After"] == "1"
    assert response["json"]["type"] == "temporarily_unavailable"
    assert pauses == [0.025, 0.05, 0.1, 0.2]
    assert AccountModel.get(MARIO).last_login_at is None
