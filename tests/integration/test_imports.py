"""A bulk import over HTTP (issue 10, F6): POST, follow it, the emails, the first login.

The local stack drains the import queue into the account_import function and the bulk
email queue into the sender, as Lambda's event sources do on AWS.
"""

from __future__ import annotations

import re
import time

from tests.integration.clients import STRONG_PASSWORD, random_email, random_name

TIMEOUT_SECONDS = 60


def _until(check, what: str):
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {TIMEOUT_SECONDS}s")


def test_an_import_made_over_http_gives_logins_the_customers_can_set_and_use(api, anonymous):
    last_name = random_name()
    customers = [
        api.create_customer(first_name=f"Socio{n}", last_name=last_name, email=random_email())
        for n in range(3)
    ]
    ids = [customer["customer_id"] for customer in customers]
    started = api.post("/operator/accounts/import", json={"customer_ids": [*ids, ids[0]]})
    assert started.status_code == 202, started.text
    assert started.json()["total"] == 3
    location = started.headers["Location"]

    def finished():
        body = api.get(location).json()
        return body if body["status"] == "done" else None

    done = _until(finished, "the import")
    assert done["counts"] == {"created": 3}, done
    usernames = {row["username"] for row in done["rows"]}
    assert usernames == {customer["email"] for customer in customers}

    # The first customer's credentials email, its link, a password, a login.
    first = customers[0]["email"]

    def link():
        for email in api.get("/_local/emails").json():
            if email["to"] == first:
                match = re.search(r"/reset-password\?token=([A-Za-z0-9_\-]+)", email["text"])
                if match:
                    return match.group(1)
        return None

    token = _until(link, "the credentials email")
    body = {"token": token, "password": STRONG_PASSWORD, "password_confirmation": STRONG_PASSWORD}
    assert anonymous.post("/auth/password/reset", json=body).status_code == 204
    login = anonymous.post("/auth/login", json={"username": first, "password": STRONG_PASSWORD})
    assert login.status_code == 200, login.text

    # The same import again finds every login made: nothing twice.
    again = api.post("/operator/accounts/import", json={"customer_ids": ids})
    assert again.status_code == 202, again.text
    repeat = _until(
        lambda: (b := api.get(again.headers["Location"]).json())["status"] == "done" and b,
        "the repeated import",
    )
    assert repeat["counts"] == {"customer_already_linked": 3}
