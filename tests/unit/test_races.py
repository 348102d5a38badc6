"""Operator writes whose decision was taken from a read that went stale (issue 9, finding 1).

Each operator write reads the account (and the customer), decides from what it read
("the last customer", "the names a password must avoid", "already disabled"), then writes.
Another request's write can land in between. Two kinds of tests:

- deterministic ones, which run that other request's write right after this one's read
  (`after_read`), so the interleaving happens every time, against in-process moto;
- real threads against the moto server (which serialises requests as DynamoDB makes each
  one atomic), held after their first read until all of them have read (`all_read_first`),
  so the racing writes all start from the same view.

Either way the write must notice, read again and decide on the new state.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from portal_accounts.accounts import customers
from portal_accounts.accounts import lifecycle as accounts
from portal_accounts.audit import Actor
from portal_accounts.models import (
    AccountModel,
    CustomerModel,
    SearchEntryModel,
    linked_customers,
)
from portal_accounts.signin import auth
from tests.unit.clients import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, Desk, is_valid, seed_account

MARIO = "mario.rossi@example.com"
OPERATOR = Actor(type="operator", id="operator-1", email="operator@example.com")


def after_read(monkeypatch, module, name: str, change: Callable[[], object], times: int = 1):
    """`module.name` reads as usual, but for its first `times` calls another request's
    `change` lands right after the read, before the caller gets to write.

    The change runs in a context of its own: it is another request, not part of the
    function being called (tests/iam_audit.py records AWS calls per function).
    """
    original = getattr(module, name)
    left = [times]

    def reading(*args, **kwargs):
        result = original(*args, **kwargs)
        if left[0] > 0:
            left[0] -= 1
            contextvars.Context().run(change)
        return result

    monkeypatch.setattr(module, name, reading)


def all_read_first(monkeypatch, module, names: list[str], parties: int) -> None:
    """The first call of any of `module.names` in each of `parties` threads waits, once it
    has read, until all of them have read: their writes then start from the same view.
    Later calls (a retry, the test's own checks) go straight through."""
    everyone_read = threading.Barrier(parties, timeout=30)
    lock = threading.Lock()
    waiting = [parties]
    waited = threading.local()

    def holding(original):
        def reading(*args, **kwargs):
            result = original(*args, **kwargs)
            with lock:
                wait = waiting[0] > 0 and not getattr(waited, "done", False)
                if wait:
                    waiting[0] -= 1
                    waited.done = True
            if wait:
                everyone_read.wait()
            return result

        return reading

    for name in names:
        monkeypatch.setattr(module, name, holding(getattr(module, name)))


def in_parallel(*calls: Callable[[], object]) -> list[object]:
    """Run the calls on threads of their own; their results, or the exceptions they raised."""

    def run(call):
        try:
            return call()
        except Exception as error:  # reported to the test as a result
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def events(username: str, action: str | None = None) -> list[dict]:
    response = Desk().events(username, limit=100)
    assert response["statusCode"] == 200, response
    items = response["json"]["items"]
    return [e for e in items if action is None or e["action"] == action]


def last_customer_flags(username: str) -> list[bool]:
    return sorted(
        e["details"]["last_customer"] for e in events(username, "account.customer_dissociated")
    )


def two_customers(desk: Desk, *, seeded: bool) -> tuple[str, str, str]:
    """(P, K, session of the account): Paola's account with Kevin associated.

    `seeded`: the account is written as items were before they had a revision.
    """
    if seeded:
        account = seed_account(MARIO, [("Paola", "Bianchi"), ("Kevin", "Bianchi")])
        assert account.revision is None
        p, k = linked_customers(account)
    else:
        p, _ = desk.account_for("Paola", "Bianchi", MARIO, temporary=False)
        k = desk.customer("Kevin", "Bianchi", "kevin@example.com")
        assert desk.associate(k, MARIO)["statusCode"] == 200
    return p, k, auth.login(MARIO, GOOD_PASSWORD).token


def customer_names(desk: Desk, username: str) -> dict[str, str]:
    account = desk.get_account(username)["json"]
    return {c["customer_id"]: c["first_name"] for c in account["customers"]}


# ---- deterministic: another request's write between this one's read and its write --------


@pytest.mark.parametrize("seeded", [False, True], ids=["created", "item-without-revision"])
def test_dissociating_after_the_other_customer_left_is_the_last_one(desk, monkeypatch, seeded):
    p, k, session = two_customers(desk, seeded=seeded)
    after_read(monkeypatch, accounts, "get_account", lambda: accounts.dissociate(k, actor=OPERATOR))

    assert desk.dissociate(p)["statusCode"] == 204

    assert last_customer_flags(MARIO) == [False, True]
    [revoked] = events(MARIO, "sessions.revoked")
    assert revoked["details"]["cause"] == "account.customer_dissociated"
    assert desk.associate(p, MARIO)["statusCode"] == 200
    assert not is_valid(session)
    assert is_valid(auth.login(MARIO, GOOD_PASSWORD).token)


def test_dissociating_while_a_customer_is_associated_is_not_the_last_one(desk, monkeypatch):
    p, _ = desk.account_for("Paola", "Bianchi", MARIO, temporary=False)
    session = auth.login(MARIO, GOOD_PASSWORD).token
    x = desk.customer("Xavier", "Bianchi", "xavier@example.com")
    after_read(
        monkeypatch,
        accounts,
        "get_account",
        lambda: accounts.associate(x, username=MARIO, actor=OPERATOR),
    )

    assert desk.dissociate(p)["statusCode"] == 204

    assert last_customer_flags(MARIO) == [False]
    assert events(MARIO, "sessions.revoked") == []
    # The account never lost its last customer: the session carries on, with Xavier.
    assert is_valid(session)
    assert list(customer_names(desk, MARIO)) == [x]


def test_associating_after_the_last_customer_left_answers_what_is_stored(desk, monkeypatch):
    p, _ = desk.account_for("Paola", "Bianchi", MARIO, temporary=False)
    k = desk.customer("Kevin", "Bianchi", "kevin@example.com")
    after_read(monkeypatch, accounts, "batch_get", lambda: accounts.dissociate(p, actor=OPERATOR))

    response = desk.associate(k, MARIO)

    assert response["statusCode"] == 200
    assert [c["customer_id"] for c in response["json"]["customers"]] == [k]
    assert list(customer_names(desk, MARIO)) == [k]
    assert desk.usernames(q="kevin") == [MARIO]
    # Searches re-check what the index points at, but the index itself must not bring
    # Paola back either.
    assert desk.usernames(q="paola") == []
    assert (
        list(SearchEntryModel.query("pa", SearchEntryModel.entry.startswith("active#paola#"))) == []
    )


def test_creating_an_account_created_meanwhile_for_the_customer_is_409(desk, monkeypatch):
    p = desk.customer("Paola", "Bianchi", MARIO)
    create = partial(
        accounts.create_account, p, password=GOOD_PASSWORD, temporary=True, actor=OPERATOR
    )
    after_read(monkeypatch, accounts, "get_customer", create)

    response = desk.create_account(p)

    assert response["statusCode"] == 409
    assert response["json"]["type"] == "customer_already_linked"
    assert len(events(MARIO, "account.created")) == 1


def test_a_rename_between_the_read_and_the_association_is_copied(desk, monkeypatch):
    desk.account_for("Paola", "Bianchi", MARIO)
    k = desk.customer("Kevin", "Bianchi", "kevin@example.com")
    rename = partial(customers.update_customer, k, {"first_name": "Kurt"}, actor=OPERATOR)
    after_read(monkeypatch, accounts, "batch_get", rename)

    response = desk.associate(k, MARIO)

    assert response["statusCode"] == 200
    assert customer_names(desk, MARIO)[k] == "Kurt"
    assert desk.usernames(q="kurt") == [MARIO]
    assert desk.usernames(q="kevin") == []


def test_a_rename_between_the_read_and_the_creation_is_copied(desk, monkeypatch):
    p = desk.customer("Paola", "Bianchi", MARIO)
    rename = partial(customers.update_customer, p, {"first_name": "Petra"}, actor=OPERATOR)
    after_read(monkeypatch, accounts, "get_customer", rename)

    assert desk.create_account(p)["statusCode"] == 201

    assert customer_names(desk, MARIO) == {p: "Petra"}
    assert desk.usernames(q="petra") == [MARIO]


def test_a_rename_racing_an_association_reaches_the_account(desk, monkeypatch):
    desk.account_for("Paola", "Bianchi", MARIO)
    k = desk.customer("Kevin", "Bianchi", "kevin@example.com")
    associate = partial(accounts.associate, k, username=MARIO, actor=OPERATOR)
    after_read(monkeypatch, customers, "get_customer", associate)

    response = desk.update_customer(k, {"first_name": "Kurt"})

    assert response["statusCode"] == 200, response
    assert customer_names(desk, MARIO)[k] == "Kurt"
    assert desk.usernames(q="kurt") == [MARIO]


def test_a_password_is_checked_against_a_customer_associated_meanwhile(desk, monkeypatch):
    desk.account_for("Mario", "Rossi", MARIO)
    # OTHER_GOOD_PASSWORD is "tramonto viola dietro le colline": her name is in it.
    viola = desk.customer("Viola", "Tramonto", "viola@example.com")
    associate = partial(accounts.associate, viola, username=MARIO, actor=OPERATOR)
    after_read(monkeypatch, accounts, "get_account", associate)

    response = desk.set_password(MARIO, OTHER_GOOD_PASSWORD)

    assert response["statusCode"] == 422
    assert response["json"]["type"] == "weak_password"
    assert events(MARIO, "account.password_set") == []


@pytest.mark.parametrize("status", ["disabled", "active"])
def test_a_status_set_meanwhile_is_set_once(desk, monkeypatch, status):
    desk.account_for("Mario", "Rossi", MARIO)
    if status == "active":
        assert desk.disable(MARIO)["statusCode"] == 200
    change, action = (
        (accounts.disable, "account.disabled")
        if status == "disabled"
        else (accounts.enable, "account.enabled")
    )
    after_read(monkeypatch, accounts, "get_account", lambda: change(MARIO, actor=OPERATOR))

    response = (desk.disable if status == "disabled" else desk.enable)(MARIO)

    assert response["statusCode"] == 200
    assert response["json"]["status"] == status
    assert len(events(MARIO, action)) == 1
    assert len(events(MARIO, "sessions.revoked")) == 1  # the one disable


def test_an_account_that_keeps_changing_is_a_503_with_retry_after(desk, monkeypatch):
    p, k, session = two_customers(desk, seeded=False)
    names = iter(f"Kevin{'i' * n}" for n in range(1, 10))

    def rename_k():
        customers.update_customer(k, {"first_name": next(names)}, actor=OPERATOR)

    after_read(monkeypatch, accounts, "get_account", rename_k, times=9)

    response = desk.dissociate(p)

    assert response["statusCode"] == 503
    assert response["json"]["type"] == "temporarily_unavailable"
    assert int(response["headers"]["Retry-After"]) >= 1
    # Nothing was written: the operator tries again on what is stored.
    assert set(customer_names(desk, MARIO)) == {p, k}
    assert CustomerModel.get(p).account_username == MARIO
    assert is_valid(session)


def test_the_customer_linked_elsewhere_meanwhile_is_still_a_409(desk, monkeypatch):
    desk.account_for("Paola", "Bianchi", MARIO)
    desk.account_for("Sara", "Neri", "sara.neri@example.com")
    k = desk.customer("Kevin", "Bianchi", "kevin@example.com")
    elsewhere = partial(accounts.associate, k, username="sara.neri@example.com", actor=OPERATOR)
    after_read(monkeypatch, accounts, "batch_get", elsewhere)

    response = desk.associate(k, MARIO)

    assert response["statusCode"] == 409
    assert response["json"]["username"] == "sara.neri@example.com"
    assert list(customer_names(desk, MARIO)) != [k]


# ---- real threads, against the serialising moto server ----------------------------------


def test_racing_dissociations_of_the_last_two_customers(moto_server, monkeypatch):
    p, k, session = two_customers(Desk(), seeded=True)
    all_read_first(monkeypatch, accounts, ["get_account"], parties=2)

    results = in_parallel(
        lambda: accounts.dissociate(p, actor=OPERATOR),
        lambda: accounts.dissociate(k, actor=OPERATOR),
    )

    assert results == [None, None]
    assert last_customer_flags(MARIO) == [False, True]
    assert len(events(MARIO, "sessions.revoked")) == 1
    assert linked_customers(AccountModel.get(MARIO, consistent_read=True)) == {}
    accounts.associate(p, username=MARIO, actor=OPERATOR)
    assert not is_valid(session)


def test_racing_associate_and_dissociate_agree_on_the_sessions(moto_server, monkeypatch):
    desk = Desk()
    p, _ = desk.account_for("Paola", "Bianchi", MARIO, temporary=False)
    session = auth.login(MARIO, GOOD_PASSWORD).token
    x = desk.customer("Xavier", "Bianchi", "xavier@example.com")
    # dissociate reads the account with get_account, associate with batch_get.
    all_read_first(monkeypatch, accounts, ["get_account", "batch_get"], parties=2)

    dissociated, associated = in_parallel(
        lambda: accounts.dissociate(p, actor=OPERATOR),
        lambda: accounts.associate(x, username=MARIO, actor=OPERATOR),
    )

    assert dissociated is None
    assert isinstance(associated, AccountModel)
    assert list(linked_customers(AccountModel.get(MARIO, consistent_read=True))) == [x]
    [flag] = last_customer_flags(MARIO)
    revoked = events(MARIO, "sessions.revoked")
    # Either order is right, as long as the decision fits it: the last customer left
    # (before Xavier came) and the session ended, or Xavier came first and it lives on.
    assert len(revoked) == int(flag)
    assert is_valid(session) is not flag


def test_racing_disables_and_a_password_set(moto_server, monkeypatch):
    desk = Desk()
    desk.account_for("Mario", "Rossi", MARIO)
    all_read_first(monkeypatch, accounts, ["get_account"], parties=3)

    def set_password():
        accounts.set_password(
            MARIO,
            password=OTHER_GOOD_PASSWORD,
            confirmation=OTHER_GOOD_PASSWORD,
            temporary=False,
            actor=OPERATOR,
        )

    results = in_parallel(
        lambda: accounts.disable(MARIO, actor=OPERATOR),
        lambda: accounts.disable(MARIO, actor=OPERATOR),
        set_password,
    )

    assert not any(isinstance(r, Exception) for r in results), results
    assert len(events(MARIO, "account.disabled")) == 1
    assert len(events(MARIO, "account.password_set")) == 1
    assert len(events(MARIO, "sessions.revoked")) == 2
    assert AccountModel.get(MARIO, consistent_read=True).status == "disabled"
    assert desk.usernames(status="disabled") == [MARIO]
    assert desk.usernames() == []
