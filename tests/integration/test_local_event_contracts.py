"""The events the local stack hands to functions are the ones AWS builds.

In process, with stand-in functions that record what they get: the HTTP API payload 2.0
event from the gateway, and the SQS event source's batches, deletes and redrive against
emulated SQS (moto).
"""

from __future__ import annotations

import base64
import json
import time

import boto3
import jwt
import pytest

from local import email_worker, lambda_authorizers
from local.gateway import Denied, Gateway, Request
from local.operator_auth import OperatorTokens
from local.template import Route, _pattern


class RecordingFunction:
    """Stands in for local.lambdas.Function: records events, answers what it is told."""

    def __init__(self, logical_id: str = "Recorder", answer=None) -> None:
        self.logical_id = logical_id
        self.module = "tests.recorder"
        self.events: list[dict] = []
        self.answer = answer if answer is not None else {"statusCode": 200, "body": "{}"}

    def exists(self) -> bool:
        return True

    def invoke(self, event: dict):
        self.events.append(event)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer(event) if callable(self.answer) else self.answer


def _route(method: str, route_path: str, authorizer: str | None = None) -> Route:
    return Route(
        method=method,
        path=route_path,
        function="Recorder",
        module="tests.recorder",
        api="OperatorApi",
        authorizer=authorizer,
        pattern=_pattern(route_path),
    )


def _request(method: str, target: str, headers=(), body: bytes = b"") -> Request:
    return Request(method, target, list(headers), body, "127.0.0.9", "127.0.0.1:3000")


def test_http_event_is_payload_2_0_as_api_gateway_builds_it():
    recorder = RecordingFunction()
    tokens = OperatorTokens(["portal-accounts-dashboard"])
    gateway = Gateway(
        [_route("GET", "/operator/accounts/{username}/events", "OperatorJwt")],
        {"Recorder": recorder},
        {"OperatorJwt": tokens.authorize},
        log=lambda line: None,
    )
    reply = gateway.handle(
        _request(
            "GET",
            "/operator/accounts/maria.rossi%40example.com/events?limit=3&tag=a&tag=b&q=caf%C3%A9",
            headers=[
                ("Authorization", f"Bearer {tokens.issue()}"),
                ("X-Trace", "one"),
                ("X-Trace", "two"),
                ("Cookie", "a=1; b=2"),
                ("User-Agent", "curl/8"),
            ],
        )
    )
    assert reply.status == 200
    (event,) = recorder.events
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /operator/accounts/{username}/events"
    assert event["rawPath"] == "/operator/accounts/maria.rossi%40example.com/events"
    assert event["rawQueryString"] == "limit=3&tag=a&tag=b&q=caf%C3%A9"
    assert event["queryStringParameters"] == {"limit": "3", "tag": "a,b", "q": "café"}
    assert event["pathParameters"] == {"username": "maria.rossi%40example.com"}
    assert event["headers"]["x-trace"] == "one,two"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["a=1", "b=2"]
    assert "body" not in event and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/operator/accounts/maria.rossi%40example.com/events",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.9",
        "userAgent": "curl/8",
    }
    assert context["stage"] == "$default"
    assert context["routeKey"] == event["routeKey"]
    assert context["requestId"] and isinstance(context["timeEpoch"], int)
    claims = context["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "local-operator" and claims["aud"] == "portal-accounts-dashboard"
    assert all(isinstance(value, str) for value in claims.values())
    assert context["authorizer"]["jwt"]["scopes"] is None


def test_operator_tokens_are_checked_as_the_jwt_authorizer_checks_them():
    secret = b"s" * 32
    tokens = OperatorTokens(["portal-accounts-dashboard"], secret=secret)
    now = int(time.time())
    valid = {"iss": "portal-accounts-local", "aud": "portal-accounts-dashboard", "sub": "op"}

    def event(token: str | None) -> dict:
        return {"headers": {"authorization": token} if token else {}}

    def forged(**changes) -> str:
        claims = {**valid, "iat": now, "exp": now + 60, **changes}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, secret, algorithm="HS256")

    assert tokens.authorize(event(f"Bearer {forged()}"))["jwt"]["claims"]["sub"] == "op"
    assert tokens.authorize(event(forged()))["jwt"]["claims"]["sub"] == "op"  # bare, as AWS
    for refused in (
        None,
        "Bearer",
        f"Bearer {forged(exp=now - 5)}",
        f"Bearer {forged(iss='https://elsewhere')}",
        f"Bearer {forged(aud='another-client')}",
        f"Bearer {forged(exp=None)}",
        f"Bearer {jwt.encode({**valid, 'exp': now + 60}, b'o' * 32, algorithm='HS256')}",
    ):
        with pytest.raises(Denied) as denied:
            tokens.authorize(event(refused))
        assert (denied.value.status, denied.value.message) == (401, "Unauthorized")


