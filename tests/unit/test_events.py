"""The sample events in events/: one per function of template.yaml, each true to its route.

They are what `sam local invoke -e events/<folder>.json <Function>` feeds a function, so
they must keep matching the template (route key, method, path, authorizer) and be requests
the handlers accept: every HTTP sample is invoked here, against moto, and never answers 5xx.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote

import boto3
import pytest

from local import template
from portal_accounts.config import get_settings
from portal_accounts.email.defaults import LOCALES, TEMPLATE_IDS
from tests.helpers import FakeContext

EVENTS = template.ROOT / "events"
FUNCTIONS = template.resources("AWS::Serverless::Function")
ROUTES = template.routes()
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")

HTTP_EVENT_KEYS = {
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "body",
    "pathParameters",
    "isBase64Encoded",
    "stageVariables",
}
AUTHORIZER_EVENT_KEYS = (HTTP_EVENT_KEYS - {"body", "isBase64Encoded"}) | {
    "type",
    "routeArn",
    "identitySource",
}
REQUEST_CONTEXT_KEYS = {
    "accountId",
    "apiId",
    "domainName",
    "domainPrefix",
    "http",
    "requestId",
    "routeKey",
    "stage",
    "time",
    "timeEpoch",
}
SQS_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}


def folder_of(function: str) -> str:
    return Path(FUNCTIONS[function]["Properties"]["CodeUri"].strip("/")).name


def event_types(function: str) -> set[str]:
    events = FUNCTIONS[function]["Properties"].get("Events") or {}
    return {event["Type"] for event in events.values()}


def load_event(function: str) -> dict:
    return json.loads((EVENTS / f"{folder_of(function)}.json").read_text())


def authorizer_functions() -> dict[str, str]:
    """Lambda authorizer name (as routes name it) -> the function behind it."""
    found = {}
    for api in template.resources("AWS::Serverless::HttpApi").values():
        authorizers = api["Properties"].get("Auth", {}).get("Authorizers", {})
        for name, spec in authorizers.items():
            arn = spec.get("FunctionArn")
            if isinstance(arn, template.Tag) and arn.name == "GetAtt":
                found[name] = template.target(arn).split(".")[0]
    return found


HTTP_FUNCTIONS = sorted(name for name in FUNCTIONS if event_types(name) == {"HttpApi"})
SQS_FUNCTIONS = sorted(name for name in FUNCTIONS if event_types(name) == {"SQS"})
EVENTBRIDGE_FUNCTIONS = sorted(
    name for name in FUNCTIONS if event_types(name) == {"EventBridgeRule"}
)
AUTHORIZERS = authorizer_functions()
OPERATOR_FUNCTIONS = sorted(
    {route.function for route in ROUTES if route.authorizer == "OperatorJwt"}
)
STOREFRONT_FUNCTIONS = sorted(set(HTTP_FUNCTIONS) - set(OPERATOR_FUNCTIONS))


def routes_of(function: str) -> list[template.Route]:
    return [route for route in ROUTES if route.function == function]


class LambdaContext(FakeContext):
    """FakeContext plus what Powertools Idempotency asks of a Lambda context."""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


# ---- every function has its event, and nothing else is in events/ -------------------------


def test_every_function_has_a_sample_event():
    missing = [
        f"events/{folder_of(name)}.json ({name})"
        for name in FUNCTIONS
        if not (EVENTS / f"{folder_of(name)}.json").is_file()
    ]
    assert not missing, f"functions without a sample event: {missing}"


def test_every_sample_event_belongs_to_a_function():
    folders = {folder_of(name) for name in FUNCTIONS}
    strays = sorted(p.name for p in EVENTS.glob("*.json") if p.stem not in folders)
    assert not strays, f"sample events of no function in template.yaml: {strays}"


def test_every_function_kind_is_covered_by_a_shape_test():
    covered = (
        set(HTTP_FUNCTIONS)
        | set(SQS_FUNCTIONS)
        | set(EVENTBRIDGE_FUNCTIONS)
        | set(AUTHORIZERS.values())
    )
    assert covered == set(FUNCTIONS), sorted(set(FUNCTIONS) - covered)


# ---- shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize("function", HTTP_FUNCTIONS)
def test_http_event_matches_a_route_of_its_function(function):
    event = load_event(function)
    assert set(event) == HTTP_EVENT_KEYS
    assert event["version"] == "2.0"
    context = event["requestContext"]
    assert set(context) >= REQUEST_CONTEXT_KEYS
    http = context["http"]

    method, _, path = event["routeKey"].partition(" ")
    route = next((r for r in routes_of(function) if (r.method, r.path) == (method, path)), None)
    assert route is not None, (
        f"{event['routeKey']} is no route of {function}: "
        f"{[f'{r.method} {r.path}' for r in routes_of(function)]}"
    )
    assert context["routeKey"] == event["routeKey"]
    assert http["method"] == method
    assert http["path"] == event["rawPath"]

    # The raw path is the route's path with its parameters filled in, URL-encoded as
    # API Gateway delivers them, and pathParameters holds exactly those values.
    match = route.pattern.match(event["rawPath"])
    assert match, f"{event['rawPath']} does not match {route.path}"
    assert (event["pathParameters"] or {}) == match.groupdict()
    for value in match.groupdict().values():
        assert "@" not in value, "a path parameter arrives URL-encoded (@ as %40)"
        assert unquote(value) != "" and "/" not in unquote(value)

    query = event["queryStringParameters"] or {}
    assert dict(parse_qsl(event["rawQueryString"])) == query

    headers = event["headers"]
    assert all(name == name.lower() for name in headers), "HTTP APIs lower-case header names"
    assert headers["host"] == context["domainName"]
    assert context["domainName"].startswith(f"{context['apiId']}.execute-api.")
    assert context["domainPrefix"] == context["apiId"]
    assert event["isBase64Encoded"] is False
    if event["body"] is None:
        assert "content-length" not in headers and "content-type" not in headers
    else:
        json.loads(event["body"])
        assert headers["content-type"] == "application/json"
        assert int(headers["content-length"]) == len(event["body"].encode())

    authorizer = context.get("authorizer")
    if route.authorizer == "OperatorJwt":
        claims = authorizer["jwt"]["claims"]
        issuer = template.parameter_defaults()["OperatorJwtIssuer"]
        audiences = template.parameter_defaults()["OperatorJwtAudience"].split(",")
        # A Cognito access token names its app client in client_id, not aud.
        audience = claims.get("aud", claims.get("client_id"))
        assert claims["sub"] and claims["iss"] == issuer and audience in audiences
        assert headers["authorization"].startswith("Bearer ")
    elif route.authorizer in AUTHORIZERS:
        # What the session authorizer hands over, for the very token in the header.
        passed = authorizer["lambda"]
        token = headers["authorization"].removeprefix("Bearer ")
        assert passed["session"] == hashlib.sha256(token.encode()).hexdigest()
        assert EMAIL.match(passed["username"])
        assert isinstance(json.loads(passed["customers"]), list)
        assert isinstance(passed["password_change_required"], bool)
    else:
        assert route.authorizer is None
        assert authorizer is None and "authorization" not in headers


@pytest.mark.parametrize("authorizer", sorted(AUTHORIZERS))
def test_authorizer_event_is_a_request_to_a_route_it_guards(authorizer):
    function = AUTHORIZERS[authorizer]
    event = load_event(function)
    assert set(event) == AUTHORIZER_EVENT_KEYS
    assert (event["version"], event["type"]) == ("2.0", "REQUEST")
    guarded = {f"{r.method} {r.path}": r for r in ROUTES if r.authorizer == authorizer}
    assert event["routeKey"] in guarded, f"{event['routeKey']} is not behind {authorizer}"
    route = guarded[event["routeKey"]]
    assert route.pattern.match(event["rawPath"])
    context = event["requestContext"]
    assert set(context) >= REQUEST_CONTEXT_KEYS and "authorizer" not in context
    assert context["http"]["method"] == route.method
    assert event["routeArn"].endswith(
        f":{context['apiId']}/{context['stage']}/{route.method}{event['rawPath']}"
    )
    assert event["identitySource"] == [event["headers"]["authorization"]]


@pytest.mark.parametrize("function", SQS_FUNCTIONS)
def test_sqs_event_is_one_record_from_its_queue(function):
    event = load_event(function)
    assert list(event) == ["Records"] and len(event["Records"]) == 1
    record = event["Records"][0]
    assert set(record) == SQS_RECORD_KEYS
    assert record["eventSource"] == "aws:sqs"
    queues = [
        e["Properties"]["Queue"].value
        for e in FUNCTIONS[function]["Properties"]["Events"].values()
        if e["Type"] == "SQS"
    ]
    queue = queues[0] if isinstance(queues[0], str) else ".".join(queues[0])
    assert record["eventSourceARN"].startswith("arn:aws:sqs:eu-south-1:123456789012:")
    assert f"-{queue.split('.')[0]}-" in record["eventSourceARN"], "SAM names it <stack>-<id>-<x>"
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
    assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1


@pytest.mark.parametrize("function", EVENTBRIDGE_FUNCTIONS)
def test_eventbridge_event_matches_its_rule(function):
    """The sample is what EventBridge delivers for the function's rule: the rule's source
    and one of its detail types, SES's event in the detail, tagged with the configuration
    set the rule filters on."""
    event = load_event(function)
    assert set(event) == {
        "version", "id", "detail-type", "source", "account", "time", "region", "resources",
        "detail",
    }  # fmt: skip
    [rule] = [
        e["Properties"]["Pattern"]
        for e in FUNCTIONS[function]["Properties"]["Events"].values()
        if e["Type"] == "EventBridgeRule"
    ]
    assert event["source"] in rule["source"]
    assert event["detail-type"] in rule["detail-type"]
    detail = event["detail"]
    assert detail["eventType"][:1].lower() + detail["eventType"][1:] in detail
    assert detail["mail"]["tags"]["ses:configuration-set"]
    assert set(detail["mail"]["tags"]) >= set(rule["detail"]["mail"]["tags"])


def test_the_events_sample_is_read_as_a_bounce_of_no_known_email(aws):
    from portal_accounts.email.delivery import change_for

    event = load_event("EmailEventsFunction")
    change = change_for(event["detail"])
    assert change is not None
    assert (change.status, change.values["bounce_type"]) == ("bounced", "Permanent")
    handler = importlib.import_module(template.module_of(FUNCTIONS["EmailEventsFunction"]))
    # Its ref names no entry here: ignored, nothing created.
    assert handler.handler(event, LambdaContext()) == {"outcome": "unknown"}


def test_the_senders_sample_is_one_email_request():
    request = json.loads(load_event("EmailSenderFunction")["Records"][0]["body"])
    assert request["template_id"] in TEMPLATE_IDS
    assert request["locale"] in LOCALES
    assert EMAIL.match(request["to"]) and EMAIL.match(request["username"])
    assert request["idempotency_key"]
    assert all(isinstance(v, str) for v in request["variables"].values())
    if importlib.util.find_spec("portal_accounts.email.outbox"):
        # Exactly the queue message the API sends, as the sender reads it.
        outbox = importlib.import_module("portal_accounts.email.outbox")
        outbox.EmailRequest.from_payload(request)


def test_the_repairs_sample_names_an_account():
    request = json.loads(load_event("SearchRepairFunction")["Records"][0]["body"])
    assert list(request) == ["username"] and EMAIL.match(request["username"])


# ---- invoked against moto -----------------------------------------------------------------


def _invoke(function: str) -> dict:
    handler = importlib.import_module(template.module_of(FUNCTIONS[function])).handler
    return handler(load_event(function), LambdaContext())


@pytest.mark.parametrize("function", OPERATOR_FUNCTIONS)
def test_operator_handler_accepts_its_sample_event(aws, function):
    response = _invoke(function)
    # Authorized and well-formed: a success, or 404 for ids that are not in the tables.
    assert response["statusCode"] in (200, 201, 202, 204, 404), response


@pytest.mark.parametrize("function", STOREFRONT_FUNCTIONS)
def test_storefront_handler_accepts_its_sample_event(aws, function):
    response = _invoke(function)
    # Well-formed (never 400/422); unknown accounts, sessions or links may be refused.
    assert response["statusCode"] < 500, response
    assert response["statusCode"] not in (400, 413, 422), response


@pytest.mark.parametrize("authorizer", sorted(AUTHORIZERS))
def test_authorizer_refuses_the_sample_session_that_is_not_stored(aws, authorizer):
    # API Gateway answers 401 when an authorizer raises exactly "Unauthorized".
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _invoke(AUTHORIZERS[authorizer])


def test_email_sender_sends_its_sample_event(aws):
    function = "EmailSenderFunction"
    module = template.module_of(FUNCTIONS[function])
    if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
        pytest.skip(f"{module} does not exist yet: only the event's shape is tested")
    boto3.client("ses").verify_email_identity(EmailAddress=get_settings().sender_email_address)
    response = _invoke(function)
    assert response == {"batchItemFailures": []}
    sent = boto3.client("ses").get_send_quota()["SentLast24Hours"]
    assert sent == 1


def test_search_repair_indexes_the_account_of_its_sample_event(aws):
    from portal_accounts import clock
    from portal_accounts.models import AccountModel, SearchEntryModel

    now = clock.now()
    names = {"first_name": "Mario", "last_name": "Rossi", "linked_at": clock.iso(now)}
    AccountModel(
        username="mario.rossi@example.com",
        password_hash="not-a-real-hash",
        password_changed_at=now,
        created_at=now,
        customers={"a-customer": names},
    ).save()  # written, never indexed
    assert _invoke("SearchRepairFunction") == {"batchItemFailures": []}
    assert {entry.entry for entry in SearchEntryModel.scan()} == {
        "active#mario#mario.rossi@example.com",
        "active#rossi#mario.rossi@example.com",
    }
