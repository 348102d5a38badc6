"""Bad input on every operator route: problem documents, the right status, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from functions.operator_associate_account.app import handler as associate_handler
from functions.operator_create_account.app import handler as create_account_handler
from functions.operator_create_customer.app import handler as create_customer_handler
from functions.operator_disable_account.app import handler as disable_handler
from functions.operator_dissociate_account.app import handler as dissociate_handler
from functions.operator_enable_account.app import handler as enable_handler
from functions.operator_get_account.app import handler as get_account_handler
from functions.operator_get_customer.app import handler as get_customer_handler
from functions.operator_list_accounts.app import handler as list_accounts_handler
from functions.operator_list_events.app import handler as list_events_handler
from functions.operator_set_password.app import handler as set_password_handler
from functions.operator_unlock_account.app import handler as unlock_handler
from functions.operator_update_customer.app import handler as update_customer_handler
from portal_accounts.models import AccountModel, CustomerModel
from tests.helpers import FakeContext, call, http_event
from tests.unit.clients import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, enc

PROBLEM_FIELDS = {"type", "title", "status", "detail", "errors"}
MARIO = "mario.rossi@example.com"
UNKNOWN_CUSTOMER = "00000000-0000-0000-0000-000000000000"
UNKNOWN_USER = enc("nobody@example.com")


def assert_problem(response, status: int) -> dict:
    assert response["statusCode"] == status, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    body = json.loads(response["body"])
    assert set(body) >= PROBLEM_FIELDS
    assert body["status"] == status
    assert isinstance(body["errors"], list)
    assert body["title"] and body["detail"]
    return body


def fields(response) -> set[str]:
    return {error["field"] for error in response["json"]["errors"]}


@pytest.fixture
def linked(desk):
    """A customer linked to an account, and a customer with an email but no account."""
    customer_id, username = desk.account_for("Mario", "Rossi", MARIO)
    lone_id = desk.customer("Lucia", "Verdi", "lucia.verdi@example.com")
    return {"customer_id": customer_id, "username": username, "lone_id": lone_id}


def routes(ids: dict) -> list[tuple]:
    """(handler, method, path, a valid body or None) for every operator route in scope."""
    c, lone, u = ids["customer_id"], ids["lone_id"], enc(ids["username"])
    return [
        (
            create_customer_handler,
            "POST",
            "/operator/customers",
            {"first_name": "A", "last_name": "B"},
        ),
        (get_customer_handler, "GET", f"/operator/customers/{c}", None),
        (update_customer_handler, "PATCH", f"/operator/customers/{c}", {"locale": "en"}),
        (
            create_account_handler,
            "POST",
            f"/operator/customers/{lone}/account",
            {"password": OTHER_GOOD_PASSWORD},
        ),
        (associate_handler, "PUT", f"/operator/customers/{lone}/account", {"username": MARIO}),
        (dissociate_handler, "DELETE", f"/operator/customers/{c}/account", None),
        (list_accounts_handler, "GET", "/operator/accounts", None),
        (get_account_handler, "GET", f"/operator/accounts/{u}", None),
        (
            set_password_handler,
            "PUT",
            f"/operator/accounts/{u}/password",
            {"password": OTHER_GOOD_PASSWORD, "password_confirmation": OTHER_GOOD_PASSWORD},
        ),
        (disable_handler, "POST", f"/operator/accounts/{u}/disable", None),
        (enable_handler, "POST", f"/operator/accounts/{u}/enable", None),
        (unlock_handler, "POST", f"/operator/accounts/{u}/unlock", None),
        (list_events_handler, "GET", f"/operator/accounts/{u}/events", None),
    ]


def body_routes(ids: dict) -> list[tuple]:
    return [route for route in routes(ids) if route[3] is not None]


# ---- authentication -----------------------------------------------------------------------


def test_every_operator_route_refuses_a_request_without_an_operator(linked):
    answers = {}
    for claims in (None, {}, {"sub": ""}, {"email": "desk@palestra.example"}):
        for handler, method, path, body in routes(linked):
            response = call(handler, method, path, body=body, claims=claims)
            answers[f"{method} {path} claims={claims}"] = response["statusCode"]
            if response["statusCode"] == 401:
                assert_problem(response, 401)
                assert response["json"]["type"] == "unauthorized"
    assert {route: status for route, status in answers.items() if status != 401} == {}
    # ... and nothing was changed on the way.
    assert AccountModel.get(MARIO).status == "active"
    assert CustomerModel.get(linked["lone_id"]).account_username is None
    assert CustomerModel.get(linked["customer_id"]).locale == "it"


# ---- malformed and oversized bodies -------------------------------------------------------


def test_malformed_json_is_a_400_problem(linked):
    for raw in ("{bad", '{"first_name": "Mario",}', "{'a': 1}", "\u00ff", '{"a": 1'):
        for handler, method, path, _ in body_routes(linked):
            body = assert_problem(call(handler, method, path, body=raw), 400)
            assert body["type"] == "malformed_json", (path, raw)


def test_a_body_that_is_not_an_object_is_422(linked):
    for raw in ("", "null", "[]", '"text"', "42", "true"):
        for handler, method, path, _ in body_routes(linked):
            response = call(handler, method, path, body=raw)
            assert_problem(response, 422)
            assert response["json"]["errors"], (path, raw)


def test_a_body_over_16_kib_is_413_on_every_route(linked):
    filler = "x" * (16 * 1024)
    oversized = json.dumps({"first_name": filler, "last_name": "B"})
    for handler, method, path, _ in routes(linked):
        body = assert_problem(call(handler, method, path, body=oversized), 413)
        assert body["type"] == "body_too_large", path
    assert AccountModel.get(MARIO).status == "active"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
        "application/merge-patch+json",
        "image/png",
    ],
)
def test_a_body_that_is_not_json_is_a_415_problem_and_changes_nothing(linked, content_type):
    for handler, method, path, body in body_routes(linked):
        response = call(handler, method, path, body=body, headers={"content-type": content_type})
        problem = assert_problem(response, 415)
        assert problem["errors"][0]["field"] == "content-type", path
    assert CustomerModel.get(linked["lone_id"]).account_username is None
    assert CustomerModel.get(linked["customer_id"]).locale == "it"


def test_json_with_parameters_or_in_capitals_is_read(linked):
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        response = call(
            update_customer_handler,
            "PATCH",
            f"/operator/customers/{linked['customer_id']}",
            body={"locale": "en"},
            headers={"content-type": content_type},
        )
        assert response["statusCode"] == 200, (content_type, response)


def test_a_base64_body_that_is_not_utf8_is_a_400_problem(linked):
    for raw in (base64.b64encode(bytes([0x8F, 0x12, 0x44, 0x38])).decode(), "not base64!"):
        for handler, method, path, _ in body_routes(linked):
            event = http_event(method, path, body=raw)
            event["isBase64Encoded"] = True
            assert_problem(handler(event, FakeContext()) | {}, 400)


def test_a_base64_utf8_body_is_decoded(linked):
    raw = base64.b64encode(json.dumps({"locale": "en"}).encode()).decode()
    event = http_event("PATCH", f"/operator/customers/{linked['customer_id']}", body=raw)
    event["isBase64Encoded"] = True
    response = update_customer_handler(event, FakeContext())
    assert response["statusCode"] == 200, response
    assert CustomerModel.get(linked["customer_id"]).locale == "en"


def test_a_body_just_under_16_kib_is_read(linked):
    name = "x" * 100
    padding = " " * (16 * 1024 - 200)
    raw = '{"first_name": "%s", "last_name": "B"%s}' % (name, padding)  # noqa: UP031
    assert len(raw) <= 16 * 1024
    response = call(create_customer_handler, "POST", "/operator/customers", body=raw)
    assert response["statusCode"] == 201


# ---- field validation ---------------------------------------------------------------------


def test_create_customer_reports_every_bad_field(linked):
    response = call(
        create_customer_handler,
        "POST",
        "/operator/customers",
        body={"first_name": 3, "locale": "fr", "email": ["a"], "nickname": "x"},
    )
    assert_problem(response, 422)
    assert fields(response) == {"first_name", "last_name", "locale", "email", "nickname"}
    too_long = call(
        create_customer_handler,
        "POST",
        "/operator/customers",
        body={"first_name": "a" * 101, "last_name": "B", "email": "a" * 321},
    )
    assert_problem(too_long, 422)
    assert fields(too_long) == {"first_name", "email"}


def test_update_customer_reports_every_bad_field(linked):
    response = call(
        update_customer_handler,
        "PATCH",
        f"/operator/customers/{linked['customer_id']}",
        body={"first_name": "", "locale": 1, "account_username": "x@example.com"},
    )
    assert_problem(response, 422)
    assert fields(response) == {"first_name", "locale", "account_username"}
    assert CustomerModel.get(linked["customer_id"]).first_name == "Mario"


def test_create_account_reports_every_bad_field(linked):
    response = call(
        create_account_handler,
        "POST",
        f"/operator/customers/{linked['lone_id']}/account",
        body={"temporary": [], "send_credentials_email": {}, "username": "x@example.com"},
    )
    assert_problem(response, 422)
    assert fields(response) == {"password", "temporary", "send_credentials_email", "username"}
    assert CustomerModel.get(linked["lone_id"]).account_username is None


def test_associate_reports_every_bad_field(linked):
    response = call(
        associate_handler,
        "PUT",
        f"/operator/customers/{linked['lone_id']}/account",
        body={"user": MARIO},
    )
    assert_problem(response, 422)
    assert fields(response) == {"username", "user"}
    response = call(
        associate_handler,
        "PUT",
        f"/operator/customers/{linked['lone_id']}/account",
        body={"username": 42},
    )
    assert_problem(response, 422)
    assert fields(response) == {"username"}


def test_set_password_reports_every_bad_field(linked):
    response = call(
        set_password_handler,
        "PUT",
        f"/operator/accounts/{enc(MARIO)}/password",
        body={"password": 123456789012345678, "temporary": [], "confirm": "x"},
    )
    assert_problem(response, 422)
    assert fields(response) == {"password", "password_confirmation", "temporary", "confirm"}
    response = call(
        set_password_handler,
        "PUT",
        f"/operator/accounts/{enc(MARIO)}/password",
        body={"password": "x" * 1025, "password_confirmation": "x" * 1025},
    )
    assert_problem(response, 422)
    assert fields(response) == {"password", "password_confirmation"}


def test_a_long_passphrase_is_judged_not_crashed_on(linked):
    # 100 characters: well inside the policy's 128, beyond what some strength meters take.
    passphrase = ("fiume lampada treno giallo ombrello " * 3)[:100]
    response = call(
        set_password_handler,
        "PUT",
        f"/operator/accounts/{enc(MARIO)}/password",
        body={"password": passphrase, "password_confirmation": passphrase},
    )
    assert response["statusCode"] == 204, response


def test_a_bad_query_on_the_listing_names_each_field(linked):
    response = call(
        list_accounts_handler,
        "GET",
        "/operator/accounts",
        query={"limit": "0", "status": "gone", "q": "x"},
    )
    assert_problem(response, 422)
    assert fields(response) >= {"limit", "status"}


# ---- unknown ids --------------------------------------------------------------------------


def test_unknown_ids_are_404_on_every_route_that_takes_one(linked):
    account_routes = [
        (get_account_handler, "GET", f"/operator/accounts/{UNKNOWN_USER}", None),
        (
            set_password_handler,
            "PUT",
            f"/operator/accounts/{UNKNOWN_USER}/password",
            {"password": OTHER_GOOD_PASSWORD, "password_confirmation": OTHER_GOOD_PASSWORD},
        ),
        (disable_handler, "POST", f"/operator/accounts/{UNKNOWN_USER}/disable", None),
        (enable_handler, "POST", f"/operator/accounts/{UNKNOWN_USER}/enable", None),
        (unlock_handler, "POST", f"/operator/accounts/{UNKNOWN_USER}/unlock", None),
        (list_events_handler, "GET", f"/operator/accounts/{UNKNOWN_USER}/events", None),
    ]
    customer_routes = [
        (get_customer_handler, "GET", f"/operator/customers/{UNKNOWN_CUSTOMER}", None),
        (
            update_customer_handler,
            "PATCH",
            f"/operator/customers/{UNKNOWN_CUSTOMER}",
            {"locale": "en"},
        ),
        (
            create_account_handler,
            "POST",
            f"/operator/customers/{UNKNOWN_CUSTOMER}/account",
            {"password": GOOD_PASSWORD},
        ),
        (
            associate_handler,
            "PUT",
            f"/operator/customers/{UNKNOWN_CUSTOMER}/account",
            {"username": MARIO},
        ),
        (dissociate_handler, "DELETE", f"/operator/customers/{UNKNOWN_CUSTOMER}/account", None),
    ]
    for handler, method, path, body in account_routes + customer_routes:
        body_out = assert_problem(call(handler, method, path, body=body), 404)
        assert body_out["type"] == "not_found", path


ODD_USERNAMES = [
    "not-an-email",
    "%E0%A4%A",
    "%00",
    "a%40",
    "%40example.com",
    "x" * 400,
    "%F0%9F%98%80%40a.b",
]


def test_odd_usernames_in_the_path_are_404(linked):
    for username in ODD_USERNAMES:
        for handler, method, suffix in [
            (get_account_handler, "GET", ""),
            (disable_handler, "POST", "/disable"),
            (enable_handler, "POST", "/enable"),
            (unlock_handler, "POST", "/unlock"),
            (list_events_handler, "GET", "/events"),
        ]:
            response = call(handler, method, f"/operator/accounts/{username}{suffix}")
            assert_problem(response, 404)


# ---- never a 500 --------------------------------------------------------------------------

FUZZ_BODIES = [
    {"first_name": "\u0000", "last_name": "\ud7ff", "email": "\u0000@example.com"},
    {"password": "\u0000" * 20, "password_confirmation": "\u0000" * 20},
    {"username": "a@b"},
    {"username": ""},
    {"username": "@@@"},
    {"email": "", "locale": None},
    {"first_name": None, "last_name": None},
    {"password": "", "temporary": None},
    {"password": " " * 15, "password_confirmation": " " * 15},
    {"first_name": {"$ne": 1}, "last_name": [1, 2]},
    # JSON escapes of lone surrogates: text that no encoder takes (argon2, hashes, DynamoDB).
    {"first_name": "\ud800", "last_name": "B", "email": "a\udfff@example.com"},
    {"password": "\ud800" * 20, "password_confirmation": "\ud800" * 20},
    {"username": "\udbff@example.com", "locale": "en"},
]


def test_no_operator_route_answers_500_to_odd_bodies(linked):
    for body in FUZZ_BODIES:
        for handler, method, path, _ in routes(linked):
            response = call(handler, method, path, body=body)
            assert response["statusCode"] < 500, (path, body, response)
            if response["statusCode"] >= 400:
                assert_problem(response, response["statusCode"])
