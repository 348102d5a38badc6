"""F5: forgot password → emailed link → new password. The same answer for any address,
one email per interval, links that are single use, expire in code, and die with any
password change."""

from __future__ import annotations

import pytest

from functions.auth_verify_reset_link.app import handler as verify_handler
from portal_accounts.config import get_settings
from portal_accounts.credentials.links import hash_token
from portal_accounts.models import LinkTokenModel
from tests.helpers import call
from tests.unit.clients import (
    GOOD_PASSWORD,
    OTHER_GOOD_PASSWORD,
    THIRD_GOOD_PASSWORD,
    UNAUTHORIZED,
    Operator,
    authorize,
    link_in,
    seed_account,
)

MARIO = "mario.rossi@example.com"


def mario():
    return seed_account(MARIO, [("Mario", "Rossi")])


def postman_log(username) -> list[dict]:
    """The account's email log, as the operator sees it (F15)."""
    return Operator().emails(username)["json"]["items"]


def reset_links(postman, address=MARIO) -> list[str]:
    """The tokens of the reset-link emails sent to the address, oldest first."""
    return [link_in(e)[1] for e in postman.sent_to(address)]


def request_link(shop, postman, address=MARIO) -> str:
    assert shop.forgot(address)["statusCode"] == 202
    postman.drain()
    return reset_links(postman, address)[-1]


def assert_gone(response) -> None:
    assert response["statusCode"] == 410, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert response["json"]["type"] == "invalid_or_expired_link"
    assert "request a new one" in response["json"]["detail"]


# ---- forgot ------------------------------------------------------------------------------


def test_forgot_answers_the_same_whatever_the_address(shop, postman):
    mario()
    seed_account("spento@example.com", [("Spento", "Neri")], status="disabled")
    seed_account("orfano@example.com", [])
    answers = [
        shop.forgot(MARIO),
        shop.forgot("nessuno@example.com"),
        shop.forgot("spento@example.com"),
        shop.forgot("orfano@example.com"),
    ]
    for response in answers:
        assert response["statusCode"] == 202
        assert response["headers"]["Cache-Control"] == "no-store"
    assert len({(r["body"], tuple(sorted(r["headers"].items()))) for r in answers}) == 1

    postman.drain()
    sent = postman.sent()
    assert [e["to"] for e in sent] == [MARIO]
    assert sent[0]["subject"] == "Palestra Aurora: reimposta la tua password"
    [entry] = postman_log(MARIO)
    assert (entry["template_id"], entry["status"]) == ("password_reset_link", "sent")


def test_forgot_finds_the_account_whatever_the_case(shop, postman):
    mario()
    assert shop.forgot("Mario.Rossi@EXAMPLE.com")["statusCode"] == 202
    postman.drain()
    assert [e["to"] for e in postman.sent()] == [MARIO]


@pytest.mark.parametrize("email", ["not-an-email", "mario@", "@example.com", "", "a b@c.d"])
def test_forgot_refuses_a_malformed_email(shop, postman, email):
    response = shop.forgot(email)
    assert response["statusCode"] == 422
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response["json"]["errors"]] == ["email"]
    assert postman.queued_requests() == []


def test_a_burst_of_requests_sends_one_email(shop, postman, frozen_clock):
    mario()
    for _ in range(5):
        assert shop.forgot(MARIO)["statusCode"] == 202
        frozen_clock.advance(seconds=5)
    postman.drain()
    assert len(postman.sent_to(MARIO)) == 1
    [token] = reset_links(postman)
    assert shop.verify(token)["statusCode"] == 200


def test_after_the_interval_a_new_link_replaces_the_old_one(shop, postman, frozen_clock):
    mario()
    older = request_link(shop, postman)
    frozen_clock.advance(seconds=get_settings().forgot_password_min_interval_seconds - 1)
    shop.forgot(MARIO)
    postman.drain()
    assert len(postman.sent_to(MARIO)) == 1  # still inside the interval
    frozen_clock.advance(seconds=2)
    newer = request_link(shop, postman)
    assert newer != older
    assert len(postman.sent_to(MARIO)) == 2
    assert_gone(shop.verify(older))
    assert_gone(shop.reset(older, OTHER_GOOD_PASSWORD))
    assert shop.verify(newer)["statusCode"] == 200


