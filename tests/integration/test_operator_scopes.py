"""Operator scopes over HTTP: a token's scopes decide which operator routes it opens, and a
missing scope is a 403 problem document from the function (not API Gateway's
{"message": "Forbidden"}), so a client reads every refusal the same way."""

from __future__ import annotations

import jwt
import pytest

from local import template
from tests.integration.clients import Client, assert_problem, path

OPERATOR = "portal-accounts/operator"
ADMIN = "portal-accounts/admin"
TEMPLATE = "/operator/templates/password_changed/en"
ADMIN_ROUTES = {
    "PUT /operator/templates/{template_id}/{locale}",
    "DELETE /operator/templates/{template_id}/{locale}",
    "POST /operator/accounts/{username}/unlock",
}
OPERATOR_ROUTES = sorted(
    (route for route in template.routes() if route.authorizer == "OperatorJwt"),
    key=lambda route: (route.path, route.method),
)


@pytest.fixture(scope="module")
def desk(local_stack, token_for) -> Client:
    """An operator whose token has the operator scope only."""
    return Client(local_stack, token_for(OPERATOR))


def assert_insufficient_scope(response, needed: str) -> None:
    body = assert_problem(response, 403, "insufficient_scope")
    assert needed in body["detail"]
    assert body["errors"] == [{"field": "scope", "reason": f"one of: {needed}"}]


def test_the_local_token_has_both_scopes_unless_asked_for_fewer(operator_token, token_for):
    def scope_of(token: str) -> str | None:
        return jwt.decode(token, options={"verify_signature": False}).get("scope")

    assert scope_of(operator_token) == f"{OPERATOR} {ADMIN}"
    assert scope_of(token_for(OPERATOR)) == OPERATOR
    assert scope_of(token_for(f"openid {ADMIN}")) == f"openid {ADMIN}"
    assert scope_of(token_for("")) is None


def test_the_operator_scope_alone_cannot_edit_templates_or_unlock(api, desk):
    _, account = api.customer_with_account()
    unlock = f"/operator/accounts/{path(account['username'])}/unlock"
    draft = {"subject": "Changed", "text": "Hello {{ first_name }}", "html": "<p>Hello</p>"}

    assert_insufficient_scope(desk.put(TEMPLATE, json=draft), ADMIN)
    assert_insufficient_scope(desk.delete(TEMPLATE), ADMIN)
    assert_insufficient_scope(desk.post(unlock), ADMIN)
    assert api.get(TEMPLATE).json()["customised"] is False  # nothing was saved
    assert "account.unlocked" not in actions(api, account["username"])

    # Everything else is the desk's ordinary work.
    assert desk.get("/operator/accounts").status_code == 200
    assert desk.get(f"/operator/accounts/{path(account['username'])}").status_code == 200
    assert desk.get(TEMPLATE).status_code == 200
    assert desk.post(f"{TEMPLATE}/preview", json=draft).status_code == 200
    _, created = desk.customer_with_account()
    disable = desk.post(f"/operator/accounts/{path(created['username'])}/disable")
    assert disable.status_code == 200

    # ... and the admin scope does what the desk could not.
    response = api.post(unlock)
    assert response.status_code == 200, response.text
    assert response.json()["username"] == account["username"]
    assert "account.unlocked" in actions(api, account["username"])


def test_a_token_without_scopes_opens_no_operator_route(local_stack, token_for):
    bare = Client(local_stack, token_for(""))
    values = {
        "customer_id": "00000000-0000-0000-0000-000000000000",
        "import_id": "20260101T090000Z-000000000000",
        "username": path("nobody@example.com"),
        "template_id": "password_changed",
        "locale": "en",
    }
    assert len(OPERATOR_ROUTES) >= 20
    for route in OPERATOR_ROUTES:
        response = bare.request(route.method, route.path.format(**values))
        needed = ADMIN if f"{route.method} {route.path}" in ADMIN_ROUTES else OPERATOR
        assert_insufficient_scope(response, needed)


def actions(api: Client, username: str) -> list[str]:
    response = api.get(f"/operator/accounts/{path(username)}/events")
    assert response.status_code == 200, response.text
    return [event["action"] for event in response.json()["items"]]
