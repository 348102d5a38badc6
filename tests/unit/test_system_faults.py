"""Issue 9, finding 7: when DynamoDB throttles, conflicts or times out, every route answers
a 503 problem with Retry-After (never a 500, never a 4xx that blames the client), nothing
is half-written, and the same call succeeds once DynamoDB answers again.

The faults come from tests/faults.py: each is the error the code sees after botocore's and
PynamoDB's retries gave up.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from portal_accounts.models import CustomerModel
from tests import faults
from tests.helpers import empty_every_table_and_queue
from tests.logs import captured
from tests.unit.clients import (
    GOOD_PASSWORD,
    OTHER_GOOD_PASSWORD,
    THIRD_GOOD_PASSWORD,
    Desk,
    Operator,
    Postman,
    Shop,
    link_in,
    open_mailbox,
    seed_account,
)

MARIO = "mario.rossi@example.com"
TEMPLATE = {
    "subject": "Benvenuto {{ first_name }} da {{business_name}}",
    "text": "Utente {{ username }}, portale {{ portal_url }}. Imposta: {{ link }}",
    "html": '<p>Utente <b>{{ username }}</b></p><a href="{{ link }}">imposta</a>',
}
# One of each kind: an error of the call, a cancelled transaction (TransactionConflictException
# for a single-item call), no answer at all.
KINDS = ("ProvisionedThroughputExceededException", "TransactionConflict", "ReadTimeout")


def assert_unavailable(response: dict) -> None:
    assert response["statusCode"] == 503, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert response["json"]["type"] == "temporarily_unavailable"
    assert response["json"]["status"] == 503
    assert int(response["headers"]["Retry-After"]) >= 1


class World:
    """The fixtures a scenario sets its state up with."""

    def __init__(self, desk: Desk, operator: Operator, shop: Shop, postman: Postman) -> None:
        self.desk, self.operator, self.shop, self.postman = desk, operator, shop, postman

    def mario(self, *more: tuple[str, str], status: str = "active") -> list[str]:
        """Mario's account; returns the ids of its customers."""
        account = seed_account(MARIO, [("Mario", "Rossi"), *more], status=status)
        return list(account.customers.as_dict())

    def link(self) -> str:
        self.mario()
        assert self.shop.forgot(MARIO)["statusCode"] == 202
        self.postman.drain()
        return link_in(self.postman.sent_to(MARIO)[-1])[1]


Act = Callable[[], dict]


def _create_customer(w: World) -> Act:
    return lambda: w.desk.create_customer(email="anna.verdi@example.com")


def _update_customer(w: World) -> Act:
    customer_id = w.mario()[0]
    return lambda: w.desk.update_customer(customer_id, {"first_name": "Mariano"})


def _create_account(w: World) -> Act:
    customer_id = w.desk.customer("Anna", "Verdi", "anna.verdi@example.com")
    return lambda: w.desk.create_account(customer_id)


def _associate(w: World) -> Act:
    w.mario()
    customer_id = w.desk.customer("Luca", "Rossi", MARIO)
    return lambda: w.desk.associate(customer_id, MARIO)


def _dissociate(w: World) -> Act:
    customer_id = w.mario(("Luca", "Rossi"))[1]
    return lambda: w.desk.dissociate(customer_id)


def _dissociate_last(w: World) -> Act:
    customer_id = w.mario()[0]
    return lambda: w.desk.dissociate(customer_id)


def _send_credentials(w: World) -> Act:
    customer_id = w.mario()[0]
    return lambda: w.operator.send_credentials(customer_id)


def _operator_reset(w: World) -> Act:
    customer_id = w.mario()[0]
    return lambda: w.operator.reset_password(customer_id)


def _operator_reset_link(w: World) -> Act:
    customer_id = w.mario()[0]
    return lambda: w.operator.reset_password(customer_id, {"mode": "reset_link"})


def _set_password(w: World) -> Act:
    w.mario()
    return lambda: w.desk.set_password(MARIO, OTHER_GOOD_PASSWORD)


def _disable(w: World) -> Act:
    w.mario()
    return lambda: w.desk.disable(MARIO)


def _enable(w: World) -> Act:
    w.mario(status="disabled")
    return lambda: w.desk.enable(MARIO)


