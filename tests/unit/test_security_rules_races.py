"""Security rules that only a write landing in between can show (issue 15).

Each test runs another request's write right after this request's read (`after_read`,
tests/unit/test_races.py), so the interleaving happens every time: the reset, the password
change and the session check must each notice that what they read is gone, answer as if it
had been gone from the start, and change nothing.
"""

from __future__ import annotations

import pytest

from portal_accounts.credentials import links, sessions
from portal_accounts.models import AccountModel, LinkTokenModel, SessionModel
from portal_accounts.signin import auth
from tests.unit.clients import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, seed_account
from tests.unit.test_races import after_read
from tests.unit.test_storefront_recovery import THIRD_GOOD_PASSWORD, assert_gone, request_link

MARIO = "mario.rossi@example.com"
# A username and names that share no word, to tell which of them refuses a password.
BLU = "tramonto.blu@example.com"
BLU_NAMES = [("Eleonora", "Castellani")]
GONE = "This link is not valid any more: request a new one from the login page."


def assert_refused_as_gone(response) -> None:
    """A reset whose link went between its verify and its write: the 410 a link gone
    before the verify gets, with the same detail, which the storefront shows as it is."""
    assert_gone(response)
    assert response["json"]["detail"] == GONE


def assert_password_is(shop, password: str, *, not_: tuple[str, ...]) -> None:
    assert shop.login(MARIO, password)["statusCode"] == 200
    for other in not_:
        assert shop.login(MARIO, other)["statusCode"] == 401


# ---- the reset: the link's guard, each half alone ---------------------------------------


def test_an_operator_password_set_between_verify_and_reset_wins(shop, postman, desk):
    """The link was issued under a credential version that moved after it was verified:
    the reset is 410 and the operator's password stands."""
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    set_meanwhile = lambda: desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=False)  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        after_read(patch, links, "verify", set_meanwhile)
        assert_refused_as_gone(shop.reset(token, THIRD_GOOD_PASSWORD))
    assert_password_is(shop, OTHER_GOOD_PASSWORD, not_=(THIRD_GOOD_PASSWORD, GOOD_PASSWORD))


def test_a_disable_between_verify_and_reset_wins(shop, postman, desk):
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    with pytest.MonkeyPatch.context() as patch:
        after_read(patch, links, "verify", lambda: desk.disable(MARIO))
        assert_refused_as_gone(shop.reset(token, THIRD_GOOD_PASSWORD))
    account = AccountModel.get(MARIO)
    assert account.status == "disabled"
    desk.enable(MARIO)
    assert_password_is(shop, GOOD_PASSWORD, not_=(THIRD_GOOD_PASSWORD,))


def test_a_newer_link_issued_between_verify_and_reset_replaces_this_one(
    shop, postman, frozen_clock
):
    """Same credential version, but the account points at another link now."""
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)

    def newer_link():
        frozen_clock.advance(days=1)  # past the forgot interval
        request_link(shop, postman)

    with pytest.MonkeyPatch.context() as patch:
        after_read(patch, links, "verify", newer_link)
        assert_refused_as_gone(shop.reset(token, THIRD_GOOD_PASSWORD))
    assert_password_is(shop, GOOD_PASSWORD, not_=(THIRD_GOOD_PASSWORD,))


def test_a_link_whose_item_is_gone_is_not_redeemed(shop, postman):
    """The account still points at the link, on the same version, but its item was
    deleted (consumed, or cleaned up) after the verify: no reset without the item."""
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    delete_item = lambda: LinkTokenModel(links.hash_token(token)).delete()  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        after_read(patch, links, "verify", delete_item)
        assert_refused_as_gone(shop.reset(token, THIRD_GOOD_PASSWORD))
    assert_password_is(shop, GOOD_PASSWORD, not_=(THIRD_GOOD_PASSWORD,))


# ---- the customer's own change -----------------------------------------------------------


def test_an_operator_password_set_during_a_customers_change_is_not_overwritten(shop, desk):
    """The operator's password landed after the change read the account: the change is
    refused (that session ended with the operator's change), nothing of it is written."""
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    set_meanwhile = lambda: desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=False)  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        after_read(patch, auth, "verify_password", set_meanwhile)
        changed = shop.change_password(session, GOOD_PASSWORD, THIRD_GOOD_PASSWORD)
    assert changed["statusCode"] == 401, changed
    assert_password_is(shop, OTHER_GOOD_PASSWORD, not_=(THIRD_GOOD_PASSWORD, GOOD_PASSWORD))


# ---- the session check -------------------------------------------------------------------


def test_a_logout_racing_a_sessions_touch_leaves_no_session(shop, frozen_clock):
    """The request read a valid session, then its logout landed, then the request records
    the activity: it must not write back a partial session item (no TTL, no expiry)."""
    seed_account(MARIO, [("Mario", "Rossi")])
    token = shop.token(MARIO, GOOD_PASSWORD)
    frozen_clock.advance(seconds=120)  # past the touch interval: this request records it

    def logout_meanwhile():
        SessionModel(sessions.hash_token(token)).delete()

    with pytest.MonkeyPatch.context() as patch:
        after_read(patch, sessions, "batch_get", logout_meanwhile)
        assert shop.me(token)["statusCode"] == 401
    assert list(SessionModel.scan()) == []


# ---- the password policy where a customer sets the password ----------------------------


@pytest.mark.parametrize("password", [BLU, "eleonora castellani"])
def test_a_reset_refuses_only_the_username_or_only_a_name(shop, postman, password):
    seed_account(BLU, BLU_NAMES)
    token = request_link(shop, postman, BLU)
    refused = shop.reset(token, password)
    assert refused["statusCode"] == 422, refused
    assert refused["json"]["errors"] == [{"field": "password", "reason": "context_word"}]


@pytest.mark.parametrize("password", [BLU, "eleonora castellani"])
def test_a_change_refuses_only_the_username_or_only_a_name(shop, password):
    seed_account(BLU, BLU_NAMES)
    session = shop.token(BLU, GOOD_PASSWORD)
    refused = shop.change_password(session, GOOD_PASSWORD, password)
    assert refused["statusCode"] == 422, refused
    assert refused["json"]["errors"] == [{"field": "new_password", "reason": "context_word"}]
