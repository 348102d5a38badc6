"""POST /operator/accounts/{username}/unlock: an operator with the admin scope ends a
username's login throttle or lockout at once, and the account's trail says who did it."""

from __future__ import annotations

from functions.operator_unlock_account.app import handler as unlock_handler
from tests.helpers import OPERATOR_CLAIMS, call
from tests.unit.clients import GOOD_PASSWORD, enc, seed_account

MARIO = "mario.rossi@example.com"
WRONG = "not the right password at all"


def unlock(username: str, claims: dict = OPERATOR_CLAIMS) -> dict:
    return call(unlock_handler, "POST", f"/operator/accounts/{enc(username)}/unlock", claims=claims)


def throttle(shop, username: str) -> None:
    """Wrong passwords until the login answers 429, even to the right password."""
    for _ in range(200):
        if shop.login(username, WRONG)["statusCode"] == 429:
            break
    assert shop.login(username, GOOD_PASSWORD)["statusCode"] == 429


def test_unlock_lets_the_right_password_in_at_once(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    throttle(shop, MARIO)

    response = unlock(MARIO.upper())  # usernames compare case-insensitively
    assert response["statusCode"] == 200, response
    assert response["json"]["username"] == MARIO
    assert response["json"]["status"] == "active"
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200

    (event,) = [e for e in desk.events(MARIO)["json"]["items"] if e["action"] == "account.unlocked"]
    assert event["actor"] == {"type": "operator", "id": "op-123", "email": "desk@palestra.example"}


def test_unlock_of_an_account_that_is_not_locked_is_harmless(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    assert unlock(MARIO)["statusCode"] == 200
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_unlock_of_an_unknown_account_is_a_404_problem(clean_aws):
    response = unlock("nobody@example.com")
    assert response["statusCode"] == 404
    assert response["json"]["type"] == "not_found"


def test_unlock_needs_the_admin_scope(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    throttle(shop, MARIO)
    response = unlock(MARIO, {**OPERATOR_CLAIMS, "scope": "portal-accounts/operator"})
    assert response["statusCode"] == 403
    assert response["json"]["type"] == "insufficient_scope"
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 429
