"""Build API Gateway HTTP API (v2) events like `sam local generate-event` and call handlers;
the template's tables and queues in moto (`template_aws`, behind the `aws` fixtures)."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from urllib.parse import urlencode

from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.sqs.models import sqs_backends

from local import template
from portal_accounts.config import get_settings

# An operator token with both scopes (the defaults of OperatorScopes and OperatorAdminScopes).
OPERATOR_CLAIMS = {
    "sub": "op-123",
    "email": "desk@palestra.example",
    "iss": "local",
    "aud": "test",
    "scope": "portal-accounts/operator portal-accounts/admin",
}


def http_event(
    method: str,
    path: str,
    *,
    body: object = None,
    query: dict | None = None,
    headers: dict | None = None,
    claims: dict | None = OPERATOR_CLAIMS,
    path_parameters: dict | None = None,
) -> dict:
    raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
    event = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {"content-type": "application/json", **(headers or {})},
        "queryStringParameters": dict(query) if query else None,
        "pathParameters": path_parameters or {},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Jan/2026:09:00:00 +0000",
            "timeEpoch": 1767258000000,
        },
        "body": raw_body,
        "isBase64Encoded": False,
    }
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


class FakeContext:
    function_name = "test"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-south-1:123456789012:function:test"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def call(handler, method: str, path: str, **kwargs) -> dict:
    response = handler(http_event(method, path, **kwargs), FakeContext())
    if response.get("body"):
        try:
            response["json"] = json.loads(response["body"])
        except ValueError:
            response["json"] = None
    return response


# ---- the template's AWS in moto -----------------------------------------------------------


def use_queues(names: dict[str, str]) -> dict[str, str]:
    """The functions' table and queue variables set to what `resources.create_all()` made;
    returns them."""
    variables = template.required_environment(names)
    os.environ.update(variables)
    get_settings.cache_clear()
    return variables


@contextmanager
def template_aws():
    """moto in this process with every table and queue of the template; yields their names
    (logical id -> table name or queue URL)."""
    from local import resources

    with mock_aws():
        names = resources.create_all()
        use_queues(names)
        yield names
    get_settings.cache_clear()


def empty_every_table_and_queue() -> None:
    """Every table and queue emptied straight in moto's backends: through the API (a Scan
    and batch deletes per table, a drain per queue) it cost about 0.1 s a test, a fifth of
    the suite and of every mutant's run (`make mutation`). The tables, their indexes and
    the queues stay as the template made them."""
    for regions in dynamodb_backends.values():
        for backend in regions.values():
            for table in backend.tables.values():
                table.items.clear()
    for regions in sqs_backends.values():
        for backend in regions.values():
            for queue in backend.queues.values():
                with queue._messages_lock:
                    queue._messages = []
                    queue._pending_messages = set()