def test_the_reset_link_uses_the_storefront_base_url_not_the_host_header(
    shop, postman, monkeypatch
):
    monkeypatch.setenv("STOREFRONT_BASE_URL", "https://shop.palestra-aurora.example")
    get_settings.cache_clear()
    mario()
    response = shop.forgot(
        MARIO,
        headers={
            "host": "evil.example.net",
            "x-forwarded-host": "evil.example.net",
            "origin": "https://evil.example.net",
        },
    )
    assert response["statusCode"] == 202
    postman.drain()
    [email] = postman.sent()
    link, _ = link_in(email)
    assert link.startswith("https://shop.palestra-aurora.example/reset-password?token=")
    assert "evil" not in email["text"] + email["html"]


# ---- verify ------------------------------------------------------------------------------


def test_verifying_does_not_consume_the_link(shop, postman):
    mario()
    token = request_link(shop, postman)
    for _ in range(2):
        response = shop.verify(token)
        assert response["statusCode"] == 200
        assert response["json"] == {"valid": True}
    assert shop.reset(token, OTHER_GOOD_PASSWORD)["statusCode"] == 204


@pytest.mark.parametrize(
    "token",
    ["unknown-token-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x", "!!!", "é" * 10, "a" * 300],
)
def test_unknown_or_garbage_tokens_are_410(shop, postman, token):
    mario()
    request_link(shop, postman)
    assert_gone(shop.verify(token))
    assert_gone(shop.reset(token, OTHER_GOOD_PASSWORD))
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_an_empty_token_is_refused(shop):
    for response in (shop.verify(""), shop.reset("", OTHER_GOOD_PASSWORD)):
        assert response["statusCode"] in (410, 422)
        assert response["headers"]["Content-Type"] == "application/problem+json"


def test_a_token_is_never_taken_in_the_url(shop, postman):
    mario()
    token = request_link(shop, postman)
    response = call(
        verify_handler, "POST", "/auth/password/reset/verify", query={"token": token}, claims=None
    )
    assert response["statusCode"] in (400, 422)


# ---- reset -------------------------------------------------------------------------------


def test_reset_sets_the_password_ends_sessions_and_notifies(shop, postman, desk, frozen_clock):
    mario()
    session = shop.token(MARIO, GOOD_PASSWORD)
    token = request_link(shop, postman)
    frozen_clock.advance(minutes=10)

    response = shop.reset(token, OTHER_GOOD_PASSWORD)
    assert response["statusCode"] == 204
    assert response["headers"]["Cache-Control"] == "no-store"
    assert authorize(session) == UNAUTHORIZED
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 401
    login = shop.login(MARIO, OTHER_GOOD_PASSWORD)
    assert login["statusCode"] == 200
    assert login["json"]["password_change_required"] is False

    # Single use.
    assert_gone(shop.verify(token))
    assert_gone(shop.reset(token, THIRD_GOOD_PASSWORD))
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200

    [request] = postman.queued_requests()
    assert request["template_id"] == "password_changed"
    assert request["to"] == MARIO
    postman.drain()
    changed = [e for e in postman.sent_to(MARIO) if "cambiata" in e["subject"]]
    assert len(changed) == 1
    assert "2026-01-01 09:10 UTC" in changed[0]["text"]
    assert OTHER_GOOD_PASSWORD not in changed[0]["text"] + changed[0]["html"]
    events = desk.events(MARIO)["json"]["items"]
    actions = [e["action"] for e in events]
    assert "password.reset_completed" in actions
    [revoked] = [e for e in events if e["action"] == "sessions.revoked"]
    assert revoked["details"] == {"cause": "password.reset_completed", "scope": "all"}
    assert "password.reset_requested" in actions


def test_refused_attempts_do_not_consume_the_link(shop, postman):
    mario()
    token = request_link(shop, postman)
    mismatch = shop.reset(token, OTHER_GOOD_PASSWORD, "a different confirmation")
    assert mismatch["statusCode"] == 422
    assert mismatch["json"]["type"] == "password_mismatch"
    for weak, reason in [
        ("short", "too_short"),
        ("passwordpassword", "common_or_guessable"),
        ("rossi girasole stanco", "context_word"),
        ("palestra aurora girasole", "context_word"),
    ]:
        response = shop.reset(token, weak)
        assert response["statusCode"] == 422, weak
        assert response["json"]["type"] == "weak_password"
        assert [e["reason"] for e in response["json"]["errors"]] == [reason], weak
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert shop.verify(token)["statusCode"] == 200
    assert shop.reset(token, OTHER_GOOD_PASSWORD)["statusCode"] == 204


