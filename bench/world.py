"""An emulated AWS with the template's tables and queues, and the real handlers to drive it.

Shared by the in-process benchmarks (round_trips, login_latency, sender). Everything here
is set-up: it runs before any counting or timing starts, and goes through the same
handlers the API uses (customers and accounts are created with the operator routes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import boto3

from functions.operator_create_account.app import handler as create_account_handler
from functions.operator_create_customer.app import handler as create_customer_handler
from portal_accounts.config import get_settings
from tests.helpers import call, template_aws

ROOT = Path(__file__).resolve().parent.parent
# Passphrases that pass the policy for every customer made here.
GOOD_PASSWORD = "lanterna verde sul molo antico"
OTHER_GOOD_PASSWORD = "tramonto viola dietro le colline"


@contextmanager
def emulated_aws() -> Iterator[dict[str, str]]:
    """moto in this process, with every table and queue of template.yaml, and the sender's
    address verified in SES. Yields logical id -> name (queues: URL)."""
    with template_aws() as names:
        boto3.client("ses").verify_email_identity(EmailAddress=get_settings().sender_email_address)
        yield names


def expect(response: dict, status: int, what: str) -> dict:
    if response["statusCode"] != status:
        raise AssertionError(f"{what}: {response['statusCode']} {response.get('body')}")
    return response


def enc(username: str) -> str:
    """A path parameter as API Gateway delivers it: URL-encoded (@ as %40)."""
    return quote(username, safe="")


def new_customer(first_name: str, last_name: str, email: str | None, locale: str = "it") -> str:
    body = {"first_name": first_name, "last_name": last_name, "locale": locale}
    if email is not None:
        body["email"] = email
    response = call(create_customer_handler, "POST", "/operator/customers", body=body)
    return expect(response, 201, "create customer")["json"]["customer_id"]


def create_account(customer_id: str, password: str = GOOD_PASSWORD) -> dict:
    return call(
        create_account_handler,
        "POST",
        f"/operator/customers/{customer_id}/account",
        body={"password": password, "temporary": False},
    )


def new_account(first_name: str, last_name: str, email: str, locale: str = "it") -> str:
    """A customer with an account (permanent password GOOD_PASSWORD); returns the username."""
    customer_id = new_customer(first_name, last_name, email, locale)
    return expect(create_account(customer_id), 201, "create account")["json"]["username"]


def authorizer_event(token: str, route_key: str = "GET /me") -> dict:
    """events/session_authorizer.json (what API Gateway sends) carrying this token."""
    event = json.loads((ROOT / "events" / "session_authorizer.json").read_text())
    bearer = f"Bearer {token}"
    event["headers"]["authorization"] = bearer
    event["identitySource"] = [bearer]
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    return event


def drain(queue_url: str) -> list[dict]:
    """Every message now in the queue (received and deleted), oldest first."""
    sqs = boto3.client("sqs")
    messages: list[dict] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages += batch


def sqs_event(bodies: list[str], queue_arn: str) -> dict:
    """The event Lambda's SQS event source sends for these message bodies."""
    return {
        "Records": [
            {
                "messageId": f"bench-{n:04d}",
                "receiptHandle": f"bench-receipt-{n:04d}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1768209368418",
                    "SenderId": "AROA4EXAMPLEROLEID7Q:bench",
                    "ApproximateFirstReceiveTimestamp": "1768209370148",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": os.environ.get("AWS_REGION", "eu-south-1"),
            }
            for n, body in enumerate(bodies)
        ]
    }
