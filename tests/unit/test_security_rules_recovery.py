"""How the sender decides a forgot-password request (issue 15).

The API queues every request alike; the sender (`recovery.process_forgot`) decides on the
account as it reads it: nothing at all for an account that is not active or has no linked
customer, the link to the login itself, at most one email per interval, and an account
that changed between its read and its write decided again, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import botocore.client
import pytest

from portal_accounts.config import get_settings
from portal_accounts.models import AccountModel
from portal_accounts.signin import recovery
from tests.unit.clients import seed_account
from tests.unit.test_races import after_read
from tests.unit.test_storefront_recovery import reset_links

MARIO = "mario.rossi@example.com"


@contextmanager
def operations() -> Iterator[list[str]]:
    """The AWS operations sent in the block, whichever client sends them."""
    sent: list[str] = []
    make_api_call = botocore.client.BaseClient._make_api_call

    def recording(client, operation, params):
        sent.append(operation)
        return make_api_call(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", recording):
        yield sent


# ---- who gets nothing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "customers"),
    [("disabled", [("Mario", "Rossi")]), ("active", [])],
    ids=["disabled-with-a-customer", "active-with-none"],
)
def test_an_account_disabled_or_with_no_customer_is_decided_on_its_read_alone(
    clean_aws, frozen_clock, status, customers
):
    """Either one is enough: a disabled account that still has its customers, or an active
    one with none linked, gets no email, no audit event, and no write at all (nothing to
    refuse later: the request is over once the account is read)."""
    seed_account(MARIO, customers, status=status)
    with operations() as sent:
        assert recovery.process_forgot(MARIO) is None
    assert sent == ["GetItem"]
    assert AccountModel.get(MARIO).last_forgot_at is None


# ---- where the link goes -----------------------------------------------------------------


def test_the_link_goes_to_the_login_even_when_the_customers_address_changed(shop, postman, desk):
    """The username is the address that proved itself: a reset link goes there, not to
    whatever the customer's email became since (which the link's holder may not own)."""
    customer_id = desk.customer("Mario", "Rossi", MARIO)
    assert desk.create_account(customer_id, temporary=False)["statusCode"] == 201
    moved = desk.update_customer(customer_id, {"email": "mario.nuovo@example.com"})
    assert moved["statusCode"] == 200, moved
    assert shop.forgot(MARIO)["statusCode"] == 202
    postman.drain()
    assert [e["to"] for e in postman.sent()] == [MARIO]
    [token] = reset_links(postman)
    assert shop.verify(token)["statusCode"] == 200


# ---- what the email says -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(30, "1"), (60, "1"), (89, "1"), (90, "2"), (5400, "90")]
)
def test_the_email_says_how_many_minutes_the_link_lasts_at_least_one(
    shop, postman, monkeypatch, seconds, minutes
):
    """RESET_LINK_TTL_SECONDS rounded to minutes, never "0 minutes" for a link under half
    a minute and never more than the nearest minute."""
    monkeypatch.setenv("RESET_LINK_TTL_SECONDS", str(seconds))
    get_settings.cache_clear()
    try:
        seed_account(MARIO, [("Mario", "Rossi")])
        assert shop.forgot(MARIO)["statusCode"] == 202
        postman.drain()
        [email] = postman.sent_to(MARIO)
        assert f"Il link vale {minutes} minuti " in email["text"]
    finally:
        monkeypatch.delenv("RESET_LINK_TTL_SECONDS")
        get_settings.cache_clear()


# ---- an account that changes while the request is decided --------------------------------


def linked_meanwhile(monkeypatch, desk, times: int) -> None:
    """After each of the next `times` reads of the account, an operator links one more
    customer to it: the account still qualifies, but is no longer the one read."""

    def link_another() -> None:
        customer_id = desk.customer("Mario", "Rossi", MARIO)
        assert desk.associate(customer_id, MARIO)["statusCode"] in (200, 204)

    after_read(monkeypatch, recovery, "linked_customers", link_another, times=times)


@pytest.mark.parametrize("changes", [1, 2])
def test_an_account_that_changed_meanwhile_is_decided_again(
    desk, frozen_clock, monkeypatch, changes
):
    """Changed after the first read (and after the second): decided again on what is
    there now, and the email goes out."""
    seed_account(MARIO, [("Mario", "Rossi")])
    linked_meanwhile(monkeypatch, desk, changes)
    assert recovery.process_forgot(MARIO) is not None
    assert AccountModel.get(MARIO).last_forgot_at == frozen_clock.current


def test_an_account_that_keeps_changing_is_decided_three_times_at_most(
    desk, frozen_clock, monkeypatch
):
    """Three decisions in all: one that keeps changing after each read gets no email from
    this request (the sender does not spin on it; the customer can ask again)."""
    seed_account(MARIO, [("Mario", "Rossi")])
    linked_meanwhile(monkeypatch, desk, 3)
    assert recovery.process_forgot(MARIO) is None
    assert AccountModel.get(MARIO).last_forgot_at is None
    assert recovery.process_forgot(MARIO) is not None  # nothing changes now: it goes out


def test_exactly_one_interval_later_a_changed_account_is_decided_again(
    shop, postman, desk, frozen_clock, monkeypatch
):
    """The last email went out exactly FORGOT_PASSWORD_MIN_INTERVAL_SECONDS ago, which is
    long enough (the interval is a minimum); the write is refused because the account
    changed meanwhile, not because of the interval: decided again, it sends."""
    seed_account(MARIO, [("Mario", "Rossi")])
    assert recovery.process_forgot(MARIO) is not None
    first = AccountModel.get(MARIO).last_forgot_at
    frozen_clock.advance(seconds=get_settings().forgot_password_min_interval_seconds)
    linked_meanwhile(monkeypatch, desk, 1)
    assert recovery.process_forgot(MARIO) is not None
    assert AccountModel.get(MARIO).last_forgot_at == frozen_clock.current != first


def test_a_burst_decided_after_an_email_went_out_meanwhile_sends_nothing(
    desk, frozen_clock, monkeypatch
):
    """The other half of the same decision: refused because an email went out after this
    request read the account, it sends nothing, however many tries it had left."""
    seed_account(MARIO, [("Mario", "Rossi")])
    after_read(monkeypatch, recovery, "linked_customers", lambda: recovery.process_forgot(MARIO))
    with operations() as sent:
        assert recovery.process_forgot(MARIO) is None
    assert sent.count("TransactWriteItems") == 2  # the other request's, and this refused one
