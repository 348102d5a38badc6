"""Operator scopes: every operator route needs the operator scope, template edits and unlocks
the admin scope, and a token without the one a route needs is a 403 problem document.

The handlers are called as API Gateway calls them after the JWT authorizer let a token in:
its claims in requestContext.authorizer.jwt, the `scope` claim a space-separated string.
"""

from __future__ import annotations

import importlib

import pytest

from local import openapi, template
from portal_accounts.api import app
from portal_accounts.models import AccountModel
from tests.helpers import OPERATOR_CLAIMS, FakeContext, call, http_event
from tests.unit.clients import enc

OPERATOR = "portal-accounts/operator"
ADMIN = "portal-accounts/admin"
MARIO = "mario.rossi@example.com"
ADMIN_ROUTES = {
    "PUT /operator/templates/{template_id}/{locale}",
    "DELETE /operator/templates/{template_id}/{locale}",
    "POST /operator/accounts/{username}/unlock",
}
# A value for each path parameter of the operator routes: any will do, the scope comes first.
PATH_VALUES = {
    "customer_id": "00000000-0000-0000-0000-000000000000",
    "username": enc(MARIO),
    "template_id": "password_reset_link",
    "locale": "it",
    "import_id": "20260101T090000Z-000000000000",
}
OPERATOR_ROUTES = sorted(
    (route for route in template.routes() if route.authorizer == "OperatorJwt"),
    key=lambda route: (route.path, route.method),
)


def claims_with(scope: str | None, claim: str = "scope") -> dict:
    claims = {key: value for key, value in OPERATOR_CLAIMS.items() if key != "scope"}
    return claims if scope is None else {**claims, claim: scope}


def key(route: template.Route) -> str:
    return f"{route.method} {route.path}"


def ask(route: template.Route, claims: dict) -> dict:
    handler = importlib.import_module(route.module).handler
    path = route.path.format(**PATH_VALUES)
    return call(handler, route.method, path, claims=claims)


def assert_insufficient_scope(response: dict, needed: str) -> None:
    assert response["statusCode"] == 403, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    body = response["json"]
    assert body["type"] == "insufficient_scope" and body["status"] == 403
    assert needed in body["detail"]
    assert body["errors"] == [{"field": "scope", "reason": f"one of: {needed}"}]


def test_the_routes_are_all_known():
    assert len(OPERATOR_ROUTES) >= 20
    assert {key(route) for route in OPERATOR_ROUTES} >= ADMIN_ROUTES


@pytest.mark.parametrize("route", OPERATOR_ROUTES, ids=key)
def test_a_token_without_scopes_opens_no_operator_route(clean_aws, route):
    needed = ADMIN if key(route) in ADMIN_ROUTES else OPERATOR
    assert_insufficient_scope(ask(route, claims_with(None)), needed)
    assert_insufficient_scope(ask(route, claims_with("openid email profile")), needed)


@pytest.mark.parametrize("route", OPERATOR_ROUTES, ids=key)
def test_the_operator_scope_opens_every_route_but_the_admin_ones(clean_aws, route):
    response = ask(route, claims_with(OPERATOR))
    if key(route) in ADMIN_ROUTES:
        assert_insufficient_scope(response, ADMIN)
    else:
        assert response["statusCode"] not in (401, 403), response


@pytest.mark.parametrize("route", OPERATOR_ROUTES, ids=key)
def test_scopes_are_independent_grants_the_admin_scope_alone_opens_admin_routes(clean_aws, route):
    response = ask(route, claims_with(ADMIN))
    if key(route) in ADMIN_ROUTES:
        assert response["statusCode"] not in (401, 403), response
    else:
        assert_insufficient_scope(response, OPERATOR)


