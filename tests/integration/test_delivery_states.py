"""Delivery states over HTTP (issue 12): SES's mailbox simulator through the local stack.

An email to success@, bounce@ or complaint@simulator.amazonses.com goes out with the
configuration set; the local stack publishes the events SES would (local/ses_events.py)
to the template's EventBridge rule, whose function updates the email log. The operator
sees delivered, bounced (type and diagnostic) and complained, and a hard bounce in the
account's detail. Each address carries a "+label", as SES allows, so tests never share one.
"""

from __future__ import annotations

import time

from tests.integration.clients import path, random_letters

SIMULATOR = "simulator.amazonses.com"
TIMEOUT_SECONDS = 30


def simulator_address(mailbox: str) -> str:
    return f"{mailbox}+{random_letters(10)}@{SIMULATOR}"


def emails_once_reported(api, username: str, status: str) -> list[dict]:
    """The account's email log once every email in it has reached `status`.

    Waiting for the state the test expects, not for any report: a complaint comes after
    the delivery, in a second event, so "delivered" is a step on its way. Reaching no
    other state within the time, the test fails with what the log shows."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        response = api.get(f"/operator/accounts/{path(username)}/emails")
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        if items and all(item["status"] == status for item in items):
            return items
        assert time.monotonic() < deadline, f"not every email {status}: {items}"
        time.sleep(0.1)


def account_emailed(api, address: str) -> str:
    customer = api.create_customer(first_name="Giulia", last_name="Verdi", email=address)
    account = api.create_account(customer["customer_id"])
    sent = api.post(f"/operator/customers/{customer['customer_id']}/account/credentials-email")
    assert sent.status_code == 202, sent.text
    return account["username"]


def test_an_email_to_the_success_simulator_shows_delivered(api):
    username = account_emailed(api, simulator_address("success"))
    items = emails_once_reported(api, username, "delivered")
    assert {item["status"] for item in items} == {"delivered"}
    assert all(item["sent_at"] and item["reported_at"] for item in items)
    detail = api.get(f"/operator/accounts/{path(username)}").json()
    assert detail["undeliverable_emails"] == []


def test_an_email_to_the_bounce_simulator_shows_bounced_and_the_detail_says_so(api):
    address = simulator_address("bounce")
    username = account_emailed(api, address)
    items = emails_once_reported(api, username, "bounced")
    assert {item["status"] for item in items} == {"bounced"}
    for item in items:
        assert item["bounce_type"] == "Permanent"
        assert item["diagnostic"] == "smtp; 550 5.1.1 user unknown"
    detail = api.get(f"/operator/accounts/{path(username)}").json()
    [shown] = detail["undeliverable_emails"]
    assert shown["address"] == address
    assert shown["bounce_type"] == "Permanent"


def test_an_email_to_the_complaint_simulator_shows_complained(api):
    username = account_emailed(api, simulator_address("complaint"))
    items = emails_once_reported(api, username, "complained")
    # SES reports the delivery, then the complaint: the complaint is where it ends.
    assert {item["status"] for item in items} == {"complained"}
    assert all(item["diagnostic"] == "complaint: abuse" for item in items)
