"""The per-username guess throttle (issue 9, findings 2-7): logins and PUT /me/password
share it; it starts exactly at LOGIN_MAX_FAILURES, never charges a customer for a right
password in parallel or for a fault of ours, and locks for good after
LOGIN_LOCKOUT_FAILURES failures in a row until a reset by email or an operator's unlock.
"""

from __future__ import annotations

import pytest

from functions.operator_get_account.app import handler as get_account_handler
from portal_accounts.config import get_settings
from portal_accounts.credentials import throttle
from portal_accounts.models import ThrottleModel, login_throttle_key
from portal_accounts.signin import auth
from tests import faults
from tests.unit.clients import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, enc, link_in, seed_account

MARIO = "mario.rossi@example.com"
NOBODY = "nessuno@example.com"
WRONG = "not the right password at all"


def max_failures() -> int:
    return get_settings().login_max_failures


def actions_of(desk, username=MARIO) -> list[str]:
    return [e["action"] for e in desk.events(username, limit=100)["json"]["items"]]


def retry_after(response) -> int:
    assert response["statusCode"] == 429, response
    assert response["json"]["type"] == "too_many_requests"
    return int(response["headers"]["Retry-After"])


# ---- finding 4: throttling starts at the limit, not one attempt late ----------------------


def test_after_the_free_failures_even_the_right_password_waits(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures()):
        assert shop.login(MARIO, WRONG)["statusCode"] == 401
    throttled = shop.login(MARIO, GOOD_PASSWORD)
    assert retry_after(throttled) == 1
    assert "try again in 1 second," in throttled["json"]["detail"]
    assert "token" not in throttled["json"]
    frozen_clock.advance(seconds=1)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_each_failure_past_the_limit_doubles_the_wait(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures()):
        shop.login(MARIO, WRONG)
    waits = []
    for _ in range(4):
        wait = retry_after(shop.login(MARIO, WRONG))
        waits.append(wait)
        frozen_clock.advance(seconds=wait)
        assert shop.login(MARIO, WRONG)["statusCode"] == 401  # the window's one attempt
    assert waits == [1, 2, 4, 8]
    assert "try again in 16 seconds," in shop.login(MARIO, WRONG)["json"]["detail"]


def test_the_throttle_is_remembered_for_a_day(shop, frozen_clock):
    shop.login(MARIO, WRONG)
    record = ThrottleModel.get(login_throttle_key(MARIO))
    assert record.expires_at == frozen_clock.current + throttle.MEMORY
    assert throttle.MEMORY.days == 1


# ---- finding 2: PUT /me/password is no password oracle ------------------------------------


