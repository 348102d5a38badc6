"""What every route answers before and around its own code (portal_accounts.api.app):
the body limit in bytes, a body without a Content-Type, the security headers."""

from __future__ import annotations

import base64
import json

import pytest

from functions.auth_login.app import handler as login_handler
from functions.operator_create_customer.app import handler as create_customer_handler
from functions.operator_get_customer.app import handler as get_customer_handler
from functions.operator_list_accounts.app import handler as list_accounts_handler
from portal_accounts.api.app import MAX_BODY_BYTES
from portal_accounts.models import CustomerModel
from tests import faults
from tests.helpers import FakeContext, call, http_event
from tests.unit.clients import with_json

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
}


def send(handler, method: str, path: str, event: dict | None = None, **kwargs) -> dict:
    return with_json(handler(event or http_event(method, path, **kwargs), FakeContext()))


def customer_body(first_name: str) -> dict:
    return {"first_name": first_name, "last_name": "Rossi"}


def without_content_type(event: dict) -> dict:
    event["headers"].pop("content-type")
    return event


# ---- the body limit counts bytes -----------------------------------------------------------


def test_a_multibyte_body_over_16_kib_of_utf8_is_413(clean_aws):
    # 6000 characters of 3 bytes each: 18,000 bytes, though under 16,384 characters.
    body = json.dumps(customer_body("€" * 6000), ensure_ascii=False)
    assert len(body) < MAX_BODY_BYTES < len(body.encode())
    response = send(create_customer_handler, "POST", "/operator/customers", body=body)
    assert response["statusCode"] == 413, response
    assert response["json"]["type"] == "body_too_large"
    assert CustomerModel.count() == 0


def test_a_multibyte_body_within_16_kib_of_utf8_is_read(clean_aws):
    body = json.dumps(customer_body("€" * 60), ensure_ascii=False)
    response = send(create_customer_handler, "POST", "/operator/customers", body=body)
    assert response["statusCode"] == 201, response


def test_a_base64_body_is_measured_once_decoded(clean_aws):
    def event_of(raw: bytes) -> dict:
        event = http_event("POST", "/operator/customers")
        event.update(body=base64.b64encode(raw).decode(), isBase64Encoded=True)
        return event

    name = "x" * (MAX_BODY_BYTES - len(json.dumps(customer_body(""))))
    exact = json.dumps(customer_body(name)).encode()
    assert len(exact) == MAX_BODY_BYTES
    response = send(create_customer_handler, "POST", "", event=event_of(exact))
    assert response["statusCode"] != 413, response  # at the limit: read (then 422, too long)
    over = json.dumps(customer_body(name + "x")).encode()
    response = send(create_customer_handler, "POST", "", event=event_of(over))
    assert response["statusCode"] == 413, response


# ---- a body needs a Content-Type ------------------------------------------------------------


def test_a_body_without_content_type_is_415(clean_aws):
    event = without_content_type(
        http_event("POST", "/operator/customers", body=customer_body("Mario"))
    )
    response = send(create_customer_handler, "POST", "", event=event)
    assert response["statusCode"] == 415, response
    assert response["json"]["type"] == "unsupported_media_type"
    assert response["json"]["errors"] == [{"field": "content-type", "reason": "missing"}]
    assert CustomerModel.count() == 0


def test_no_body_needs_no_content_type(clean_aws):
    event = without_content_type(http_event("GET", "/operator/accounts"))
    assert send(list_accounts_handler, "GET", "", event=event)["statusCode"] == 200


# ---- security headers on every answer ------------------------------------------------------


def assert_security_headers(response: dict) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response["headers"].get(name) == value, (name, response)


def test_successes_carry_the_security_headers(clean_aws):
    response = call(create_customer_handler, "POST", "/operator/customers", body=customer_body("M"))
    assert response["statusCode"] == 201
    assert_security_headers(response)
    assert_security_headers(call(list_accounts_handler, "GET", "/operator/accounts"))


@pytest.mark.parametrize(
    ("handler", "method", "path", "kwargs", "status"),
    [
        (get_customer_handler, "GET", "/operator/customers/not-a-uuid", {}, 404),
        (get_customer_handler, "GET", "/nowhere", {}, 404),
        (list_accounts_handler, "GET", "/operator/accounts", {"claims": None}, 401),
        (create_customer_handler, "POST", "/operator/customers", {"body": "{"}, 400),
        (login_handler, "POST", "/auth/login", {"body": "x" * 20000, "claims": None}, 413),
        (
            login_handler,
            "POST",
            "/auth/login",
            {"body": {"username": "u@example.com", "password": "p"}, "claims": None},
            401,
        ),
    ],
)
def test_problem_documents_carry_the_security_headers(
    clean_aws, handler, method, path, kwargs, status
):
    response = call(handler, method, path, **kwargs)
    assert response["statusCode"] == status, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert_security_headers(response)


def test_a_503_carries_the_security_headers(clean_aws):
    with faults.failing(faults.READS, "ThrottlingException"):
        response = call(list_accounts_handler, "GET", "/operator/accounts")
    assert response["statusCode"] == 503, response
    assert_security_headers(response)
