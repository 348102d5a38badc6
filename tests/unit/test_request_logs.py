"""Log capture over a full flow (issue 12): one line per request with its correlation id,
no secret.

Every API request logs one "request" line (route as the template names it, status,
latency, actor type, problem type on failures) and every session check one "authorizer"
line, each with the request's requestId as correlation_id; SQS batches one "batch" line
with the first message's id. Each event of the flow gets its own requestId here (the
helpers' events all share "req-1"), so a line can only match its own request.
"""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
from urllib.parse import urlencode

import pytest

from bench.cold_start import lambda_environment
from functions.page_reset_password.app import handler as reset_page
from local import template
from portal_accounts import observability
from tests import faults, helpers
from tests.helpers import FakeContext
from tests.logs import captured
from tests.metrics import captured as captured_metrics
from tests.unit import clients
from tests.unit.clients import (
    FOURTH_GOOD_PASSWORD,
    GOOD_PASSWORD,
    OTHER_GOOD_PASSWORD,
    THIRD_GOOD_PASSWORD,
    link_in,
)
from tests.unit.test_no_secrets_in_logs import Secrets, run_the_flow

MARIA = "maria.rossi@example.com"
WRONG = "a wrong password, logged as a failure"
REQUEST_FIELDS = {"route", "status", "latency_ms", "actor_type", "correlation_id"}


class Issued:
    """The events the flow sent, in order, each with a requestId of its own."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.authorizations: list[dict] = []
        self._ids = itertools.count(1)

    def http_event(self, original):
        def build(*args, **kwargs):
            event = original(*args, **kwargs)
            event["requestContext"]["requestId"] = f"req-{next(self._ids)}"
            self.requests.append(event)
            return event

        return build

    def authorizer_event(self, original):
        def build(*args, **kwargs):
            event = original(*args, **kwargs)
            event["requestContext"]["requestId"] = f"auth-{next(self._ids)}"
            self.authorizations.append(event)
            return event

        return build


@pytest.fixture
def issued(monkeypatch) -> Issued:
    issued = Issued()
    monkeypatch.setattr(helpers, "http_event", issued.http_event(helpers.http_event))
    monkeypatch.setattr(clients, "http_event", issued.http_event(clients.http_event))
    monkeypatch.setattr(
        clients,
        "authorizer_event",
        issued.authorizer_event(clients.authorizer_event),
    )
    return issued


def lines(logs, message: str) -> list[dict]:
    return [record for record in logs.records if record.get("message") == message]


def one_line_each(logs, message: str, events: list[dict]) -> list[dict]:
    """The line of each event, in the events' order: exactly one per event, no other."""
    found = lines(logs, message)
    ids = [event["requestContext"]["requestId"] for event in events]
    assert [line.get("correlation_id") for line in found] == ids
    return found


def summary(line: dict) -> tuple:
    return line.get("route"), line["status"], line["actor_type"], line.get("problem_type")


# ---- the full flow ------------------------------------------------------------------------


@pytest.mark.parametrize("root_level", [logging.INFO, logging.DEBUG], ids=["INFO", "DEBUG"])
def test_the_whole_flow_one_line_per_request_and_no_secret(
    desk, operator, shop, postman, frozen_clock, capsys, issued, root_level
):
    """The no-secrets flow (test_no_secrets_in_logs): operator, customer, emails."""
    secrets = Secrets()
    with captured(root_level=root_level) as logs:
        run_the_flow(desk, operator, shop, postman, secrets)
    assert len(issued.requests) > 15 and len(issued.authorizations) >= 4
    requests = one_line_each(logs, "request", issued.requests)
    authorizations = one_line_each(logs, "authorizer", issued.authorizations)
    for line in requests:
        assert set(line) >= REQUEST_FIELDS, line
        assert line["route"].split(" ")[0] in {"GET", "POST", "PUT", "PATCH", "DELETE"}
        assert "@" not in line["route"]  # the template's route, not the path's values
        assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
        assert line["actor_type"] in {"operator", "customer", "anonymous"}
        assert ("problem_type" in line) == (line["status"] >= 400), line
    for line in authorizations:
        assert line["decision"] in {"allow", "deny"}
    printed = capsys.readouterr()
    everything = "\n".join([logs.text, printed.out, printed.err])
    assert "$argon2" not in everything
    leaked = sorted(secret[:12] + "..." for secret in secrets.found if secret in everything)
    assert not leaked, f"secrets in the logs: {leaked}"
    # Nothing of a request's body or headers in its line: only these fields.
    allowed = REQUEST_FIELDS | {"problem_type", "message", "level", "location", "timestamp"}
    allowed |= {"service", "cold_start", "xray_trace_id", "sampling_rate"}
    for line in requests:
        extra = {key for key in line if not key.startswith("function_")} - allowed
        assert not extra, extra


