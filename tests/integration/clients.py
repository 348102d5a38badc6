"""The integration tests' client of the local stack, and the data it needs: no fixture here
(those are in tests/integration/conftest.py, which builds them from these).

Everything goes over HTTP, like any client of the deployed APIs: the tests see only status
codes, headers and bodies. One stack serves the whole session, so every test makes its own
customers (random names and emails) and never counts what it did not create.
"""

from __future__ import annotations

import secrets
import string
from urllib.parse import quote

import requests

STRONG_PASSWORD = "violet tractor umbrella 42 canyon"
PROBLEM_JSON = "application/problem+json"


class Client:
    """requests against the local stack, with the operator token when there is one."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # ---- the seed flows' building blocks ------------------------------------------------

    def create_customer(self, **fields) -> dict:
        response = self.post("/operator/customers", json=fields)
        assert response.status_code == 201, response.text
        return response.json()

    def create_account(self, customer_id: str, **fields) -> dict:
        body = {"password": STRONG_PASSWORD, **fields}
        response = self.post(f"/operator/customers/{customer_id}/account", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def customer_with_account(self, last_name: str | None = None) -> tuple[dict, dict]:
        customer = self.create_customer(
            first_name="Giulia", last_name=last_name or random_name(), email=random_email()
        )
        return customer, self.create_account(customer["customer_id"])


def random_letters(count: int) -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(count))


def random_name() -> str:
    """A last name no other test uses: its first three letters are random."""
    return f"{random_letters(4).capitalize()}ello"


def random_email() -> str:
    return f"{random_letters(8)}.{random_letters(4)}@example.com"


def path(username: str) -> str:
    """A username as a path parameter: URL-encoded, @ as %40."""
    return quote(username, safe="")


def assert_problem(response: requests.Response, status: int, type_: str | None = None) -> dict:
    """An RFC 9457 problem document with the given status (and type)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(body)
    assert body["status"] == status
    assert isinstance(body["errors"], list)
    if type_ is not None:
        assert body["type"] == type_, body
    return body
