"""Metrics (issue 12): each outcome counted under its name, in its invocation's one EMF line.

The names are fixed (CloudWatch alarms and the dashboard read them): a renamed metric fails
here. Each test reads what the functions print (tests/metrics.py), as CloudWatch Logs
would receive it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest

from functions.page_reset_password.app import handler as reset_page
from portal_accounts import observability
from portal_accounts.config import get_settings
from portal_accounts.email import outbox
from tests import faults
from tests.helpers import FakeContext, http_event
from tests.logs import captured as captured_logs
from tests.metrics import captured, metric_names, values_of
from tests.unit.clients import (
    GOOD_PASSWORD,
    OTHER_GOOD_PASSWORD,
    THIRD_GOOD_PASSWORD,
    UNAUTHORIZED,
    authorize,
    link_in,
    seed_account,
)

MARIO = "mario.rossi@example.com"
WRONG = "not the right password at all"
LOGIN_METRICS = {"LoginSucceeded", "LoginFailed", "LoginThrottled", "LoginLocked"}


@pytest.fixture
def mario(clean_aws):
    return seed_account(MARIO, [("Mario", "Rossi")])


def only_line(emitted) -> dict:
    """The one EMF line of the one invocation in the block."""
    [document] = emitted.documents
    return document


# ---- the line ---------------------------------------------------------------------------


def test_one_line_per_invocation_in_the_namespace_with_the_service_dimension():
    @observability.observed
    def handler(event, context):
        observability.count("LoginFailed")
        observability.count("LoginFailed")
        observability.count("EmailQueued", 3)
        return {}

    with captured() as emitted:
        handler({}, FakeContext())
    document = only_line(emitted)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "PortalAccounts"
    assert directive["Dimensions"] == [["service"]]
    assert document["service"] == "portal-accounts"
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "LoginFailed": "Count",
        "EmailQueued": "Count",
    }
    assert values_of(document) == {"LoginFailed": 2, "EmailQueued": 3}
    assert isinstance(document["_aws"]["Timestamp"], int)


def test_an_invocation_that_counts_nothing_prints_nothing():
    @observability.observed
    def handler(event, context):
        return {}

    with captured() as emitted:
        handler({}, FakeContext())
    assert emitted.output.getvalue() == ""


def test_the_counts_are_flushed_when_the_handler_raises_and_only_once():
    @observability.observed
    def handler(event, context):
        observability.count("EmailFailed")
        raise RuntimeError("a bug")

    with captured() as emitted:
        with pytest.raises(RuntimeError):
            handler({}, FakeContext())
        handler_counts = dict(emitted.totals)
        observability.flush_metrics()  # nothing left to write
    assert handler_counts == {"EmailFailed": 1}
    assert len(emitted.documents) == 1 and not emitted.leftover


def test_a_metric_cloudwatch_refuses_is_left_out_and_the_rest_written():
    @observability.observed
    def handler(event, context):
        observability.count("")  # too short a name
        observability.count("LoginSucceeded")
        return {"ok": True}

    with captured_logs() as logs, captured() as emitted:
        assert handler({}, FakeContext()) == {"ok": True}
    assert values_of(only_line(emitted)) == {"LoginSucceeded": 1}
    assert any(r["message"] == "metric not written" for r in logs.records)


def test_powertools_metrics_disabled_writes_nothing_and_forgets_the_counts(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with captured() as emitted:
        observability.count("LoginSucceeded")
        observability.flush_metrics()
        monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
        observability.flush_metrics()
    assert emitted.documents == []
    assert not observability.metrics.metric_set


# ---- logins ------------------------------------------------------------------------------


def login_metrics(shop, username, password) -> tuple[int, dict]:
    with captured() as emitted:
        response = shop.login(username, password)
    counted = values_of(only_line(emitted))
    assert set(counted) <= LOGIN_METRICS, counted
    return response["statusCode"], dict(counted)


def test_a_wrong_then_a_right_password(shop, mario, frozen_clock):
    assert login_metrics(shop, MARIO, WRONG) == (401, {"LoginFailed": 1})
    assert login_metrics(shop, "nessuno@example.com", WRONG) == (401, {"LoginFailed": 1})
    assert login_metrics(shop, MARIO, GOOD_PASSWORD) == (200, {"LoginSucceeded": 1})


def test_a_throttled_login(shop, mario, frozen_clock):
    for _ in range(get_settings().login_max_failures):
        assert login_metrics(shop, MARIO, WRONG) == (401, {"LoginFailed": 1})
    assert login_metrics(shop, MARIO, GOOD_PASSWORD) == (429, {"LoginThrottled": 1})


def test_a_locked_login(shop, mario, frozen_clock, lockout_after):
    limit = get_settings().login_max_failures + 1
    lockout_after(limit)
    for _ in range(limit):
        status, counted = login_metrics(shop, MARIO, WRONG)
        if status == 429:
            assert counted == {"LoginThrottled": 1}
            frozen_clock.advance(seconds=get_settings().login_lock_max_seconds)
            status, counted = login_metrics(shop, MARIO, WRONG)
        assert (status, counted) == (401, {"LoginFailed": 1})
    frozen_clock.advance(seconds=get_settings().login_lock_max_seconds)
    assert login_metrics(shop, MARIO, GOOD_PASSWORD) == (429, {"LoginLocked": 1})


def test_a_login_answered_503_counts_no_outcome(shop, mario, frozen_clock):
    with (
        captured() as emitted,
        faults.failing("BatchGetItem", "ThrottlingException", times=None),
    ):
        assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 503
    assert not set(emitted.totals) & LOGIN_METRICS


# ---- the session authorizer --------------------------------------------------------------


def authorizer_metrics(token, route_key="GET /me", header=None):
    with captured() as emitted:
        answer = authorize(token, route_key, header=header)
    return answer, dict(emitted.totals)


def test_every_refusal_of_the_authorizer_is_counted(shop, desk, mario, frozen_clock):
    token = shop.token(MARIO, GOOD_PASSWORD)
    assert authorizer_metrics(token)[1] == {}
    assert authorizer_metrics(None) == (UNAUTHORIZED, {"AuthorizerDenied": 1})
    assert authorizer_metrics(None, header="Basic abc") == (UNAUTHORIZED, {"AuthorizerDenied": 1})
    assert authorizer_metrics(token + "x") == (UNAUTHORIZED, {"AuthorizerDenied": 1})
    # A temporary password: only GET /me, PUT /me/password and logout (403 elsewhere).
    assert desk.set_password(MARIO, OTHER_GOOD_PASSWORD, temporary=True)["statusCode"] == 204
    temporary = shop.token(MARIO, OTHER_GOOD_PASSWORD)
    assert authorizer_metrics(temporary, "GET /me")[1] == {}
    assert authorizer_metrics(temporary, "GET /me/orders") == (
        {"isAuthorized": False},
        {"AuthorizerDenied": 1},
    )


def test_an_authorizer_that_could_not_check_denies_nothing(shop, mario, frozen_clock):
    token = shop.token(MARIO, GOOD_PASSWORD)
    with faults.failing("BatchGetItem", "ThrottlingException", times=None):
        answer, counted = authorizer_metrics(token)
    assert answer["isAuthorized"] is True and answer["context"]["unavailable"]
    assert counted == {}


# ---- reset links and passwords -----------------------------------------------------------


def test_forgot_password_counts_a_reset_link_once_its_email_is_queued(shop, postman, mario):
    with captured() as emitted:
        assert shop.forgot(MARIO)["statusCode"] == 202  # a request for the sender
        assert "ResetLinkRequested" not in emitted.totals
        postman.drain()
    assert emitted.totals["ResetLinkRequested"] == 1
    assert emitted.totals["EmailQueued"] == 1  # the link's email (the request is no email)


def test_forgot_password_for_nobody_counts_no_reset_link(shop, postman, clean_aws):
    with captured() as emitted:
        assert shop.forgot("nessuno@example.com")["statusCode"] == 202
        postman.drain()
    assert "ResetLinkRequested" not in emitted.totals
    assert "EmailQueued" not in emitted.totals


def test_an_operators_reset_link_is_counted_in_its_request(operator, postman, mario):
    customer_id = next(iter(mario.customers.as_dict()))
    with captured() as emitted:
        answer = operator.reset_password(customer_id, {"mode": "reset_link"})
    assert answer["statusCode"] == 202
    assert values_of(only_line(emitted)) == {"EmailQueued": 1, "ResetLinkRequested": 1}
    with captured() as emitted:
        assert operator.reset_password(customer_id)["statusCode"] == 202  # a new password
    assert values_of(only_line(emitted)) == {"EmailQueued": 1}


def test_a_reset_counts_the_link_used_and_the_password_changed(shop, postman, mario):
    assert shop.forgot(MARIO)["statusCode"] == 202
    postman.drain()
    _, token = link_in(postman.sent_to(MARIO)[-1])
    with captured() as emitted:
        assert shop.reset(token, THIRD_GOOD_PASSWORD, "another one")["statusCode"] == 422
    assert "ResetLinkUsed" not in emitted.totals and "PasswordChanged" not in emitted.totals
    with captured() as emitted:
        assert shop.reset(token, THIRD_GOOD_PASSWORD)["statusCode"] == 204
    # ...and the "password changed" notice queued by the same request.
    assert values_of(only_line(emitted)) == {
        "ResetLinkUsed": 1,
        "PasswordChanged": 1,
        "EmailQueued": 1,
    }
    with captured() as emitted:
        assert shop.reset(token, THIRD_GOOD_PASSWORD)["statusCode"] == 410  # used
    assert emitted.totals == {}


def page_post(form: dict) -> dict:
    event = http_event(
        "POST",
        "/reset-password",
        body=urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded"},
        claims=None,
    )
    return reset_page(event, FakeContext())


def test_the_reset_page_counts_a_saved_password_like_the_api(shop, postman, mario):
    assert shop.forgot(MARIO)["statusCode"] == 202
    postman.drain()
    _, token = link_in(postman.sent_to(MARIO)[-1])
    refused = {"token": token, "password": THIRD_GOOD_PASSWORD, "password_confirmation": "other"}
    with captured() as emitted:
        assert page_post(refused)["statusCode"] == 422
    assert emitted.totals == {}
    saved = {**refused, "password_confirmation": THIRD_GOOD_PASSWORD}
    with captured() as emitted:
        assert page_post(saved)["statusCode"] == 200
    assert values_of(only_line(emitted)) == {
        "ResetLinkUsed": 1,
        "PasswordChanged": 1,
        "EmailQueued": 1,
    }
    with captured() as emitted:
        assert page_post(saved)["statusCode"] == 410
    assert emitted.totals == {}


def test_a_customers_change_of_password_is_counted(shop, mario, frozen_clock):
    token = shop.token(MARIO, GOOD_PASSWORD)
    with captured() as emitted:
        assert shop.change_password(token, WRONG, THIRD_GOOD_PASSWORD)["statusCode"] == 403
    assert "PasswordChanged" not in emitted.totals
    with captured() as emitted:
        assert shop.change_password(token, GOOD_PASSWORD, THIRD_GOOD_PASSWORD)["statusCode"] == 204
    assert emitted.totals["PasswordChanged"] == 1
    assert values_of(emitted.documents[-1]) == {"PasswordChanged": 1, "EmailQueued": 1}


def test_an_operators_password_is_counted(desk, mario):
    with captured() as emitted:
        assert desk.set_password(MARIO, THIRD_GOOD_PASSWORD, "not the same")["statusCode"] == 422
    assert emitted.totals == {}
    with captured() as emitted:
        assert desk.set_password(MARIO, THIRD_GOOD_PASSWORD)["statusCode"] == 204
    assert values_of(only_line(emitted)) == {"PasswordChanged": 1}


# ---- emails queued -----------------------------------------------------------------------


def test_an_email_is_counted_once_queued_and_not_when_the_queue_refuses(desk, operator, clean_aws):
    customer_id, _ = desk.account_for("Mario", "Rossi", MARIO)
    with captured() as emitted:
        assert operator.send_credentials(customer_id)["statusCode"] == 202
    assert values_of(only_line(emitted)) == {"EmailQueued": 1}
    with (
        captured() as emitted,
        faults.failing("SendMessage", "ThrottlingException", service="sqs", times=None),
    ):
        assert operator.send_credentials(customer_id)["statusCode"] == 503
    assert emitted.totals == {}


def test_a_requeue_is_not_a_new_email(clean_aws):
    outgoing = outbox.prepare(
        username=MARIO,
        template_id="password_changed",
        locale="it",
        to=MARIO,
        variables=outbox.base_variables("Mario", MARIO),
    )
    with captured() as emitted:
        outbox.send_request(outgoing.request, delay_seconds=1)  # the sender's requeue
    assert emitted.totals == {}


# ---- names -------------------------------------------------------------------------------


def test_the_names_the_alarms_read(shop, desk, operator, postman, mario, frozen_clock):
    """Every metric of this issue's functions, by the exact name CloudWatch gets."""
    customer_id = next(iter(mario.customers.as_dict()))
    with captured() as emitted:
        shop.login(MARIO, WRONG)
        token = shop.token(MARIO, GOOD_PASSWORD)
        authorize(None)
        operator.reset_password(customer_id, {"mode": "reset_link"})
        postman.drain()
        _, link = link_in(postman.sent_to(MARIO)[-1])
        shop.reset(link, THIRD_GOOD_PASSWORD)
        desk.set_password(MARIO, OTHER_GOOD_PASSWORD)
        assert token
    names = {name for document in emitted.documents for name in metric_names(document)}
    assert names >= {
        "LoginFailed",
        "LoginSucceeded",
        "AuthorizerDenied",
        "ResetLinkRequested",
        "ResetLinkUsed",
        "PasswordChanged",
        "EmailQueued",
    }


def test_metrics_never_reach_the_logs(shop, mario, frozen_clock):
    with captured_logs(root_level=logging.DEBUG) as logs, captured():
        shop.login(MARIO, WRONG)
    assert not any("_aws" in line for line in logs.lines)