def test_each_request_line_says_what_happened(desk, shop, postman, frozen_clock, issued):
    with captured() as logs:
        customer_id = desk.customer("Maria", "Rossi", MARIA)
        assert desk.create_account(customer_id, temporary=False)["statusCode"] == 201
        assert desk.get_account("nessuno@example.com")["statusCode"] == 404
        assert shop.login(MARIA, WRONG)["statusCode"] == 401
        token = shop.token(MARIA, GOOD_PASSWORD)
        assert shop.me(token)["statusCode"] == 200
        assert shop.change_password(token, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)["statusCode"] == 204
        assert shop.forgot(MARIA)["statusCode"] == 202
        postman.drain()
        _, link = link_in(postman.sent_to(MARIA)[-1])
        assert shop.reset(link, THIRD_GOOD_PASSWORD)["statusCode"] == 204
        assert shop.reset(link, FOURTH_GOOD_PASSWORD)["statusCode"] == 410
        assert shop.logout(token)["statusCode"] == 401  # the reset ended that session
        second = shop.token(MARIA, THIRD_GOOD_PASSWORD)
        assert shop.logout(second)["statusCode"] == 204
    requests = one_line_each(logs, "request", issued.requests)
    assert [summary(line) for line in requests] == [
        ("POST /operator/customers", 201, "operator", None),
        ("POST /operator/customers/{customer_id}/account", 201, "operator", None),
        ("GET /operator/accounts/{username}", 404, "operator", "not_found"),
        ("POST /auth/login", 401, "anonymous", "unauthorized"),
        ("POST /auth/login", 200, "anonymous", None),
        ("GET /me", 200, "customer", None),
        ("PUT /me/password", 204, "customer", None),
        ("POST /auth/password/forgot", 202, "anonymous", None),
        ("POST /auth/password/reset", 204, "anonymous", None),
        ("POST /auth/password/reset", 410, "anonymous", "invalid_or_expired_link"),
        ("POST /auth/login", 200, "anonymous", None),
        ("POST /auth/logout", 204, "customer", None),
    ]
    authorizations = one_line_each(logs, "authorizer", issued.authorizations)
    assert [(a["route"], a["decision"], a.get("reason")) for a in authorizations] == [
        ("GET /me", "allow", None),
        ("PUT /me/password", "allow", None),
        ("POST /auth/logout", "deny", "no_session"),
        ("POST /auth/logout", "allow", None),
    ]
    assert "nessuno" not in json.dumps(requests)


def test_a_session_that_must_change_its_password_is_denied_elsewhere(
    desk, shop, frozen_clock, issued
):
    customer_id = desk.customer("Maria", "Rossi", MARIA)
    assert desk.create_account(customer_id, temporary=True)["statusCode"] == 201
    token = shop.token(MARIA, GOOD_PASSWORD)
    with captured() as logs:
        assert clients.authorize(token, "GET /me/orders") == {"isAuthorized": False}
    [line] = lines(logs, "authorizer")
    assert (line["route"], line["decision"], line["reason"]) == (
        "GET /me/orders",
        "deny",
        "password_change_required",
    )
    assert line["correlation_id"] == issued.authorizations[-1]["requestContext"]["requestId"]


