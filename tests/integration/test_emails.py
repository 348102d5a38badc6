"""Emails leave through the queue: request → SQS → sender → emulated SES → /_local/emails."""

from __future__ import annotations

import time

from tests.integration.conftest import path

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