def test_bodies_that_are_not_utf8_arrive_base64_encoded():
    recorder = RecordingFunction()
    gateway = Gateway([_route("POST", "/things")], {"Recorder": recorder}, {}, log=lambda _: None)
    gateway.handle(_request("POST", "/things", body="caffè".encode()))
    gateway.handle(_request("POST", "/things", body=b"\xff\xfe\x00"))
    text, binary = recorder.events
    assert text["body"] == "caffè" and text["isBase64Encoded"] is False
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\xfe\x00"


def test_responses_and_failures_read_as_api_gateway_reads_them():
    answers = {
        "/ok": {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain"},
            "cookies": ["s=1; HttpOnly"],
            "body": base64.b64encode(b"bytes").decode(),
            "isBase64Encoded": True,
        },
        "/bare": {"hello": "world"},
    }
    recorder = RecordingFunction(answer=lambda event: answers[event["rawPath"]])
    routes = [_route("GET", "/ok"), _route("GET", "/bare"), _route("GET", "/boom")]
    gateway = Gateway(routes, {"Recorder": recorder}, {}, log=lambda line: None)

    ok = gateway.handle(_request("GET", "/ok"))
    assert (ok.status, ok.body) == (201, b"bytes")
    assert ("Set-Cookie", "s=1; HttpOnly") in ok.headers
    bare = gateway.handle(_request("GET", "/bare"))
    assert bare.status == 200 and json.loads(bare.body) == {"hello": "world"}

    recorder.answer = RuntimeError("handler bug")
    boom = gateway.handle(_request("GET", "/boom"))
    assert (boom.status, json.loads(boom.body)) == (500, {"message": "Internal Server Error"})


def test_routes_with_an_unknown_authorizer_fail_closed():
    recorder = RecordingFunction()
    gateway = Gateway(
        [_route("GET", "/me", "NoSuchAuthorizer")], {"Recorder": recorder}, {}, log=lambda _: None
    )
    assert gateway.handle(_request("GET", "/me")).status == 500
    assert recorder.events == []


def test_lambda_request_authorizer_answers_like_api_gateway():
    def decide(event: dict) -> dict:
        token = event["identitySource"][0]
        if token == "Bearer expired":
            raise Exception("Unauthorized")
        if token == "Bearer crash":
            raise RuntimeError("table missing")
        return {"isAuthorized": token == "Bearer good", "context": {"username": "m@example.com"}}

    authorizer_function = RecordingFunction("SessionAuthorizerFunction", answer=decide)
    authorize = lambda_authorizers.lambda_authorizer(
        authorizer_function,
        {
            "AuthorizerPayloadFormatVersion": "2.0",
            "EnableSimpleResponses": True,
            "Identity": {"Headers": ["Authorization"]},
        },
    )
    handler = RecordingFunction()
    gateway = Gateway(
        [_route("GET", "/me", "SessionAuthorizer")],
        {"Recorder": handler},
        {"SessionAuthorizer": authorize},
        log=lambda _: None,
    )
    assert gateway.handle(_request("GET", "/me")).status == 401
    assert authorizer_function.events == []  # no identity source: not even called
    for token, status in (("bad", 403), ("expired", 401), ("crash", 500)):
        reply = gateway.handle(_request("GET", "/me", [("Authorization", f"Bearer {token}")]))
        assert reply.status == status, token
    assert handler.events == []
    assert gateway.handle(_request("GET", "/me", [("Authorization", "Bearer good")])).status == 200
    assert handler.events[0]["requestContext"]["authorizer"] == {
        "lambda": {"username": "m@example.com"}
    }
    request_event = authorizer_function.events[-1]
    assert request_event["type"] == "REQUEST" and request_event["version"] == "2.0"
    assert request_event["routeKey"] == "GET /me"


