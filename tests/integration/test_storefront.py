"""The storefront over HTTP, behind the session authorizer: F5, F12, and the API boundary."""

from __future__ import annotations

import re
import time

from tests.integration.clients import STRONG_PASSWORD, assert_problem, path

DELIVERY_TIMEOUT_SECONDS = 10


def _login(anonymous, username: str, password: str):
    return anonymous.post("/auth/login", json={"username": username, "password": password})


def _reset_link(anonymous, username: str, after: int) -> str:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        emails = anonymous.get("/_local/emails").json()[after:]
        for email in emails:
            if (email["to"] or "").lower() == username:
                match = re.search(r"/reset-password\?token=([A-Za-z0-9_\-]+)", email["text"])
                if match:
                    return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no reset email to {username}")


def test_login_me_and_the_boundary_between_the_apis(api, anonymous):
    customer, account = api.customer_with_account()
    username = account["username"]
    api.put(
        f"/operator/accounts/{path(username)}/password",
        json={
            "password": STRONG_PASSWORD,
            "password_confirmation": STRONG_PASSWORD,
            "temporary": False,
        },
    )
    response = _login(anonymous, username.upper(), STRONG_PASSWORD)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    session = response.json()
    assert session["password_change_required"] is False
    assert [c["customer_id"] for c in session["customers"]] == [customer["customer_id"]]

    bearer = {"Authorization": f"Bearer {session['token']}"}
    me = anonymous.get("/me", headers=bearer)
    assert me.status_code == 200
    assert me.json()["username"] == username

    # Without a session, with garbage, or with an operator JWT: the authorizer says 401.
    assert anonymous.get("/me").status_code == 401
    assert anonymous.get("/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.get("/me").status_code == 401
    # And operator routes refuse the storefront session.
    assert anonymous.get("/operator/accounts", headers=bearer).status_code == 401

    assert anonymous.post("/auth/logout", headers=bearer).status_code == 204
    assert anonymous.get("/me", headers=bearer).status_code == 401

    wrong = _login(anonymous, username, "not the password at all")
    assert_problem(wrong, 401)


def test_forgot_password_link_works_once(api, anonymous):
    _, account = api.customer_with_account()
    username = account["username"]
    api.put(
        f"/operator/accounts/{path(username)}/password",
        json={
            "password": STRONG_PASSWORD,
            "password_confirmation": STRONG_PASSWORD,
            "temporary": False,
        },
    )
    old_session = _login(anonymous, username, STRONG_PASSWORD).json()["token"]
    old_bearer = {"Authorization": f"Bearer {old_session}"}
    assert anonymous.get("/me", headers=old_bearer).status_code == 200
    sent_before = len(anonymous.get("/_local/emails").json())

    response = anonymous.post("/auth/password/forgot", json={"email": username})
    assert response.status_code == 202
    unknown = anonymous.post("/auth/password/forgot", json={"email": "nobody.here@example.com"})
    assert (unknown.status_code, unknown.json()) == (202, response.json())

    token = _reset_link(anonymous, username, sent_before)
    verify = anonymous.post("/auth/password/reset/verify", json={"token": token})
    assert verify.status_code == 200 and verify.json() == {"valid": True}

    new_password = "copper meadow violin 19 lantern"
    body = {"token": token, "password": new_password, "password_confirmation": new_password}
    assert anonymous.post("/auth/password/reset", json=body).status_code == 204
    assert_problem(
        anonymous.post("/auth/password/reset", json=body), 410, "invalid_or_expired_link"
    )

    assert _login(anonymous, username, new_password).status_code == 200
    assert _login(anonymous, username, STRONG_PASSWORD).status_code == 401
    # The reset ended every session that existed before it.
    assert anonymous.get("/me", headers=old_bearer).status_code == 401
    # And a "password changed" email went to the account.
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    subjects: list[str] = []
    while time.monotonic() < deadline:
        emails = anonymous.get("/_local/emails").json()[sent_before:]
        subjects = [e["subject"] for e in emails if e["to"] == username]
        if len(subjects) >= 2:
            break
        time.sleep(0.2)
    assert len(subjects) == 2, subjects  # the reset link, then the notice


def test_operator_reset_emails_a_temporary_password(api, anonymous):
    """F4 end to end: the operator's click → the queued email → the customer logs in with
    the emailed password, must change it, and can do nothing else until then."""
    customer, account = api.customer_with_account()
    username = account["username"]
    sent_before = len(anonymous.get("/_local/emails").json())
    response = api.post(f"/operator/customers/{customer['customer_id']}/account/password-reset")
    assert response.status_code == 202 and response.json() == {"status": "queued"}

    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    password = None
    while time.monotonic() < deadline and password is None:
        for email in anonymous.get("/_local/emails").json()[sent_before:]:
            if email["to"] == username:
                # The password is the only line of the text that is a 5x5 group code.
                found = re.search(r"^([A-Za-z0-9]{5}(?:-[A-Za-z0-9]{5}){4})$", email["text"], re.M)
                password = found.group(1) if found else None
        time.sleep(0.2)
    assert password, "no new-password email"

    login = _login(anonymous, username, password)
    assert login.status_code == 200
    assert login.json()["password_change_required"] is True
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    assert anonymous.get("/me", headers=bearer).json()["password_change_required"] is True
    new_password = "amber falcon rides 88 north wind"
    change = anonymous.put(
        "/me/password",
        headers=bearer,
        json={
            "current_password": password,
            "new_password": new_password,
            "new_password_confirmation": new_password,
        },
    )
    assert change.status_code == 204, change.text
    assert anonymous.get("/me", headers=bearer).json()["password_change_required"] is False
    assert _login(anonymous, username, password).status_code == 401
