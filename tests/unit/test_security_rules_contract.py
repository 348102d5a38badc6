"""What clients and operators read from the security rules (issue 15): each refusal's
problem document (status, `type`, the `detail` a storefront shows, the field and reason)
and each audit event's action and details. The `type` codes and the actions are contract;
the details are what a customer is told to do next.
"""

from __future__ import annotations

import pytest

from portal_accounts import audit
from tests.unit.clients import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, seed_account
from tests.unit.test_storefront_recovery import request_link

MARIO = "mario.rossi@example.com"
NOBODY = "nessuno@example.com"
WRONG = "not the right password at all"
GENERIC = "The username or the password is not correct."


def problem(response, status: int, type_: str) -> dict:
    assert response["statusCode"] == status, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert response["json"]["type"] == type_
    return response["json"]


def audited(username=MARIO) -> list[tuple[str, dict]]:
    """(action, details) of the username's events (any order: the clock is frozen), also
    for a username with no account."""
    items = audit.list_events(audit.account_subject(username), limit=100, cursor=None).items
    return [(e["action"], e.get("details") or {}) for e in items]


# ---- logins ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "before", "reason"),
    [
        (NOBODY, GOOD_PASSWORD, None, "unknown_username"),
        (MARIO, WRONG, None, "wrong_password"),
        (MARIO, GOOD_PASSWORD, "disabled", "account_disabled"),
        (MARIO, GOOD_PASSWORD, "unlinked", "no_linked_customer"),
        (MARIO, OTHER_GOOD_PASSWORD, "expired", "temporary_password_expired"),
    ],
)
def test_each_refused_login_gets_one_answer_and_its_own_audit_reason(
    shop, desk, frozen_clock, username, password, before, reason
):
    account = seed_account(MARIO, [("Mario", "Rossi")])
    if before == "disabled":
        desk.disable(MARIO)
    elif before == "unlinked":
        [customer_id] = account.customers.as_dict()
        desk.dissociate(customer_id)
    elif before == "expired":
        desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=True)
        frozen_clock.advance(days=8)
    refused = problem(shop.login(username, password), 401, "unauthorized")
    assert refused["detail"] == GENERIC
    assert ("login.failed", {"reason": reason}) in audited(username)