def _put_template(w: World) -> Act:
    return lambda: w.operator.put_template("account_credentials", "it", TEMPLATE)


def _delete_template(w: World) -> Act:
    assert w.operator.put_template("account_credentials", "it", TEMPLATE)["statusCode"] == 200
    return lambda: w.operator.delete_template("account_credentials", "it")


def _login(w: World) -> Act:
    w.mario()
    return lambda: w.shop.login(MARIO, GOOD_PASSWORD)


def _logout(w: World) -> Act:
    w.mario()
    token = w.shop.token(MARIO, GOOD_PASSWORD)
    return lambda: w.shop.logout(token)


def _change_password(w: World) -> Act:
    w.mario()
    token = w.shop.token(MARIO, GOOD_PASSWORD)
    return lambda: w.shop.change_password(token, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)


def _reset(w: World) -> Act:
    token = w.link()
    return lambda: w.shop.reset(token, THIRD_GOOD_PASSWORD)


WRITE_ROUTES = {
    "POST /operator/customers": _create_customer,
    "PATCH /operator/customers/{id}": _update_customer,
    "POST /operator/customers/{id}/account": _create_account,
    "PUT /operator/customers/{id}/account": _associate,
    "DELETE /operator/customers/{id}/account": _dissociate,
    "DELETE /operator/customers/{id}/account (last customer)": _dissociate_last,
    "POST .../account/credentials-email": _send_credentials,
    "POST .../account/password-reset": _operator_reset,
    "POST .../account/password-reset (link)": _operator_reset_link,
    "PUT /operator/accounts/{username}/password": _set_password,
    "POST /operator/accounts/{username}/disable": _disable,
    "POST /operator/accounts/{username}/enable": _enable,
    "PUT /operator/templates/{id}/{locale}": _put_template,
    "DELETE /operator/templates/{id}/{locale}": _delete_template,
    "POST /auth/login": _login,
    "POST /auth/logout": _logout,
    "PUT /me/password": _change_password,
    "POST /auth/password/reset": _reset,
}


@pytest.fixture
def world(desk, operator, shop, postman) -> World:
    return World(desk, operator, shop, postman)


def _afresh() -> None:
    empty_every_table_and_queue()
    open_mailbox()


def _login_throttle_write(response: dict, route: str) -> bool:
    """auth.py turns any failed write of the login throttle into a 429 (the lead's part of
    finding 7, not fixed on this branch)."""
    return route == "POST /auth/login" and response["statusCode"] == 429


@pytest.mark.parametrize("code", KINDS)
@pytest.mark.parametrize("route", WRITE_ROUTES)
def test_every_write_of_every_route_fails_as_503_and_a_retry_succeeds(world, route, code):
    """The route's first write fails, or its second, or its third... (each from a fresh
    start): the answer is a 503, and the same call then succeeds on what it left."""
    known = []
    for position in range(10):
        _afresh()
        act = WRITE_ROUTES[route](world)
        with faults.failing(faults.WRITES, code, skip=position) as fault:
            response = act()
        if not fault.injected:  # the route writes fewer times than that
            assert 200 <= response["statusCode"] < 300, response
            break
        if 200 <= response["statusCode"] < 300:
            continue  # a write done after the change, on a best-effort basis (search.sync)
        if _login_throttle_write(response, route):
            known.append(position)
            continue
        assert_unavailable(response)
        retry = act()
        assert 200 <= retry["statusCode"] < 300, (position, retry)
    else:
        raise AssertionError("the route kept writing")
    assert position >= 1  # the route did write, and each of its writes failed once
    if known:
        pytest.xfail(f"the login throttle's write answered 429 (positions {known})")


@pytest.mark.parametrize("route", WRITE_ROUTES)
def test_a_persistent_outage_is_503_and_leaves_nothing_behind(world, route):
    act = WRITE_ROUTES[route](world)
    for _ in range(3):
        with faults.failing(faults.WRITES, "ThrottlingException", times=None):
            assert_unavailable(act())
    assert 200 <= act()["statusCode"] < 300


@pytest.mark.parametrize("code", faults.CODES)
@pytest.mark.parametrize(
    "route", ["POST /operator/customers/{id}/account", "PUT /operator/templates/{id}/{locale}"]
)
def test_every_kind_of_fault_is_503(world, route, code):
    act = WRITE_ROUTES[route](world)
    with faults.failing(faults.WRITES, code):
        assert_unavailable(act())
    assert 200 <= act()["statusCode"] < 300


