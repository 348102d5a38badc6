"""Bad input and conflicts: problem documents, never a 500."""

from __future__ import annotations

import pytest

from tests.integration.clients import (
    STRONG_PASSWORD,
    assert_problem,
    path,
    random_email,
    random_name,
)


def test_account_for_a_customer_without_email_is_refused(api):
    customer = api.create_customer(first_name="Pietro", last_name=random_name())
    response = api.post(
        f"/operator/customers/{customer['customer_id']}/account", json={"password": STRONG_PASSWORD}
    )
    body = assert_problem(response, 422, "customer_email_missing")
    assert "email" in body["detail"]
    assert api.get(f"/operator/customers/{customer['customer_id']}").json()["account"] is None


def test_a_taken_username_is_a_conflict_with_a_hint(api):
    first, account = api.customer_with_account()
    second = api.create_customer(
        first_name="Sara", last_name=first["last_name"], email=first["email"].upper()
    )
    response = api.post(
        f"/operator/customers/{second['customer_id']}/account", json={"password": STRONG_PASSWORD}
    )
    body = assert_problem(response, 409, "username_taken")
    assert "associate" in body["detail"]
    assert api.get(f"/operator/customers/{second['customer_id']}").json()["account"] is None
    # The hint works: associating the existing login is the way.
    response = api.put(
        f"/operator/customers/{second['customer_id']}/account",
        json={"username": account["username"]},
    )
    assert response.status_code == 200


def test_a_customer_already_linked_is_a_conflict(api):
    customer, account = api.customer_with_account()
    response = api.post(
        f"/operator/customers/{customer['customer_id']}/account", json={"password": STRONG_PASSWORD}
    )
    assert_problem(response, 409, "customer_already_linked")
    # Linked to another account: associate refuses too.
    _, other = api.customer_with_account()
    response = api.put(
        f"/operator/customers/{customer['customer_id']}/account",
        json={"username": other["username"]},
    )
    assert_problem(response, 409)
    detail = api.get(f"/operator/accounts/{path(account['username'])}").json()
    assert [c["customer_id"] for c in detail["customers"]] == [customer["customer_id"]]


def test_weak_password_on_create_is_refused_with_a_reason(api):
    customer = api.create_customer(
        first_name="Elena", last_name=random_name(), email=random_email()
    )
    url = f"/operator/customers/{customer['customer_id']}/account"
    for password, reason in (
        ("short one", "too_short"),
        ("qwertyuiop123456", "common_or_guessable"),
        (f"{customer['last_name']} violet tractor 42", "context_word"),
    ):
        body = assert_problem(api.post(url, json={"password": password}), 422, "weak_password")
        assert body["errors"] == [{"field": "password", "reason": reason}], password
    assert api.get(f"/operator/customers/{customer['customer_id']}").json()["account"] is None


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("GET", "/operator/customers/no-such-customer", None),
        ("PATCH", "/operator/customers/no-such-customer", {"first_name": "X"}),
        ("POST", "/operator/customers/no-such-customer/account", {"password": STRONG_PASSWORD}),
        ("DELETE", "/operator/customers/no-such-customer/account", None),
        ("GET", "/operator/accounts/nobody%40example.com", None),
        ("GET", "/operator/accounts/nobody%40example.com/events", None),
        ("POST", "/operator/accounts/nobody%40example.com/disable", None),
        ("POST", "/operator/accounts/nobody%40example.com/enable", None),
        (
            "PUT",
            "/operator/accounts/nobody%40example.com/password",
            {"password": STRONG_PASSWORD, "password_confirmation": STRONG_PASSWORD},
        ),
    ],
)
def test_unknown_ids_are_404_problems(api, method, route, body):
    assert_problem(api.request(method, route, json=body), 404, "not_found")


def test_associating_an_unknown_username_or_dissociating_an_unlinked_customer(api):
    customer = api.create_customer(first_name="Ivo", last_name=random_name())
    url = f"/operator/customers/{customer['customer_id']}/account"
    assert_problem(api.put(url, json={"username": "nobody@example.com"}), 404)
    assert_problem(api.delete(url), 404)


def test_malformed_json_is_a_400_problem(api):
    response = api.post(
        "/operator/customers",
        data=b'{"first_name": "Anna",',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "malformed_json")


def test_a_body_over_16_kib_is_refused(api):
    response = api.post(
        "/operator/customers",
        json={"first_name": "A" * (17 * 1024), "last_name": "B"},
    )
    assert_problem(response, 413, "body_too_large")


def test_wrong_types_are_422_with_one_error_per_field(api):
    response = api.post(
        "/operator/customers",
        json={"first_name": 5, "last_name": ["x"], "email": "not-an-email", "locale": "fr"},
    )
    body = assert_problem(response, 422)
    fields = {error["field"] for error in body["errors"]}
    assert {"first_name", "last_name", "locale"} <= fields
    response = api.post(
        "/operator/customers",
        json={"first_name": "Anna", "last_name": "Bo", "email": "not-an-email"},
    )
    body = assert_problem(response, 422)
    assert [error["field"] for error in body["errors"]] == ["email"]


def test_unknown_fields_are_refused(api):
    response = api.post(
        "/operator/customers", json={"first_name": "Anna", "last_name": "Bo", "admin": True}
    )
    body = assert_problem(response, 422)
    assert "admin" in {error["field"] for error in body["errors"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "foo"}, "status"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "eyJrIjp7InVzZXJuYW1lIjp7Ik4iOiIxIn19fQ"}, "cursor"),
    ],
)
def test_bad_list_queries_are_422(api, query, field):
    body = assert_problem(api.get("/operator/accounts", params=query), 422)
    assert field in {error["field"] for error in body["errors"]}
