"""The last login is recorded to the day (issue 10, finding 2).

A login writes `last_login_at` only when the day (UTC) it holds is not today, at most
once a day per account (the by-status index holds keys only: that write is the account's
alone). The other logins of the day neither write nor check the account
item (issue 10, finding 3); they still clear the throttle, audit, and bring an old password
hash up to date, and their session works only on the credentials that were verified: one
opened on credentials changed meanwhile is refused by the authorizer from its first use.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from botocore.client import BaseClient

from portal_accounts import audit
from portal_accounts.config import get_settings
from portal_accounts.models import AccountModel, linked_customers
from portal_accounts.signin import auth
from tests.unit.clients import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, is_valid, seed_account
from tests.unit.test_races import after_read

MARIO = "mario.rossi@example.com"
WRONG = "not the right password at all"
GENERIC = "The username or the password is not correct."


def last_login(desk, username=MARIO) -> str | None:
    response = desk.get_account(username)
    assert response["statusCode"] == 200, response
    return response["json"]["last_login_at"]


def logins_audited(username=MARIO) -> int:
    items = audit.list_events(audit.account_subject(username), limit=100, cursor=None).items
    return sum(1 for e in items if e["action"] == "login.succeeded")


@pytest.fixture
def account_writes(monkeypatch) -> list[str]:
    """What each request did to the accounts table: "Update", "Put", "ConditionCheck"...
    (a transaction's parts one by one)."""
    table = get_settings().accounts_table
    seen: list[str] = []
    original = BaseClient._make_api_call

    def recording(self, operation, params):
        if operation == "TransactWriteItems":
            for item in params.get("TransactItems", []):
                seen.extend(k for k, part in item.items() if part.get("TableName") == table)
        elif operation in ("PutItem", "UpdateItem", "DeleteItem") and (
            params.get("TableName") == table
        ):
            seen.append(operation.removesuffix("Item"))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return seen


# ---- once a day -------------------------------------------------------------------------


def test_the_days_first_login_is_recorded_and_later_ones_that_day_are_not(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    frozen_clock.advance(minutes=5)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    frozen_clock.advance(hours=8)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    frozen_clock.advance(hours=6, minutes=54)  # 23:59
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert last_login(desk) == "2026-01-01T09:05:00Z"


def test_the_next_days_first_login_moves_it(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    frozen_clock.advance(hours=14, minutes=59)  # 23:59 UTC
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    frozen_clock.advance(minutes=2)  # 00:01 the next day
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert last_login(desk) == "2026-01-02T00:01:00Z"
    frozen_clock.advance(days=30)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert last_login(desk) == "2026-02-01T00:01:00Z"


def test_a_login_the_same_day_writes_nothing_to_the_account(shop, frozen_clock, account_writes):
    seed_account(MARIO, [("Mario", "Rossi")])
    account_writes.clear()
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert account_writes == ["Update"]  # the day's first: last_login_at
    account_writes.clear()
    frozen_clock.advance(hours=3)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert account_writes == []


# ---- the rest of the login is unchanged on the days' later logins -----------------------


def test_a_login_the_same_day_opens_a_working_session_and_is_audited(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    first = shop.token(MARIO, GOOD_PASSWORD)
    frozen_clock.advance(minutes=30)  # within the idle timeout
    second = shop.token(MARIO, GOOD_PASSWORD)
    assert is_valid(first) and is_valid(second)
    assert logins_audited() == 2


def test_a_login_the_same_day_still_clears_the_throttle(shop, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    for _ in range(2):
        # One failure short of the throttle, twice: only a cleared count lets this through.
        for _ in range(get_settings().login_max_failures - 1):
            assert shop.login(MARIO, WRONG)["statusCode"] == 401
        frozen_clock.advance(minutes=1)
        assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200


def test_an_old_hash_is_brought_up_to_date_by_a_login_the_same_day(shop, desk, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(GOOD_PASSWORD)
    AccountModel(MARIO).update(actions=[AccountModel.password_hash.set(weak_hash)])
    frozen_clock.advance(hours=2)
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    stored = AccountModel.get(MARIO, consistent_read=True).password_hash
    assert stored != weak_hash and not auth.needs_rehash(stored)
    assert last_login(desk) == "2026-01-01T09:00:00Z"


# ---- credentials that changed between the verify and the write ---------------------------


def _set_password(desk):
    return desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=False)


def _disable(desk):
    return desk.disable(MARIO)


def _unlink_the_last_customer(desk):
    [customer_id] = linked_customers(AccountModel.get(MARIO, consistent_read=True))
    return desk.dissociate(customer_id)


@pytest.mark.parametrize("change", [_set_password, _disable, _unlink_the_last_customer])
def test_a_later_login_of_the_day_gets_no_working_session_on_credentials_changed_meanwhile(
    shop, desk, frozen_clock, monkeypatch, change
):
    """The day's later logins do not touch the account, so a password set, a disable or
    the last customer unlinked between their verify and their writes does not stop the
    answer; it stops the session: the authorizer refuses it from its first request, as it
    refuses every session the change ended. The last login stays as it was."""
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    frozen_clock.advance(hours=1)

    def meanwhile():
        assert change(desk)["statusCode"] in (200, 204)

    after_read(monkeypatch, auth, "verify_password", meanwhile)
    response = shop.login(MARIO, GOOD_PASSWORD)
    assert response["statusCode"] == 200, response
    assert not is_valid(response["json"]["token"])
    assert last_login(desk) == "2026-01-01T09:00:00Z"


@pytest.mark.parametrize("change", [_set_password, _disable, _unlink_the_last_customer])
def test_the_days_first_login_is_refused_on_credentials_changed_meanwhile(
    shop, desk, frozen_clock, monkeypatch, change
):
    """The day's first login writes the account, on the credentials it checked only: one
    changed between the verify and the write refuses the login, records no last login and
    audits no success, and it is not a failed attempt."""
    seed_account(MARIO, [("Mario", "Rossi")])

    def meanwhile():
        assert change(desk)["statusCode"] in (200, 204)

    after_read(monkeypatch, auth, "verify_password", meanwhile)
    response = shop.login(MARIO, GOOD_PASSWORD)
    assert response["statusCode"] == 401, response
    assert response["json"]["detail"] == GENERIC
    assert logins_audited() == 0
    assert last_login(desk) is None
