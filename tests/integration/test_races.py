"""Racing operator writes over HTTP: a decision taken from a read holds at the write.

Issue 9, finding 1: two parallel dissociations of an account's two customers both decided
"not the last one" from the same read, so neither ended the sessions, and re-associating
a customer brought the old session back. The race is timing-dependent over HTTP, so the
scenario runs on a few accounts at once; every one of them must come out right.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import requests

from tests.integration.clients import STRONG_PASSWORD, path, random_email, random_name

ROUNDS = 4


def _account_with_two_customers(api) -> tuple[str, str, str]:
    """(username, P, K): P's email is the username, K is associated to it."""
    last_name = random_name()
    username = random_email()
    first = api.create_customer(first_name="Paola", last_name=last_name, email=username)
    api.create_account(first["customer_id"], password=STRONG_PASSWORD, temporary=False)
    second = api.create_customer(first_name="Kevin", last_name=last_name, email=random_email())
    response = api.put(
        f"/operator/customers/{second['customer_id']}/account", json={"username": username}
    )
    assert response.status_code == 200, response.text
    return username, first["customer_id"], second["customer_id"]


def _session(anonymous, username: str) -> dict:
    response = anonymous.post(
        "/auth/login", json={"username": username, "password": STRONG_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_racing_dissociations_of_the_last_two_customers_end_the_sessions(api, anonymous):
    rounds = [_account_with_two_customers(api) for _ in range(ROUNDS)]
    bearers = [_session(anonymous, username) for username, _, _ in rounds]
    for bearer in bearers:
        assert anonymous.get("/me", headers=bearer).status_code == 200
    deletes = [customer for _, p, k in rounds for customer in (p, k)]
    start = Barrier(len(deletes))
    authorization = api.session.headers["Authorization"]

    def dissociate(customer_id: str) -> requests.Response:
        start.wait()
        # One connection per thread: a requests.Session is not meant to be shared.
        return requests.delete(
            f"{api.base_url}/operator/customers/{customer_id}/account",
            headers={"Authorization": authorization},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=len(deletes)) as pool:
        responses = list(pool.map(dissociate, deletes))
    assert [r.status_code for r in responses] == [204] * len(deletes), [r.text for r in responses]

    for (username, p, _), bearer in zip(rounds, bearers, strict=True):
        events = api.get(f"/operator/accounts/{path(username)}/events").json()["items"]
        dissociated = [e for e in events if e["action"] == "account.customer_dissociated"]
        assert sorted(e["details"]["last_customer"] for e in dissociated) == [False, True]
        revoked = [e for e in events if e["action"] == "sessions.revoked"]
        assert [e["details"]["cause"] for e in revoked] == ["account.customer_dissociated"]
        # Linked again, the account works again, but not for the session of before.
        response = api.put(f"/operator/customers/{p}/account", json={"username": username})
        assert response.status_code == 200, response.text
        assert anonymous.get("/me", headers=bearer).status_code == 401
        assert anonymous.get("/me", headers=_session(anonymous, username)).status_code == 200