def test_a_login_is_audited_as_succeeded(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert ("login.succeeded", {}) in audited()


def test_the_throttles_answers_say_how_long_to_wait(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(5):
        shop.login(MARIO, WRONG)
    one = problem(shop.login(MARIO, WRONG), 429, "too_many_requests")
    assert one["detail"] == (
        "Too many failed attempts: try again in 1 second, or reset the password."
    )
    frozen_clock.advance(seconds=1)
    shop.login(MARIO, WRONG)
    two = problem(shop.login(MARIO, WRONG), 429, "too_many_requests")
    assert two["detail"] == (
        "Too many failed attempts: try again in 2 seconds, or reset the password."
    )
    assert ("login.throttled", {}) in audited()


def test_a_lockout_says_how_to_get_back_in(shop, frozen_clock, monkeypatch):
    from portal_accounts.config import get_settings

    monkeypatch.setenv("LOGIN_LOCKOUT_FAILURES", "5")
    get_settings.cache_clear()
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(5):
        shop.login(MARIO, WRONG)
    locked = problem(shop.login(MARIO, GOOD_PASSWORD), 429, "too_many_requests")
    assert locked["detail"] == (
        "Too many failed attempts: this login is locked. Reset the password with "
        '"forgot password", or ask us to unlock it.'
    )
    get_settings.cache_clear()


# ---- the customer's own password change --------------------------------------------------


def test_a_password_change_refusals(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    mismatch = problem(
        shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD, "something else"),
        422,
        "password_mismatch",
    )
    assert mismatch["detail"] == "The two new passwords do not match."
    assert mismatch["errors"] == [{"field": "new_password_confirmation", "reason": "mismatch"}]
    wrong = problem(shop.change_password(session, WRONG, OTHER_GOOD_PASSWORD), 403, "forbidden")
    assert wrong["detail"] == "The current password is not correct."
    assert wrong["errors"] == [{"field": "current_password", "reason": "incorrect"}]
    assert ("password.change_refused", {"reason": "wrong_current_password"}) in audited()
    reused = problem(
        shop.change_password(session, GOOD_PASSWORD, GOOD_PASSWORD), 422, "password_reused"
    )
    assert reused["errors"] == [{"field": "new_password", "reason": "reused"}]


def test_a_change_whose_session_ended_meanwhile_says_to_log_in_again(shop, monkeypatch):
    from portal_accounts.credentials.sessions import hash_token
    from portal_accounts.models import SessionModel
    from portal_accounts.signin import auth
    from tests.unit.test_races import after_read

    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    logout = lambda: SessionModel(hash_token(session)).delete()  # noqa: E731
    after_read(monkeypatch, auth, "verify_password", logout)
    ended = problem(
        shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD), 401, "unauthorized"
    )
    assert ended["detail"] == "Your session has ended: log in again."


def test_a_password_change_and_a_logout_are_audited(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    assert shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    assert ("password.changed", {}) in audited()
    assert ("sessions.revoked", {"cause": "password.changed", "scope": "others"}) in audited()
    assert shop.logout(session)["statusCode"] == 204
    assert ("session.logged_out", {}) in audited()


# ---- the reset ---------------------------------------------------------------------------


def test_the_reset_refusals(shop, postman):
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    mismatch = problem(
        shop.reset(token, OTHER_GOOD_PASSWORD, "something else"), 422, "password_mismatch"
    )
    assert mismatch["detail"] == "The two passwords do not match."
    assert mismatch["errors"] == [{"field": "password_confirmation", "reason": "mismatch"}]
    reused = problem(shop.reset(token, GOOD_PASSWORD), 422, "password_reused")
    assert reused["errors"] == [{"field": "password", "reason": "reused"}]


def test_a_reset_is_audited(shop, postman):
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    assert shop.reset(token, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    events = audited()
    assert ("password.reset_requested", {}) in events
    assert ("password.reset_completed", {"link": "reset"}) in events
    assert ("sessions.revoked", {"cause": "password.reset_completed", "scope": "all"}) in events


def test_a_reset_and_a_refused_one_are_the_customers_own_acts(shop, postman, desk):
    """Who did it is part of every audit event: a reset (and the sessions it ended) and a
    reset refused for reusing the password are the customer's, not an operator's."""
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    assert shop.reset(token, GOOD_PASSWORD)["statusCode"] == 422  # password_reused
    assert shop.reset(token, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    actors = {
        e["action"]: e["actor"]
        for e in desk.events(MARIO)["json"]["items"]
        if e["action"] in ("password.reset_refused", "password.reset_completed", "sessions.revoked")
    }
    customer = {"type": "customer", "id": MARIO, "email": None}
    assert actors == {
        "password.reset_refused": customer,
        "password.reset_completed": customer,
        "sessions.revoked": customer,
    }


def test_a_malformed_forgot_address_says_why(shop):
    refused = problem(shop.forgot("not-an-email"), 422, "validation_error")
    assert refused["detail"].startswith("The email is not valid: ")
    [error] = refused["errors"]
    assert error["field"] == "email"
    assert refused["detail"] == f"The email is not valid: {error['reason']}"


# ---- the password policy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason", "detail"),
    [
        ("fiume lampada", "too_short", "The password must be at least 15 characters long."),
        ("x" * 129, "too_long", "The password must be at most 128 characters long."),
        (
            "lanterna mario molo antico",
            "context_word",
            "The password must not contain the username, the customer's name or the business name.",
        ),
        (
            "passwordpassword",
            "common_or_guessable",
            "The password is too easy to guess (a common password or a simple pattern). "
            "A few unrelated words make a strong one.",
        ),
    ],
)
def test_a_weak_password_is_told_why(shop, postman, password, reason, detail):
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    weak = problem(shop.reset(token, password), 422, "weak_password")
    assert weak["detail"] == detail
    assert weak["errors"] == [{"field": "password", "reason": reason}]


def test_a_logout_is_the_customers_own_act(shop, desk):
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    assert shop.logout(session)["statusCode"] == 204
    [logged_out] = [
        e for e in desk.events(MARIO)["json"]["items"] if e["action"] == "session.logged_out"
    ]
    assert logged_out["actor"] == {"type": "customer", "id": MARIO, "email": None}


def test_a_change_for_an_account_gone_meanwhile_says_to_log_in_again(clean_aws):
    from portal_accounts.credentials.sessions import Principal
    from portal_accounts.errors import AuthenticationFailed
    from portal_accounts.signin import auth

    gone = Principal(
        username=NOBODY, session_hash="0" * 64, customers=[], password_change_required=False
    )
    with pytest.raises(AuthenticationFailed) as ended:
        auth.change_password(
            gone, current=GOOD_PASSWORD, new=OTHER_GOOD_PASSWORD, confirmation=OTHER_GOOD_PASSWORD
        )
    assert ended.value.detail == "Your session has ended: log in again."


# ---- the "password changed" notice -------------------------------------------------------


def test_the_password_changed_notice_greets_in_the_customers_language_with_the_time(
    shop, postman, desk, frozen_clock
):
    customer_id = desk.customer("John", "Smith", "john.smith@example.com", locale="en")
    assert desk.create_account(customer_id, temporary=False)["statusCode"] == 201
    session = shop.token("john.smith@example.com", GOOD_PASSWORD)
    frozen_clock.advance(minutes=7)
    changed = shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)
    assert changed["statusCode"] == 204
    postman.drain()
    [email] = postman.sent_to("john.smith@example.com")
    assert email["text"].startswith("Hello John,")
    assert "was changed on 2026-01-01 09:07 UTC.\n" in email["text"]


def test_the_password_changed_notice_falls_back_to_the_default_language(shop, postman, monkeypatch):
    monkeypatch.setenv("DEFAULT_LOCALE", "en")
    from portal_accounts.config import get_settings

    get_settings.cache_clear()
    seed_account(MARIO, [("Mario", "Rossi")])  # seeded links carry no language
    session = shop.token(MARIO, GOOD_PASSWORD)
    assert shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    postman.drain()
    [email] = postman.sent_to(MARIO)
    assert email["text"].startswith("Hello Mario,")


def test_a_refused_login_is_the_customers_own_act(shop, desk):
    seed_account(MARIO, [("Mario", "Rossi")])
    shop.login(MARIO, WRONG)
    [failed] = [e for e in desk.events(MARIO)["json"]["items"] if e["action"] == "login.failed"]
    assert failed["actor"] == {"type": "customer", "id": MARIO, "email": None}


def test_a_username_with_nothing_to_look_up_gets_the_same_answer(shop):
    refused = problem(shop.login("   ", GOOD_PASSWORD), 401, "unauthorized")
    assert refused["detail"] == GENERIC


def test_a_login_whose_password_changed_meanwhile_gets_the_same_answer(shop, desk, monkeypatch):
    from portal_accounts.signin import auth
    from tests.unit.test_races import after_read

    seed_account(MARIO, [("Mario", "Rossi")])
    set_meanwhile = lambda: desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=False)  # noqa: E731
    after_read(monkeypatch, auth, "verify_password", set_meanwhile)
    refused = problem(shop.login(MARIO, GOOD_PASSWORD), 401, "unauthorized")
    assert refused["detail"] == GENERIC


# ---- the forgot request on the queue -----------------------------------------------------


def test_a_forgot_request_from_a_newer_sender_is_still_read():
    """During a deploy the API may queue fields this sender does not know: it reads what it
    knows; what is not a JSON object is refused as the message, not as a body."""
    from portal_accounts.signin.recovery import ForgotRequest
    from portal_accounts.validation import Invalid

    read = ForgotRequest.from_payload({"username": MARIO, "idempotency_key": "k", "new": 1})
    assert (read.username, read.idempotency_key) == (MARIO, "k")
    with pytest.raises(Invalid) as refused:
        ForgotRequest.from_payload(["not", "an", "object"])
    assert refused.value.errors == [{"field": "message", "reason": "must be a JSON object"}]


def test_a_forgot_request_exactly_one_interval_later_sends_again(shop, postman, frozen_clock):
    from portal_accounts.config import get_settings

    seed_account(MARIO, [("Mario", "Rossi")])
    request_link(shop, postman)
    frozen_clock.advance(seconds=get_settings().forgot_password_min_interval_seconds)
    request_link(shop, postman)
    assert len(postman.sent_to(MARIO)) == 2


def test_a_forgot_request_is_the_customers_own_act(shop, postman, desk):
    seed_account(MARIO, [("Mario", "Rossi")])
    request_link(shop, postman)
    [requested] = [
        e for e in desk.events(MARIO)["json"]["items"] if e["action"] == "password.reset_requested"
    ]
    assert requested["actor"] == {"type": "customer", "id": MARIO, "email": None}
