"""The guess throttle when a fault of ours or of AWS ends an attempt (issue 15).

A released attempt is as if it had never been made: its failure, its being in flight, and
the lock or lockout it set all go; but it never takes away what a later attempt did.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import botocore.client
import botocore.exceptions
import pytest

from portal_accounts import auth, clock
from portal_accounts.config import get_settings
from portal_accounts.models import ThrottleModel, login_throttle_key
from tests import faults
from tests.unit.conftest import GOOD_PASSWORD, seed_account
from tests.unit.test_races import after_read

MARIO = "mario.rossi@example.com"
WRONG = "not the right password at all"


def max_failures() -> int:
    return get_settings().login_max_failures


def record() -> ThrottleModel:
    return ThrottleModel.get(login_throttle_key(MARIO))


def faulted_login(shop, password: str = WRONG) -> None:
    """A login whose last write (the attempt's outcome) fails: a 503 to retry."""
    with faults.failing("TransactWriteItems", "ThrottlingException", times=None):
        response = shop.login(MARIO, password)
    assert response["statusCode"] == 503, response


def test_a_fault_on_the_attempt_that_would_lock_leaves_no_lock(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures() - 1):
        assert shop.login(MARIO, WRONG)["statusCode"] == 401
    faulted_login(shop)  # this one would have been the failure that starts the waits
    assert (int(record().failures), int(record().pending)) == (max_failures() - 1, 0)
    assert record().locked_until is None
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200  # no wait


def test_a_fault_past_the_limit_leaves_the_next_attempt_free_to_go(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures()):
        shop.login(MARIO, WRONG)
    frozen_clock.advance(seconds=1)  # the window opens
    faulted_login(shop)
    assert (int(record().failures), int(record().pending)) == (max_failures(), 0)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200  # the window's attempt


def test_a_fault_on_the_attempt_that_would_lock_out_leaves_no_lockout(
    shop, frozen_clock, lockout_after
):
    lockout_after(max_failures() + 1)
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures()):
        shop.login(MARIO, WRONG)
    frozen_clock.advance(seconds=1)
    faulted_login(shop)  # the failure that would lock the login for good
    assert not record().locked_out
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_a_released_attempt_keeps_the_lock_of_a_later_one(shop, frozen_clock, monkeypatch):
    """Attempt A is counted, then (while its password is checked) its window passes and
    attempt B fails and sets the next, longer, wait; then A's outcome cannot be written.
    Releasing A takes back A's failure, not B's wait."""
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures() - 1):
        shop.login(MARIO, WRONG)

    def later_attempt():
        frozen_clock.advance(seconds=1)  # past the wait A's own attempt set
        assert shop.login(MARIO, WRONG)["statusCode"] == 401

    after_read(monkeypatch, auth, "verify_password", later_attempt)
    with faults.failing("TransactWriteItems", "ThrottlingException", skip=1):  # A's, not B's
        assert shop.login(MARIO, WRONG)["statusCode"] == 503
    assert (int(record().failures), int(record().pending)) == (max_failures(), 0)
    blocked = shop.login(MARIO, GOOD_PASSWORD)
    assert blocked["statusCode"] == 429, blocked
    assert blocked["headers"]["Retry-After"] == "2"  # B's wait, the second of the series


def test_an_attempt_that_cannot_be_released_is_logged_with_the_fault(shop, frozen_clock, caplog):
    seed_account(MARIO, [("Mario", "Rossi")])
    with faults.failing(faults.WRITES - {"PutItem"}, "ThrottlingException", times=None, skip=1):
        response = shop.login(MARIO, WRONG)  # counted, then nothing more can be written
    assert response["statusCode"] == 503, response
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "could not release a login attempt: ThrottlingException" in warnings


@contextmanager
def operations() -> Iterator[list[str]]:
    """The DynamoDB operations sent in the block, whichever client sends them."""
    sent: list[str] = []
    make_api_call = botocore.client.BaseClient._make_api_call

    def recording(client, operation, params):
        sent.append(operation)
        return make_api_call(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", recording):
        yield sent


def test_a_throttled_attempt_is_decided_on_its_first_read(shop, frozen_clock):
    """The throttle comes with the account in one read: a throttled login or password
    change writes its audit event and nothing else, no attempt to count it first."""
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    for _ in range(max_failures()):
        shop.login(MARIO, WRONG)
    with operations() as sent:
        assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 429
    assert sent == ["BatchGetItem", "PutItem"]
    with operations() as sent:
        changed = shop.change_password(session, GOOD_PASSWORD, "girasole stanco sul balcone")
    assert changed["statusCode"] == 429, changed
    assert "UpdateItem" not in sent and sent.count("PutItem") == 1


def test_the_operator_sees_a_wait_only_while_it_lasts(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    assert desk.get_account(MARIO)["json"]["locked_until"] is None
    for _ in range(max_failures()):
        shop.login(MARIO, WRONG)
    shown = desk.get_account(MARIO)["json"]["locked_until"]
    assert shown == clock.iso(frozen_clock.current + timedelta(seconds=1))
    frozen_clock.advance(seconds=1)  # the wait ends at that instant
    assert desk.get_account(MARIO)["json"]["locked_until"] is None


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_the_waits_start_exactly_at_the_limit_whatever_it_is(
    shop, frozen_clock, monkeypatch, limit
):
    """LOGIN_MAX_FAILURES is a setting: the first failure on a username with no record
    counts as one, like every other, so exactly `limit` guesses are free."""
    monkeypatch.setenv("LOGIN_MAX_FAILURES", str(limit))
    get_settings.cache_clear()
    try:
        seed_account(MARIO, [("Mario", "Rossi")])
        statuses = [shop.login(MARIO, WRONG)["statusCode"] for _ in range(limit + 1)]
        assert statuses == [401] * limit + [429]
        frozen_clock.advance(seconds=1)
        assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    finally:
        monkeypatch.delenv("LOGIN_MAX_FAILURES")
        get_settings.cache_clear()


@contextmanager
def landing_then_timing_out(operation: str) -> Iterator[None]:
    """The first `operation` on the throttle table is written, then its answer is lost (a
    read timeout after DynamoDB applied it): the caller cannot know it landed."""
    make_api_call = botocore.client.BaseClient._make_api_call
    table = get_settings().throttle_table
    lost: list[str] = []

    def timing_out(client, name, params):
        answer = make_api_call(client, name, params)
        if name == operation and params.get("TableName") == table and not lost:
            lost.append(name)
            raise botocore.exceptions.ReadTimeoutError(endpoint_url="https://dynamodb")
        return answer

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", timing_out):
        yield
    assert lost == [operation], "the write to lose never happened"


def test_an_attempt_whose_count_landed_unseen_is_taken_back_with_its_lock(shop, frozen_clock):
    """The attempt that reaches the limit is counted (and sets the first wait), but the
    answer is lost: the customer gets a 503 to retry, and the count and the wait it set
    are taken back, so the retry is the free attempt it would have been."""
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures() - 1):
        assert shop.login(MARIO, WRONG)["statusCode"] == 401
    with landing_then_timing_out("UpdateItem"):
        response = shop.login(MARIO, WRONG)
    assert response["statusCode"] == 503, response
    assert response["json"]["detail"] == "The service is busy: try again in a moment."
    assert (int(record().failures), int(record().pending)) == (max_failures() - 1, 0)
    assert record().locked_until is None
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200  # no wait
