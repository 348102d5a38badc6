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

from portal_accounts import clock
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.credentials import throttle
from portal_accounts.models import ThrottleModel, login_throttle_key
from portal_accounts.signin import auth
from tests import faults
from tests.unit.clients import GOOD_PASSWORD, seed_account
from tests.unit.test_races import after_read

MARIO = "mario.rossi@example.com"
ADMIN = Actor(type="operator", id="admin-1", email="admin@example.com")
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


# ---- attempts in flight ---------------------------------------------------------------------


def in_flight() -> throttle.Reservation:
    """Another device's attempt, counted, its password still being checked."""
    key = login_throttle_key(MARIO)
    return throttle.reserve(key, throttle._read(key), clock.now())


def test_a_right_password_waits_for_an_attempt_in_flight_and_goes_in_when_it_was_right(
    shop, frozen_clock, monkeypatch
):
    """At the limit, the attempt in flight has set the wait; a second login arriving
    meanwhile pauses for it rather than being refused: the other was right, the record is
    cleared, and this one gets its own reservation and goes in."""
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures() - 1):
        shop.login(MARIO, WRONG)
    other = in_flight()
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        other.cleared()  # the other device's password was right

    monkeypatch.setattr(throttle, "_pause", pause)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert pauses == [throttle.WAIT_PAUSES_SECONDS[0]]


def test_an_attempt_in_flight_that_never_resolves_is_waited_for_a_few_pauses_only(
    shop, frozen_clock, monkeypatch
):
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures() - 1):
        shop.login(MARIO, WRONG)
    in_flight()  # stuck: its outcome never comes
    pauses: list[float] = []
    monkeypatch.setattr(throttle, "_pause", pauses.append)
    refused = shop.login(MARIO, GOOD_PASSWORD)
    assert refused["statusCode"] == 429, refused  # never through without its own reservation
    assert pauses == list(throttle.WAIT_PAUSES_SECONDS)
    assert (int(record().failures), int(record().pending)) == (max_failures(), 1)


def test_an_unlock_landing_during_an_attempt_leaves_no_wait_behind(shop, frozen_clock, monkeypatch):
    """Past the limit, the window opens; an attempt reads the record, then an admin's
    unlock deletes it before the attempt is counted: the attempt is decided again on the
    fresh start (a first failure, no wait), not counted on top of the old state."""
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures()):
        shop.login(MARIO, WRONG)
    frozen_clock.advance(seconds=1)
    after_read(monkeypatch, auth, "batch_get", lambda: auth.unlock(MARIO, actor=ADMIN))
    assert shop.login(MARIO, WRONG)["statusCode"] == 401
    assert (int(record().failures), record().locked_until) == (1, None)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_with_a_limit_of_one_two_first_guesses_racing_count_once(shop, frozen_clock, monkeypatch):
    """A username with no record, LOGIN_MAX_FAILURES=1: a guess reads "no record", another
    guess lands first and sets the wait; the first is then refused, not counted too."""
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "1")
    get_settings.cache_clear()
    try:
        seed_account(MARIO, [("Mario", "Rossi")])

        def other_guess() -> None:
            assert shop.login(MARIO, WRONG)["statusCode"] == 401

        after_read(monkeypatch, auth, "batch_get", other_guess)
        assert shop.login(MARIO, WRONG)["statusCode"] == 429
        assert int(record().failures) == 1
    finally:
        monkeypatch.delenv("LOGIN_MAX_FAILURES")
        get_settings.cache_clear()


def test_releasing_an_attempt_takes_back_its_own_count_once(clean_aws, frozen_clock):
    """Two attempts in flight; a fault ends each of them in turn. Releasing one (even
    twice: its resolution runs once) leaves the other's count; releasing the other too
    leaves nothing."""
    seed_account(MARIO, [("Mario", "Rossi")])
    first, second = in_flight(), in_flight()
    assert (int(record().failures), int(record().pending)) == (2, 2)
    second.release()  # the record's last attempt
    assert (int(record().failures), int(record().pending)) == (1, 1)
    second.release()
    assert (int(record().failures), int(record().pending)) == (1, 1)
    first.release()  # no longer the last: taken back by its generation
    assert (int(record().failures), int(record().pending)) == (0, 0)
    first.release()
    assert (int(record().failures), int(record().pending)) == (0, 0)