# ---- the SQS event source --------------------------------------------------------------


@pytest.fixture
def queue(aws):
    """The template's email queue in moto, failed messages visible again at once."""
    sqs = boto3.client("sqs")
    sqs.set_queue_attributes(QueueUrl=aws["EmailQueue"], Attributes={"VisibilityTimeout": "0"})
    return sqs, aws


def _source(function, names, report_item_failures=True) -> email_worker.SqsSource:
    return email_worker.SqsSource(
        function=function,
        queue_url=names["EmailQueue"],
        queue_arn=names["EmailQueue.Arn"],
        batch_size=10,
        report_item_failures=report_item_failures,
    )


def _count(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_template_sqs_events_become_sources(aws):
    functions = {"EmailSenderFunction": RecordingFunction("EmailSenderFunction")}
    transactional, bulk = email_worker.sources(functions, aws)  # the template's order
    assert transactional.queue_url == aws["EmailQueue"]
    assert transactional.queue_arn == aws["EmailQueue.Arn"]
    assert bulk.queue_url == aws["BulkEmailQueue"]
    assert bulk.queue_arn == aws["BulkEmailQueue.Arn"]
    for source in (transactional, bulk):
        assert source.batch_size == 10 and source.report_item_failures is True
    (worker,) = email_worker.workers(functions, aws)
    assert worker.sources == (transactional, bulk)


def test_each_batch_comes_from_the_first_source_with_messages(aws):
    sqs = boto3.client("sqs")
    function = RecordingFunction("EmailSenderFunction")
    (worker,) = email_worker.workers({"EmailSenderFunction": function}, aws, log=lambda _: None)
    for n in range(15):
        sqs.send_message(QueueUrl=aws["BulkEmailQueue"], MessageBody=json.dumps({"bulk": n}))
    assert worker.drain_once()  # a bulk batch: nothing else waits
    sqs.send_message(QueueUrl=aws["EmailQueue"], MessageBody=json.dumps({"transactional": 0}))
    while worker.drain_once():
        pass
    queues = [
        {record["eventSourceARN"] for record in event["Records"]} for event in function.events
    ]
    assert queues == [
        {aws["BulkEmailQueue.Arn"]},
        {aws["EmailQueue.Arn"]},
        {aws["BulkEmailQueue.Arn"]},
    ]


def test_sqs_batch_event_and_partial_failures(queue):
    sqs, names = queue
    for n in range(3):
        sqs.send_message(
            QueueUrl=names["EmailQueue"],
            MessageBody=json.dumps({"n": n}),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )

    def fail_the_second(event):
        bad = [r for r in event["Records"] if json.loads(r["body"])["n"] == 1]
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in bad]}

    function = RecordingFunction(answer=fail_the_second)
    worker = email_worker.QueueWorker(_source(function, names), log=lambda _: None)
    while worker.drain_once():
        pass  # until the queue has nothing visible
    record = function.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == names["EmailQueue.Arn"]
    assert record["awsRegion"] == "eu-south-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["md5OfBody"] and record["receiptHandle"] and record["messageId"]
    # The failed one came back until the redrive policy moved it to the dead-letter queue.
    assert _count(sqs, names["EmailQueue"]) == 0
    assert _count(sqs, names["EmailDeadLetterQueue"]) == 1
    dead = sqs.receive_message(QueueUrl=names["EmailDeadLetterQueue"])["Messages"][0]
    assert json.loads(dead["Body"]) == {"n": 1}


def test_a_raising_handler_deletes_nothing(queue):
    sqs, names = queue
    sqs.send_message(QueueUrl=names["EmailQueue"], MessageBody="{}")
    worker = email_worker.QueueWorker(
        _source(RecordingFunction(answer=RuntimeError("down")), names), log=lambda _: None
    )
    assert worker.drain_once() is True
    assert _count(sqs, names["EmailQueue"]) == 1


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ("nonsense", {"a", "b"}),
    ],
)
def test_batch_item_failures_are_read_as_lambda_reads_them(answer, kept):
    assert email_worker.failed_ids(answer, {"a", "b"}, report_item_failures=True) == kept