def test_nothing_is_written_when_the_scope_is_missing(desk):
    desk.account_for("Mario", "Rossi", MARIO)
    put = call(
        importlib.import_module("functions.operator_put_template.app").handler,
        "PUT",
        "/operator/templates/password_changed/it",
        body={"subject": "Ciao", "text": "Ciao {{ first_name }}", "html": "<p>Ciao</p>"},
        claims=claims_with(OPERATOR),
    )
    assert_insufficient_scope(put, ADMIN)
    disable = importlib.import_module("functions.operator_disable_account.app").handler
    refused = call(disable, "POST", f"/operator/accounts/{enc(MARIO)}/disable", claims={})
    assert refused["statusCode"] == 401  # no operator at all: 401 comes before any scope
    refused = call(
        disable, "POST", f"/operator/accounts/{enc(MARIO)}/disable", claims=claims_with(ADMIN)
    )
    assert_insufficient_scope(refused, OPERATOR)
    assert AccountModel.get(MARIO).status == "active"
    events = desk.events(MARIO)["json"]["items"]
    assert [event["action"] for event in events] == ["account.created"]


# ---- where the scopes are read from -------------------------------------------------------


@pytest.mark.parametrize(
    "claim, value",
    [
        ("scope", f"openid {OPERATOR}"),  # Cognito access tokens, OAuth 2.0
        ("scope", f"  {OPERATOR}  "),
        ("scp", OPERATOR),  # Entra ID and others: a space-separated string...
        ("scp", f"[profile {OPERATOR}]"),  # ... or an array, which API Gateway renders so
    ],
)
def test_scopes_are_read_from_the_scope_or_scp_claim(clean_aws, claim, value):
    list_accounts = importlib.import_module("functions.operator_list_accounts.app").handler
    response = call(list_accounts, "GET", "/operator/accounts", claims=claims_with(value, claim))
    assert response["statusCode"] == 200, response


def test_scopes_api_gateway_lists_count_too(clean_aws):
    # On a route with AuthorizationScopes API Gateway also lists the token's scopes.
    list_accounts = importlib.import_module("functions.operator_list_accounts.app").handler
    event = http_event("GET", "/operator/accounts", claims=claims_with(None))
    event["requestContext"]["authorizer"]["jwt"]["scopes"] = [OPERATOR]
    assert list_accounts(event, FakeContext())["statusCode"] == 200


def test_a_scope_is_a_whole_word_not_a_part_of_one(clean_aws):
    list_accounts = importlib.import_module("functions.operator_list_accounts.app").handler
    for value in (f"{OPERATOR}s", OPERATOR.upper(), f"x{OPERATOR}", OPERATOR.replace("/", " ")):
        response = call(list_accounts, "GET", "/operator/accounts", claims=claims_with(value))
        assert_insufficient_scope(response, OPERATOR)


def test_the_accepted_names_come_from_the_environment(clean_aws, monkeypatch):
    from portal_accounts.config import get_settings

    monkeypatch.setenv("OPERATOR_SCOPES", "desk,https://api.example/operator")
    get_settings.cache_clear()
    list_accounts = importlib.import_module("functions.operator_list_accounts.app").handler
    response = call(list_accounts, "GET", "/operator/accounts", claims=claims_with(OPERATOR))
    assert_insufficient_scope(response, "desk, https://api.example/operator")
    for accepted in ("desk", "https://api.example/operator"):
        response = call(list_accounts, "GET", "/operator/accounts", claims=claims_with(accepted))
        assert response["statusCode"] == 200, response


# ---- every route declares its scope -------------------------------------------------------


def test_every_operator_route_has_a_scope_and_only_the_admin_routes_need_admin():
    declared = {}
    for route in openapi.api_routes():  # the customer's HTML pages take no operator token
        router = importlib.import_module(route.module).router
        (served,) = [r for r in router.routes if r.method == route.method]
        declared[key(route)] = served.scope
    operator_routes = {key(route) for route in OPERATOR_ROUTES}
    assert {k for k, scope in declared.items() if scope == app.ADMIN} == ADMIN_ROUTES
    assert {k for k, scope in declared.items() if scope == app.OPERATOR} == (
        operator_routes - ADMIN_ROUTES
    )
    assert {k for k, scope in declared.items() if scope is None} == (
        set(declared) - operator_routes
    )


def test_a_route_cannot_forget_its_scope_or_give_one_to_a_storefront_route():
    router = app.Router()
    assert router.post("/operator/things")(lambda: None) is not None
    assert router.routes[-1].scope == app.OPERATOR  # the default, never "none"
    with pytest.raises(ValueError, match="scope"):
        router.post("/operator/things", scope="root")
    with pytest.raises(ValueError, match="scope"):
        router.post("/auth/things", scope=app.OPERATOR)