def test_a_503_names_its_problem_and_a_bug_its_500(desk, shop, frozen_clock, issued, monkeypatch):
    with captured() as logs:
        with faults.failing("BatchGetItem", "ThrottlingException", times=None):
            assert shop.login(MARIA, GOOD_PASSWORD)["statusCode"] == 503
        monkeypatch.setattr("portal_accounts.signin.auth.login", lambda *a: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            shop.login(MARIA, GOOD_PASSWORD)
    requests = one_line_each(logs, "request", issued.requests)
    assert [summary(line) for line in requests] == [
        ("POST /auth/login", 503, "anonymous", "temporarily_unavailable"),
        ("POST /auth/login", 500, "anonymous", None),
    ]


def test_a_request_refused_before_its_route_is_logged_too(shop, clean_aws, issued):
    with captured() as logs:
        assert shop.login(MARIA, "x" * 20_000)["statusCode"] == 413
        response = helpers.call(
            clients.login_handler, "POST", "/auth/elsewhere", body={}, claims=None
        )
        assert response["statusCode"] == 404
    requests = one_line_each(logs, "request", issued.requests)
    assert [summary(line) for line in requests] == [
        ("POST /auth/login", 413, "anonymous", "body_too_large"),
        (None, 404, "anonymous", "not_found"),
    ]


def test_the_pages_log_their_requests(shop, postman, frozen_clock, issued, desk):
    customer_id = desk.customer("Maria", "Rossi", MARIA)
    assert desk.create_account(customer_id, temporary=False)["statusCode"] == 201
    assert shop.forgot(MARIA)["statusCode"] == 202
    postman.drain()
    _, token = link_in(postman.sent_to(MARIA)[-1])
    form = {
        "token": token,
        "password": THIRD_GOOD_PASSWORD,
        "password_confirmation": THIRD_GOOD_PASSWORD,
    }
    start = len(issued.requests)
    with captured() as logs:
        get = helpers.http_event("GET", "/reset-password", query={"token": token}, claims=None)
        assert reset_page(get, FakeContext())["statusCode"] == 200
        post = helpers.http_event(
            "POST",
            "/reset-password",
            body=urlencode(form),
            headers={"content-type": "application/x-www-form-urlencoded"},
            claims=None,
        )
        assert reset_page(post, FakeContext())["statusCode"] == 200
    requests = one_line_each(logs, "request", issued.requests[start:])
    assert [summary(line) for line in requests] == [
        ("GET /reset-password", 200, "anonymous", None),
        ("POST /reset-password", 200, "anonymous", None),
    ]
    assert token not in logs.text and THIRD_GOOD_PASSWORD not in logs.text


# ---- SQS functions -------------------------------------------------------------------------


def test_a_batch_logs_one_line_with_its_first_message_id_and_flushes():
    @observability.observed
    def handler(event, context):
        observability.logger.info("working")
        observability.count("EmailSent")
        if event.get("fail"):
            raise RuntimeError("a bug")
        return {"batchItemFailures": [{"itemIdentifier": "m-2"}]}

    event = {"Records": [{"messageId": "m-1"}, {"messageId": "m-2"}, {"messageId": "m-3"}]}
    with captured() as logs, captured_metrics() as emitted:
        handler(event, FakeContext())
        with pytest.raises(RuntimeError):
            handler({**event, "fail": True}, FakeContext())
    assert [r["correlation_id"] for r in logs.records] == ["m-1"] * 4
    batches = lines(logs, "batch")
    assert [(b["records"], b["failed"]) for b in batches] == [(3, 1), (3, 3)]
    assert [dict(emitted.totals)] == [{"EmailSent": 2}] and len(emitted.documents) == 2


def test_the_event_is_never_logged_even_if_asked(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")

    @observability.observed
    def handler(event, context):
        return None

    with captured() as logs:
        handler({"body": '{"password": "lanterna verde sul molo"}'}, FakeContext())
    assert "lanterna" not in logs.text


# ---- the log level -------------------------------------------------------------------------

PROBE = """
import json, logging
import {module}
from portal_accounts.observability import logger
print(json.dumps({{
    "level": logging.getLevelName(logger.log_level),
    "libraries": [logging.getLogger(n).level for n in ("botocore", "boto3", "pynamodb", "urllib3")],
}}))
"""


@pytest.mark.parametrize("level", ["DEBUG", "WARNING", None])
def test_the_log_level_is_powertools_log_level_and_the_libraries_stay_at_info(level):
    env = lambda_environment("AuthLoginFunction")
    del env["AWS_EXECUTION_ENV"]
    env.pop("POWERTOOLS_LOG_LEVEL", None)
    if level:
        env["POWERTOOLS_LOG_LEVEL"] = level
    completed = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", PROBE.format(module="functions.auth_login.app")],
        env=env,
        cwd=template.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    state = json.loads(completed.stdout.strip().splitlines()[-1])
    assert state["level"] == (level or "INFO")
    assert state["libraries"] == [logging.INFO] * 4


def test_the_page_assets_function_logs_its_request_line_too(clean_aws, capsys):
    """The one function without Powertools (its cold start) writes the same line."""
    from functions.page_assets.app import handler as assets

    for asset, status in (("page.css", 200), ("nothing.js", 404)):
        event = helpers.http_event("GET", f"/pages/{asset}")
        event["requestContext"]["requestId"] = f"assets-{status}"
        assert assets(event, FakeContext())["statusCode"] == status
        [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"request"' in x]
        assert line["message"] == "request"
        assert line["correlation_id"] == f"assets-{status}"
        assert (line["route"], line["status"], line["actor_type"]) == (
            "GET /pages/{asset}",
            status,
            "anonymous",
        )
        assert line["latency_ms"] >= 0