def test_wrong_current_passwords_are_throttled_and_audited(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    statuses = [
        shop.change_password(session, WRONG, OTHER_GOOD_PASSWORD)["statusCode"] for _ in range(12)
    ]
    assert statuses[: max_failures()] == [403] * max_failures()
    assert set(statuses[max_failures() :]) == {429}
    throttled = shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)
    assert retry_after(throttled) >= 1  # the right one too, until the window opens
    actions = actions_of(desk)
    assert actions.count("password.change_refused") == max_failures()
    assert "password.change_throttled" in actions
    # The session itself still works, and the password did not change.
    assert shop.me(session)["statusCode"] == 200
    frozen_clock.advance(seconds=retry_after(throttled))
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_change_and_login_share_one_budget(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    for _ in range(max_failures() - 1):
        assert shop.login(MARIO, WRONG)["statusCode"] == 401
    assert shop.change_password(session, WRONG, OTHER_GOOD_PASSWORD)["statusCode"] == 403
    assert retry_after(shop.login(MARIO, GOOD_PASSWORD)) == 1


def test_the_right_current_password_clears_the_failures(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    for _ in range(max_failures() - 1):
        shop.login(MARIO, WRONG)
    assert shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    for _ in range(max_failures()):
        assert shop.login(MARIO, WRONG)["statusCode"] == 401


# ---- finding 3: a password cannot be "changed" to itself ----------------------------------


def test_a_temporary_password_cannot_be_changed_to_itself(shop, desk, frozen_clock):
    customer_id = desk.customer("Mario", "Rossi", MARIO)
    assert desk.create_account(customer_id, password=GOOD_PASSWORD)["statusCode"] == 201
    login = shop.login(MARIO, GOOD_PASSWORD)
    assert login["json"]["password_change_required"] is True
    session = login["json"]["token"]
    refused = shop.change_password(session, GOOD_PASSWORD, GOOD_PASSWORD)
    assert refused["statusCode"] == 422
    assert refused["json"]["type"] == "password_reused"
    assert refused["json"]["errors"] == [{"field": "new_password", "reason": "reused"}]
    # Still temporary: the must-change flag was not cleared.
    assert shop.me(session)["json"]["password_change_required"] is True
    assert desk.get_account(MARIO)["json"]["password_change_required"] is True
    # Not a failed guess either: the right current password clears the throttle.
    for _ in range(max_failures()):
        assert shop.login(MARIO, WRONG)["statusCode"] == 401


def test_a_reset_link_cannot_set_the_current_password(shop, postman, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.forgot(MARIO)["statusCode"] == 202
    postman.drain()
    [email] = postman.sent_to(MARIO)
    _, token = link_in(email)
    refused = shop.reset(token, GOOD_PASSWORD)
    assert refused["statusCode"] == 422
    assert refused["json"]["type"] == "password_reused"
    assert refused["json"]["errors"] == [{"field": "password", "reason": "reused"}]
    # The link is not used up by the refusal.
    assert shop.reset(token, OTHER_GOOD_PASSWORD)["statusCode"] == 204


# ---- finding 6: a hard ceiling ------------------------------------------------------------


def fail_until_locked_out(shop, frozen_clock, username, limit: int) -> dict:
    """`limit` wrong passwords, each in its window; returns the answer after them."""
    for _ in range(limit):
        response = shop.login(username, WRONG)
        if response["statusCode"] == 429:
            frozen_clock.advance(seconds=retry_after(response))
            response = shop.login(username, WRONG)
        assert response["statusCode"] == 401, response
    return shop.login(username, WRONG)


@pytest.mark.parametrize("username", [MARIO, NOBODY])
def test_a_lockout_holds_past_every_window(shop, frozen_clock, lockout_after, username):
    lockout_after(max_failures() + 3)
    seed_account(MARIO, [("Mario", "Rossi")])
    locked = fail_until_locked_out(shop, frozen_clock, username, max_failures() + 3)
    assert retry_after(locked) == get_settings().login_lock_max_seconds
    assert "locked" in locked["json"]["detail"]
    for _ in range(3):
        frozen_clock.advance(days=2)
        assert shop.login(username, GOOD_PASSWORD)["statusCode"] == 429
    record = ThrottleModel.get(login_throttle_key(username))
    assert record.expires_at == frozen_clock.current - 6 * throttle.MEMORY + throttle.LOCKOUT_MEMORY


def test_the_lockout_default_is_nists_hundred():
    assert get_settings().login_lockout_failures == 100


def test_the_operator_sees_the_lockout_and_a_reset_by_email_ends_it(
    shop, desk, postman, frozen_clock, lockout_after
):
    lockout_after(max_failures() + 1)
    seed_account(MARIO, [("Mario", "Rossi")])
    fail_until_locked_out(shop, frozen_clock, MARIO, max_failures() + 1)
    assert desk.get_account(MARIO)["json"]["locked_out"] is True
    # A lockout is never a denial of service: recovery by email keeps working.
    assert shop.forgot(MARIO)["statusCode"] == 202
    postman.drain()
    [email] = postman.sent_to(MARIO)
    _, token = link_in(email)
    assert shop.reset(token, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    assert desk.get_account(MARIO)["json"]["locked_out"] is False
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200


def test_an_operators_unlock_ends_it_and_is_audited(shop, desk, frozen_clock, lockout_after):
    from portal_accounts.audit import Actor

    lockout_after(max_failures() + 1)
    seed_account(MARIO, [("Mario", "Rossi")])
    fail_until_locked_out(shop, frozen_clock, MARIO, max_failures() + 1)
    auth.unlock(MARIO, actor=Actor(type="operator", id="op-1", email="op@example.com"))
    assert desk.get_account(MARIO)["json"]["locked_out"] is False
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    unlocked = next(
        e for e in desk.events(MARIO)["json"]["items"] if e["action"] == "account.unlocked"
    )
    assert unlocked["actor"]["id"] == "op-1"


# ---- finding 7: faults of ours are 503s and cost the customer nothing ---------------------


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_a_fault_after_the_attempt_was_counted_is_a_503_and_not_a_failure(
    shop, desk, frozen_clock, code
):
    seed_account(MARIO, [("Mario", "Rossi")])
    for _ in range(max_failures() + 2):
        with faults.failing("BatchWriteItem", code, times=None):
            response = shop.login(MARIO, GOOD_PASSWORD)
        assert response["statusCode"] == 503, response
        assert response["json"]["type"] == "temporarily_unavailable"
        assert int(response["headers"]["Retry-After"]) >= 1
    # None of them counted: the right password logs in, and all the failures are free.
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    for _ in range(max_failures()):
        assert shop.login(MARIO, WRONG)["statusCode"] == 401
    assert actions_of(desk).count("login.failed") == max_failures()


def test_a_throttled_reservation_is_a_503(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    with faults.failing("UpdateItem", "ThrottlingException", times=None):
        response = shop.login(MARIO, GOOD_PASSWORD)
    assert response["statusCode"] == 503, response
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_a_fault_during_a_password_change_costs_nothing(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    for _ in range(max_failures() + 1):
        with faults.failing("TransactWriteItems", "ThrottlingException", times=None):
            response = shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)
        assert response["statusCode"] == 503, response
    assert shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)["statusCode"] == 204


# ---- the rehash and the session follow the credentials that were checked ------------------


def test_a_login_racing_a_password_change_writes_nothing_back(
    shop, desk, frozen_clock, monkeypatch
):
    """The operator sets a new password between the login's read and its write: the old
    hash must not come back (rehash), no session opens, and it is not a failed attempt."""
    seed_account(MARIO, [("Mario", "Rossi")])
    original = auth.verify_password

    def operator_meanwhile(password_hash, password):
        result = original(password_hash, password)
        monkeypatch.setattr(auth, "verify_password", original)
        assert desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=False)["statusCode"] == 204
        return result

    monkeypatch.setattr(auth, "verify_password", operator_meanwhile)
    monkeypatch.setattr(auth, "needs_rehash", lambda _: True)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 401
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 401  # the old one stays dead
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200


def test_unknown_usernames_cost_the_same_writes(shop, desk, frozen_clock):
    shop.login(NOBODY, WRONG)
    events = desk.events(NOBODY)
    # No account to show, but the failure was recorded like any other.
    assert events["statusCode"] == 404
    from portal_accounts import audit

    recorded = audit.list_events(audit.account_subject(NOBODY), limit=10, cursor=None).items
    assert [e["action"] for e in recorded] == ["login.failed"]
    assert recorded[0]["details"] == {"reason": "unknown_username"}


def test_the_operator_detail_shows_locked_out_false_normally(desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    from tests.helpers import call

    detail = call(get_account_handler, "GET", f"/operator/accounts/{enc(MARIO)}")["json"]
    assert detail["locked_out"] is False


def test_a_forgot_request_racing_a_disable_sends_nothing(shop, desk, postman, monkeypatch):
    """The account is disabled between the sender's read and its write: the request is
    decided again, and no email goes to the disabled account."""
    from portal_accounts.email import outbox

    seed_account(MARIO, [("Mario", "Rossi")])
    original = outbox.prepare

    def disabled_meanwhile(**email):
        monkeypatch.setattr(outbox, "prepare", original)
        assert desk.disable(MARIO)["statusCode"] == 200
        return original(**email)

    monkeypatch.setattr(outbox, "prepare", disabled_meanwhile)
    assert shop.forgot(MARIO)["statusCode"] == 202
    postman.drain()
    assert postman.sent_to(MARIO) == []
    assert "password.reset_requested" not in actions_of(desk)


def test_a_forgot_request_racing_a_password_change_still_sends_a_working_link(
    shop, desk, postman, monkeypatch
):
    from portal_accounts.email import outbox

    seed_account(MARIO, [("Mario", "Rossi")])
    original = outbox.prepare

    def changed_meanwhile(**email):
        monkeypatch.setattr(outbox, "prepare", original)
        assert desk.set_password(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 204
        return original(**email)

    monkeypatch.setattr(outbox, "prepare", changed_meanwhile)
    assert shop.forgot(MARIO)["statusCode"] == 202
    postman.drain()
    [email] = postman.sent_to(MARIO)
    _, token = link_in(email)
    assert shop.verify(token)["statusCode"] == 200  # issued on the new version


def test_a_change_stands_when_its_notice_cannot_be_queued(shop, desk, operator, frozen_clock):
    """The password is changed; the queue refusing the "password changed" email must not
    turn that into a 503 whose retry would then be refused (403: wrong current password)."""
    seed_account(MARIO, [("Mario", "Rossi")])
    session = shop.token(MARIO, GOOD_PASSWORD)
    with faults.failing("SendMessage", "ThrottlingException", service="sqs", times=None):
        changed = shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)
    assert changed["statusCode"] == 204, changed
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200
    [entry] = operator.emails(MARIO)["json"]["items"]
    assert (entry["template_id"], entry["status"]) == ("password_changed", "failed")


# ---- the throttle's bookkeeping (review of issue 9) ---------------------------------------


def test_resolving_an_attempt_never_touches_a_newer_record(clean_aws, frozen_clock):
    """A wrong password in flight while a right one clears the record and a third attempt
    starts a new one: resolving the first must not take the third's attempt off."""
    key = login_throttle_key(MARIO)
    wrong = throttle.reserve(key, None, frozen_clock.current)
    ThrottleModel(key).delete()  # a right password, meanwhile
    third = throttle.reserve(key, None, frozen_clock.current)
    from portal_accounts.dynamodb import TransactionCancelled, transaction

    with pytest.raises(TransactionCancelled), transaction() as tx:
        wrong.failed(tx)  # (the login then writes its audit event alone)
    wrong.release()
    record = ThrottleModel.get(key)
    assert (record.failures, record.pending) == (1, 1)
    assert record.generation == third.generation != wrong.generation


def test_the_counters_never_go_below_zero(clean_aws, frozen_clock):
    key = login_throttle_key(MARIO)
    attempt = throttle.reserve(key, None, frozen_clock.current)
    attempt.release()
    attempt.release()  # once too often (a retry of the caller's, say)
    record = ThrottleModel.get(key)
    assert (record.failures, record.pending) == (0, 0)


def test_a_reservation_that_landed_before_a_timeout_is_taken_back(shop, frozen_clock):
    from botocore.client import BaseClient
    from botocore.exceptions import ReadTimeoutError

    seed_account(MARIO, [("Mario", "Rossi")])
    original = BaseClient._make_api_call
    timed_out = []

    def lands_then_times_out(self, operation, params):
        result = original(self, operation, params)
        if operation == "UpdateItem" and "login#" in str(params.get("Key")) and not timed_out:
            timed_out.append(operation)
            raise ReadTimeoutError(endpoint_url="https://dynamodb")
        return result

    BaseClient._make_api_call = lands_then_times_out
    try:
        response = shop.login(MARIO, GOOD_PASSWORD)
    finally:
        BaseClient._make_api_call = original
    assert response["statusCode"] == 503, response
    record = ThrottleModel.get(login_throttle_key(MARIO))
    assert (record.failures, record.pending) == (0, 0)  # nothing left counted, nor in flight


def test_a_record_that_keeps_moving_is_a_503_not_the_customers_throttle(
    clean_aws, frozen_clock, monkeypatch
):
    """Racing attempts move the record under every try: the answer is "busy" (503), not a
    429 that would blame the customer."""
    from portal_accounts.errors import TemporarilyUnavailable

    key = login_throttle_key(MARIO)
    ThrottleModel(key, failures=max_failures() - 1, expires_at=frozen_clock.current).save()
    stale = ThrottleModel(key, failures=0)
    monkeypatch.setattr(throttle, "_read", lambda _: stale)  # every re-read is already old
    with pytest.raises(TemporarilyUnavailable):
        throttle.reserve(key, stale, frozen_clock.current)


def test_guesses_before_the_account_existed_are_not_its_lockout(
    shop, desk, frozen_clock, lockout_after
):
    lockout_after(max_failures() + 1)
    fail_until_locked_out(shop, frozen_clock, MARIO, max_failures() + 1)
    customer_id = desk.customer("Mario", "Rossi", MARIO)
    created = desk.create_account(customer_id, password=GOOD_PASSWORD, temporary=False)
    assert created["statusCode"] == 201
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_a_login_racing_the_sender_writing_a_password_writes_no_old_hash(
    shop, frozen_clock, monkeypatch
):
    """The sender writes an emailed password without moving the credential version: a
    login verified against the old hash must not write that hash back (rehash)."""
    from portal_accounts.credentials.passwords import hash_password

    seed_account(MARIO, [("Mario", "Rossi")])
    emailed = hash_password(OTHER_GOOD_PASSWORD)
    original = auth.verify_password

    def sender_meanwhile(password_hash, password):
        result = original(password_hash, password)
        monkeypatch.setattr(auth, "verify_password", original)
        from portal_accounts.models import AccountModel
        from tests import iam_audit

        token = iam_audit._current_function.set(None)  # the sender's write, not the login's
        try:
            AccountModel(MARIO).update(actions=[AccountModel.password_hash.set(emailed)])
        finally:
            iam_audit._current_function.reset(token)
        return result

    monkeypatch.setattr(auth, "verify_password", sender_meanwhile)
    monkeypatch.setattr(auth, "needs_rehash", lambda _: True)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 401
    from portal_accounts.models import AccountModel

    assert AccountModel.get(MARIO).password_hash == emailed
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200


def test_a_reset_to_the_current_password_is_audited(shop, desk, postman, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    shop.forgot(MARIO)
    postman.drain()
    [email] = postman.sent_to(MARIO)
    _, token = link_in(email)
    assert shop.reset(token, GOOD_PASSWORD)["statusCode"] == 422
    refused = next(
        e for e in desk.events(MARIO)["json"]["items"] if e["action"] == "password.reset_refused"
    )
    assert refused["details"] == {"reason": "password_reused"}
