"""Pages that add up to the whole list, and racing operators that cannot both win."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import requests

from tests.integration.clients import STRONG_PASSWORD, path, random_email, random_name


def _walk(api, **query) -> list[str]:
    """Every username of a listing, following next_cursor until it is null."""
    usernames: list[str] = []
    cursor = None
    for _ in range(200):
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = api.get("/operator/accounts", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= query["limit"]
        usernames += [item["username"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return usernames
    raise AssertionError("the cursor never ran out")


def test_pages_cover_every_account_exactly_once(api):
    last_name = random_name()
    mine = {api.customer_with_account(last_name)[1]["username"] for _ in range(7)}
    disabled = sorted(mine)[:2]
    for username in disabled:
        assert api.post(f"/operator/accounts/{path(username)}/disable").status_code == 200

    searched = _walk(api, q=last_name[:4], status="all", limit=3)
    assert Counter(searched) == Counter(mine)

    active = _walk(api, limit=3)
    assert len(active) == len(set(active))
    assert set(active) & mine == mine - set(disabled)

    everything = _walk(api, status="all", limit=3)
    assert len(everything) == len(set(everything))
    assert mine <= set(everything)


def test_eight_operators_racing_for_one_username_one_wins(api):
    email = random_email()
    last_name = random_name()
    customers = [
        api.create_customer(first_name=f"Twin{n}", last_name=last_name, email=email)
        for n in range(8)
    ]
    start = Barrier(len(customers))

    def create(customer: dict):
        start.wait()
        # One connection per thread: a requests.Session is not meant to be shared.
        return requests.post(
            f"{api.base_url}/operator/customers/{customer['customer_id']}/account",
            json={"password": STRONG_PASSWORD},
            headers={"Authorization": api.session.headers["Authorization"]},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=len(customers)) as pool:
        responses = list(pool.map(create, customers))

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: 7}, [r.text for r in responses]
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {"username_taken"}

    linked = [
        c["customer_id"]
        for c in customers
        if api.get(f"/operator/customers/{c['customer_id']}").json()["account"] is not None
    ]
    assert len(linked) == 1
    account = api.get(f"/operator/accounts/{path(email)}").json()
    assert [c["customer_id"] for c in account["customers"]] == linked