def test_the_link_expires_after_its_lifetime_checked_in_code(shop, postman, frozen_clock):
    mario()
    token = request_link(shop, postman)
    lifetime = get_settings().reset_link_ttl_seconds
    frozen_clock.advance(seconds=lifetime - 1)
    assert shop.verify(token)["statusCode"] == 200
    frozen_clock.advance(seconds=1)
    assert_gone(shop.verify(token))
    assert_gone(shop.reset(token, OTHER_GOOD_PASSWORD))
    frozen_clock.advance(hours=1)
    assert_gone(shop.verify(token))
    # DynamoDB's TTL has not removed it: the code said no by itself.
    assert LinkTokenModel.get(hash_token(token), consistent_read=True).username == MARIO
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_the_link_lifetime_follows_the_setting(shop, postman, frozen_clock, monkeypatch):
    monkeypatch.setenv("RESET_LINK_TTL_SECONDS", "600")
    get_settings.cache_clear()
    mario()
    token = request_link(shop, postman)
    assert "10 minuti" in postman.sent_to(MARIO)[0]["text"]
    frozen_clock.advance(seconds=599)
    assert shop.verify(token)["statusCode"] == 200
    frozen_clock.advance(seconds=1)
    assert_gone(shop.verify(token))


def test_the_token_is_stored_only_as_a_hash(shop, postman):
    mario()
    token = request_link(shop, postman)
    [item] = list(LinkTokenModel.scan())
    assert item.token_hash == hash_token(token)
    assert token not in str(item.serialize())


def test_an_operator_password_change_invalidates_an_outstanding_link(shop, postman, desk):
    mario()
    token = request_link(shop, postman)
    assert desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=False)["statusCode"] == 204
    assert_gone(shop.verify(token))
    assert_gone(shop.reset(token, THIRD_GOOD_PASSWORD))
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200


def test_a_customers_own_password_change_invalidates_an_outstanding_link(shop, postman):
    mario()
    token = request_link(shop, postman)
    session = shop.token(MARIO, GOOD_PASSWORD)
    assert shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    assert_gone(shop.verify(token))


def test_disabling_the_account_invalidates_an_outstanding_link(shop, postman, desk):
    mario()
    token = request_link(shop, postman)
    desk.disable(MARIO)
    assert_gone(shop.verify(token))
    desk.enable(MARIO)
    assert_gone(shop.verify(token))


def test_forgot_for_a_disabled_account_sends_nothing_even_later(shop, postman, desk):
    mario()
    desk.disable(MARIO)
    shop.forgot(MARIO)
    postman.drain()
    assert postman.sent() == []
    assert postman_log(MARIO) == []


def test_reset_emails_use_the_default_locale_when_no_customer_has_one(shop, postman, monkeypatch):
    monkeypatch.setenv("DEFAULT_LOCALE", "en")
    get_settings.cache_clear()
    mario()  # seeded links carry no language
    request_link(shop, postman)
    [email] = postman.sent_to(MARIO)
    assert email["subject"] == "Palestra Aurora: reset your password"
    assert "valid for 60 minutes" in email["text"]


def test_reset_emails_use_the_first_customers_language(shop, postman, desk):
    customer_id = desk.customer("John", "Smith", "john.smith@example.com", locale="en")
    assert desk.create_account(customer_id, temporary=False)["statusCode"] == 201
    request_link(shop, postman, "john.smith@example.com")
    [email] = postman.sent_to("john.smith@example.com")
    assert email["subject"] == "Palestra Aurora: reset your password"
    assert email["text"].startswith("Hello John,")


def test_an_expired_temporary_password_can_still_be_reset(shop, postman, desk, frozen_clock):
    customer_id = desk.customer("Tina", "Tempo", "tina@example.com")
    assert desk.create_account(customer_id, temporary=True)["statusCode"] == 201
    frozen_clock.advance(days=7, seconds=1)
    # The temporary password no longer logs in (the generic 401) ...
    assert shop.login("tina@example.com", GOOD_PASSWORD)["statusCode"] == 401
    # ... and the customer recovers through the emailed link.
    token = request_link(shop, postman, "tina@example.com")
    assert shop.verify(token)["statusCode"] == 200
    assert shop.reset(token, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    login = shop.login("tina@example.com", OTHER_GOOD_PASSWORD)
    assert login["statusCode"] == 200
    assert login["json"]["password_change_required"] is False
