"""What API Gateway itself answers, as the local stack emulates it: auth, routing, /_local."""

from __future__ import annotations

import json
import time

import jwt
import requests

from local.launch import ROOT
from tests.integration.clients import assert_problem, random_email, random_name

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
}


def test_operator_routes_refuse_requests_without_a_token(anonymous):
    response = anonymous.post(
        "/operator/customers", json={"first_name": "Anna", "last_name": "Verdi"}
    )
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert anonymous.get("/operator/accounts").status_code == 401


def test_a_refused_token_never_reaches_the_handler(api, local_stack):
    customer = api.create_customer(first_name="Anna", last_name=random_name(), email=random_email())
    url = f"{local_stack}/operator/customers/{customer['customer_id']}/account"
    forged = jwt.encode(
        {
            "iss": "portal-accounts-local",
            "aud": "portal-accounts-dashboard",
            "sub": "intruder",
            "exp": int(time.time()) + 600,
        },
        "not-the-local-secret-but-32-bytes-long",
        algorithm="HS256",
    )
    for authorization in ("Bearer garbage", f"Bearer {forged}", "Basic b3A6b3A="):
        response = requests.post(
            url,
            json={"password": "violet tractor umbrella 42 canyon"},
            headers={"Authorization": authorization},
            timeout=10,
        )
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}
    # Nothing was created behind the 401s.
    assert api.get(f"/operator/customers/{customer['customer_id']}").json()["account"] is None


def test_a_token_for_another_audience_is_refused(anonymous, operator_token):
    claims = jwt.decode(operator_token, options={"verify_signature": False})
    assert claims["iss"] == "portal-accounts-local"
    assert claims["aud"] == "portal-accounts-dashboard"
    assert claims["sub"] == "local-operator"
    assert claims["exp"] - claims["iat"] == 12 * 3600
    tampered = jwt.encode({**claims, "aud": "someone-else"}, "k" * 32, algorithm="HS256")
    response = anonymous.get("/operator/accounts", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


def test_unknown_routes_answer_like_api_gateway(api):
    for method, route in (
        ("GET", "/nowhere"),
        ("GET", "/operator/customers"),  # the path exists for POST only
        ("PATCH", "/operator/accounts"),
    ):
        response = api.request(method, route)
        assert response.status_code == 404, (method, route)
        assert response.json() == {"message": "Not Found"}


def test_handlers_answer_with_their_own_headers(api):
    response = api.get("/operator/accounts")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["apigw-requestid"]


def test_every_answer_of_a_handler_carries_the_security_headers(api, anonymous):
    answers = [
        api.get("/operator/accounts"),  # 200
        api.post("/operator/customers", json={"first_name": "Anna"}),  # 422
        anonymous.post("/auth/login", json={"username": "x@example.com", "password": "y"}),  # 401
        api.get("/operator/customers/00000000-0000-0000-0000-000000000000"),  # 404
    ]
    assert [a.status_code for a in answers] == [200, 422, 401, 404]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.status_code, name)


def test_a_body_without_content_type_is_415(api):
    body = json.dumps({"first_name": "Anna", "last_name": random_name()}).encode()
    response = api.post("/operator/customers", data=body)  # requests sends no Content-Type
    assert "Content-Type" not in response.request.headers
    problem = assert_problem(response, 415, "unsupported_media_type")
    assert problem["errors"] == [{"field": "content-type", "reason": "missing"}]


def test_the_body_limit_counts_bytes_not_characters(api):
    # 6000 characters of 3 bytes each: 18,000 bytes in under 16,384 characters.
    body = json.dumps({"first_name": "€" * 6000, "last_name": random_name()}, ensure_ascii=False)
    response = api.post(
        "/operator/customers",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 413, "body_too_large")


def test_openapi_document_is_served(anonymous):
    committed = ROOT / "docs" / "openapi.json"
    response = anonymous.get("/_local/openapi.json")
    if not committed.exists():
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document = response.json()
    assert document == json.loads(committed.read_text())
    assert document["openapi"].startswith("3.")
    assert "/operator/customers" in document["paths"]


def test_local_emails_is_a_list(anonymous):
    response = anonymous.get("/_local/emails")
    assert response.status_code == 200
    assert isinstance(response.json(), list)