def test_a_release_never_takes_a_count_below_zero(clean_aws, frozen_clock):
    """Whatever happened to the record meanwhile (counters reset by hand, a restore), an
    attempt released takes nothing below zero."""
    seed_account(MARIO, [("Mario", "Rossi")])
    attempt = in_flight()
    ThrottleModel(login_throttle_key(MARIO)).update(actions=[ThrottleModel.pending.set(0)])
    attempt.release()
    assert (int(record().failures), int(record().pending)) == (1, 0)
    other = in_flight()
    ThrottleModel(login_throttle_key(MARIO)).update(actions=[ThrottleModel.failures.set(0)])
    other.release()
    assert (int(record().failures), int(record().pending)) == (0, 1)


def test_a_count_that_never_landed_takes_nothing_back_from_another_attempt(shop, frozen_clock):
    """The attempt's write times out before DynamoDB applied it: a 503, and the undo it
    tries finds another attempt's count as the record's last, which it leaves alone."""
    seed_account(MARIO, [("Mario", "Rossi")])
    shop.login(MARIO, WRONG)
    in_flight()
    with faults.failing("UpdateItem", "ReadTimeout", table=get_settings().throttle_table):
        assert shop.login(MARIO, WRONG)["statusCode"] == 503
    assert (int(record().failures), int(record().pending)) == (2, 1)


def test_a_failure_resolved_never_takes_pending_below_zero(shop, frozen_clock, monkeypatch):
    """As for a release: whatever happened to the record while the password was checked
    (counters reset by hand, a restore), a wrong password's outcome takes nothing below
    zero; its failure stays counted."""
    seed_account(MARIO, [("Mario", "Rossi")])

    def reset_by_hand() -> None:
        ThrottleModel(login_throttle_key(MARIO)).update(actions=[ThrottleModel.pending.set(0)])

    after_read(monkeypatch, auth, "verify_password", reset_by_hand)
    assert shop.login(MARIO, WRONG)["statusCode"] == 401
    assert (int(record().failures), int(record().pending)) == (1, 0)


# ---- racing attempts ----------------------------------------------------------------------


def test_below_the_limit_an_attempt_counts_in_one_write_whatever_landed_since_its_read(
    shop, frozen_clock, monkeypatch
):
    """Below the limit, racing attempts all count at once: one whose record moved since
    its read (another guess landed) is counted by its first write, without reading the
    record again, so a burst of guesses never runs out of rounds (a 503)."""
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.login(MARIO, WRONG)["statusCode"] == 401

    def other_guess() -> None:
        assert shop.login(MARIO, WRONG)["statusCode"] == 401

    after_read(monkeypatch, auth, "batch_get", other_guess)
    with operations() as sent:
        assert shop.login(MARIO, WRONG)["statusCode"] == 401
    assert sent.count("UpdateItem") == 2  # the other guess's count, and this one's
    assert "GetItem" not in sent
    assert (int(record().failures), int(record().pending)) == (3, 0)


@contextmanager
def always_moved_on() -> Iterator[list[str]]:
    """Every conditional write to the throttle table is refused, as when other attempts
    keep moving the record between each read and write."""
    make_api_call = botocore.client.BaseClient._make_api_call
    table = get_settings().throttle_table
    refused: list[str] = []

    def refusing(client, name, params):
        if name == "UpdateItem" and params.get("TableName") == table:
            refused.append(name)
            raise botocore.exceptions.ClientError(
                {
                    "Error": {
                        "Code": "ConditionalCheckFailedException",
                        "Message": "The conditional request failed",
                    }
                },
                name,
            )
        return make_api_call(client, name, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", refusing):
        yield refused


def test_an_attempt_the_record_keeps_moving_under_is_a_503_saying_to_retry(shop, frozen_clock):
    """After MAX_ROUNDS reads and refused writes the attempt gives up: not the customer's
    doing, so a 503 with Retry-After and the detail a storefront shows, nothing counted."""
    seed_account(MARIO, [("Mario", "Rossi")])
    with always_moved_on() as refused:
        response = shop.login(MARIO, GOOD_PASSWORD)
    assert response["statusCode"] == 503, response
    assert response["headers"]["Retry-After"] == "1"
    assert response["json"]["type"] == "temporarily_unavailable"
    assert response["json"]["detail"] == "The service is busy: try again in a moment."
    assert len(refused) == throttle.MAX_ROUNDS
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
