"""The seeds' operator flows end to end over HTTP: F1, F2, F3, F7, F8, F9, F10, F14."""

from __future__ import annotations

from tests.integration.clients import (
    STRONG_PASSWORD,
    assert_problem,
    path,
    random_email,
    random_name,
)


def _listed(api, q: str, **query) -> dict[str, dict]:
    response = api.get("/operator/accounts", params={"q": q, "limit": 100, **query})
    assert response.status_code == 200, response.text
    return {item["username"]: item for item in response.json()["items"]}


def _customer_ids(account: dict) -> set[str]:
    return {c["customer_id"] for c in account["customers"]}


def test_account_lifecycle_from_a_customer(api):
    last_name = random_name()
    q = last_name[:3].lower()
    email = random_email()

    # F14 + F9: a customer, then a login for it; username = the email, normalised.
    parent = api.create_customer(
        first_name="Maria", last_name=last_name, email=email.upper(), locale="it"
    )
    assert parent["account"] is None
    response = api.post(
        f"/operator/customers/{parent['customer_id']}/account", json={"password": STRONG_PASSWORD}
    )
    assert response.status_code == 201, response.text
    account = response.json()
    username = account["username"]
    assert username == email.lower()
    assert account["status"] == "active"
    assert account["password_change_required"] is True  # operator-typed: temporary by default
    assert _customer_ids(account) == {parent["customer_id"]}
    assert STRONG_PASSWORD not in response.text and "hash" not in response.text

    # F1: a few letters of the last name find it.
    assert username in _listed(api, q)

    # F2: the detail, with its recent events and who did them.
    response = api.get(f"/operator/accounts/{path(username)}")
    assert response.status_code == 200
    detail = response.json()
    assert detail["username"] == username
    assert detail["created_at"] and detail["password_changed_at"]
    assert detail["last_login_at"] is None and detail["locked_until"] is None
    created = [e for e in detail["recent_events"] if e["action"] == "account.created"]
    assert created and created[0]["actor"]["id"] == "local-operator"

    # F10: a child uses the parent's login; associating twice changes nothing.
    child = api.create_customer(first_name="Luca", last_name=last_name)
    for _ in range(2):
        response = api.put(
            f"/operator/customers/{child['customer_id']}/account", json={"username": username}
        )
        assert response.status_code == 200, response.text
        assert _customer_ids(response.json()) == {parent["customer_id"], child["customer_id"]}
    events = api.get(f"/operator/accounts/{path(username)}/events").json()["items"]
    assert [e["action"] for e in events].count("account.customer_associated") == 1
    assert _customer_ids(_listed(api, q)[username]) == {
        parent["customer_id"],
        child["customer_id"],
    }
    child_now = api.get(f"/operator/customers/{child['customer_id']}").json()
    assert child_now["account"] == {"username": username, "status": "active"}

    # F8: dissociate the child; the account and the parent keep working.
    response = api.delete(f"/operator/customers/{child['customer_id']}/account")
    assert response.status_code == 204
    assert response.content == b""
    assert _customer_ids(_listed(api, q)[username]) == {parent["customer_id"]}
    assert api.get(f"/operator/customers/{child['customer_id']}").json()["account"] is None
    assert api.get(f"/operator/accounts/{path(username)}").json()["status"] == "active"

    # F7: disable: gone from the default (active) listing, there with status filters.
    response = api.post(f"/operator/accounts/{path(username)}/disable")
    assert response.status_code == 200
    assert response.json()["status"] == "disabled"
    assert username not in _listed(api, q)
    assert _listed(api, q, status="disabled")[username]["status"] == "disabled"
    assert username in _listed(api, q, status="all")
    parent_now = api.get(f"/operator/customers/{parent['customer_id']}").json()
    assert parent_now["account"] == {"username": username, "status": "disabled"}

    response = api.post(f"/operator/accounts/{path(username)}/enable")
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    assert username in _listed(api, q)
    assert username not in _listed(api, q, status="disabled")

    # F3: typed twice; mismatch and weak passwords are refused with a reason.
    password_url = f"/operator/accounts/{path(username)}/password"
    response = api.put(
        password_url,
        json={"password": STRONG_PASSWORD, "password_confirmation": STRONG_PASSWORD + "!"},
    )
    body = assert_problem(response, 422, "password_mismatch")
    assert body["errors"] == [{"field": "password_confirmation", "reason": "mismatch"}]
    response = api.put(
        password_url,
        json={"password": "password12345678", "password_confirmation": "password12345678"},
    )
    assert assert_problem(response, 422, "weak_password")["errors"][0]["field"] == "password"
    new_password = "marble otter lantern 7 quiet harbour"
    response = api.put(
        password_url,
        json={"password": new_password, "password_confirmation": new_password, "temporary": False},
    )
    assert response.status_code == 204
    assert (
        api.get(f"/operator/accounts/{path(username)}").json()["password_change_required"] is False
    )

    # The audit trail, newest first, every action by the operator of the token.
    response = api.get(f"/operator/accounts/{path(username)}/events")
    assert response.status_code == 200
    events = response.json()["items"]
    actions = [e["action"] for e in events]
    # The newest: the password set, and the sessions it ended, listed after it (above it).
    assert actions[:2] == ["sessions.revoked", "account.password_set"]
    for action in (
        "account.enabled",
        "account.disabled",
        "account.customer_dissociated",
        "account.customer_associated",
        "account.created",
    ):
        assert action in actions
    assert actions.index("account.enabled") < actions.index("account.disabled")
    assert actions.index("account.disabled") < actions.index("account.created")
    times = [e["at"] for e in events]
    assert times == sorted(times, reverse=True)
    assert {e["actor"]["id"] for e in events} == {"local-operator"}
    assert {e["actor"]["email"] for e in events} == {"operator@local.test"}


def test_the_operator_is_whoever_the_token_names(local_stack, anonymous):
    token = anonymous.get(
        "/_local/operator-token", params={"sub": "desk-7", "email": "desk7@local.test"}
    ).json()["token"]
    anonymous.session.headers["Authorization"] = f"Bearer {token}"
    _, account = anonymous.customer_with_account()
    events = anonymous.get(f"/operator/accounts/{path(account['username'])}/events").json()
    assert events["items"][0]["actor"] == {
        "type": "operator",
        "id": "desk-7",
        "email": "desk7@local.test",
    }


def test_customer_update_is_seen_by_search(api):
    customer, account = api.customer_with_account()
    new_last_name = random_name()
    response = api.patch(
        f"/operator/customers/{customer['customer_id']}", json={"last_name": new_last_name}
    )
    assert response.status_code == 200
    assert response.json()["last_name"] == new_last_name
    assert account["username"] in _listed(api, new_last_name[:3].lower())