@pytest.mark.parametrize("code", KINDS)
def test_a_read_that_fails_is_503_too(desk, code):
    customer_id = desk.customer(email=MARIO)
    with faults.failing(faults.READS, code):
        assert_unavailable(desk.get_customer(customer_id))
    assert desk.get_customer(customer_id)["statusCode"] == 200


def test_a_conflict_is_not_blamed_on_the_client(world):
    """Before: a TransactionConflict counted as a failed condition, so creating an account
    answered 409 "username taken" although nobody had taken it."""
    act = _create_account(world)
    with faults.failing("TransactWriteItems", "TransactionConflict"):
        assert_unavailable(act())
    response = act()
    assert response["statusCode"] == 201, response
    assert CustomerModel.count() == 1


def test_the_fault_is_logged_as_a_warning_with_its_code_only(world):
    act = _create_account(world)
    with (
        captured() as logs,
        faults.failing(faults.WRITES, "ProvisionedThroughputExceededException"),
    ):
        assert_unavailable(act())
    [warning] = [r for r in logs.records if r["level"] == "WARNING"]
    assert warning["error_code"] == "ProvisionedThroughputExceededException"
    assert all(r["level"] in ("INFO", "DEBUG", "WARNING") for r in logs.records)
    assert GOOD_PASSWORD not in logs.text


@pytest.mark.parametrize("code", ["ThrottlingException", "ReadTimeout"])
def test_forgot_when_the_queue_fails_is_503_and_a_retry_succeeds(world, code):
    """Forgot writes nothing itself: its one write is the queue message."""
    world.mario()
    with faults.failing("SendMessage", code, service="sqs") as fault:
        assert_unavailable(world.shop.forgot(MARIO))
    assert fault.injected == 1
    assert world.shop.forgot(MARIO)["statusCode"] == 202


# ---- the session authorizer ------------------------------------------------------------


@pytest.mark.parametrize("code", KINDS)
def test_the_session_check_failing_is_503_not_session_ended(world, code):
    world.mario()
    token = world.shop.token(MARIO, GOOD_PASSWORD)
    with faults.failing("BatchGetItem", code, times=None):
        assert_unavailable(world.shop.me(token))
    assert world.shop.me(token)["statusCode"] == 200  # the session lives on


def test_a_failed_session_touch_is_503_and_the_session_lives_on(world, frozen_clock):
    world.mario()
    token = world.shop.token(MARIO, GOOD_PASSWORD)
    frozen_clock.advance(minutes=5)  # time to record the session's use
    with faults.failing("UpdateItem", "ThrottlingException", times=None) as fault:
        assert_unavailable(world.shop.me(token))
    assert fault.injected
    assert world.shop.me(token)["statusCode"] == 200


@pytest.mark.parametrize("flag", [True, "true"], ids=["boolean", "string"])
def test_an_unchecked_session_is_503_whatever_the_shape_of_its_flag(flag):
    """What reaches a function when the authorizer could not check the session: its
    context's boolean as payload 2.0 passes it (a JSON boolean), or as text."""
    from functions.me_get.app import handler as me_handler
    from tests.helpers import FakeContext

    event = {
        "version": "2.0",
        "routeKey": "GET /me",
        "rawPath": "/me",
        "headers": {},
        "requestContext": {
            "http": {"method": "GET", "path": "/me"},
            "authorizer": {"lambda": {"unavailable": flag}},
        },
    }
    response = me_handler(event, FakeContext())
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "1"


def test_every_route_behind_the_session_authorizer_is_served_by_the_dispatcher():
    """The authorizer lets a request through unchecked when AWS fails (so that it can be a
    503, not "session ended"); only portal_accounts.api.app's dispatcher turns that into
    the 503. A route behind it served by anything else would run with no session."""
    import importlib

    from local import template

    behind = [r for r in template.routes() if r.authorizer == "SessionAuthorizer"]
    assert len(behind) >= 3
    for route in behind:
        handler = importlib.import_module(route.module).handler
        assert handler.__qualname__ == "lambda_handler.<locals>.handler", route.module
