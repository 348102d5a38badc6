"""Review of issue 9: an old or replayed queue message creates no working secret.

A request with a link or a password is good for the account as it was when it was queued
(its credential version), for the address it was queued for (the customer's, or the
login itself for a forgot-password link), and — a link — for no longer than the link
would live. A DLQ redrive or an SQS retry after that is not sent, and the email log says
why. And a request that SES accepted is not sent again, even when the idempotency record
could not be completed.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from portal_accounts import clients
from portal_accounts.config import get_settings
from portal_accounts.models import AccountModel
from tests.unit.clients import (
    GENERATED_PASSWORD,
    GOOD_PASSWORD,
    OTHER_GOOD_PASSWORD,
    link_in,
    seed_account,
)

MARIO = "mario.rossi@example.com"
LINK_FLOWS = ["credentials", "reset_link", "forgot"]
SUPERSEDED_VERSION = (
    "not sent: the password was changed or the account disabled after this email was queued"
)


def mario() -> str:
    account = seed_account(MARIO, [("Mario", "Rossi")])
    [customer_id] = list(account.customers.as_dict())
    return customer_id


def queue(operator, shop, postman, customer_id: str, flow: str) -> list[dict]:
    """The flow's email request, received from the queue and not yet handled."""
    if flow == "credentials":
        assert operator.send_credentials(customer_id)["statusCode"] == 202
    elif flow == "reset_link":
        assert operator.reset_password(customer_id, {"mode": "reset_link"})["statusCode"] == 202
    elif flow == "temporary_password":
        assert operator.reset_password(customer_id)["statusCode"] == 202
    else:
        assert shop.forgot(MARIO)["statusCode"] == 202
        postman.deliver(postman.receive())  # the forgot request queues its email
    messages = postman.receive()
    assert len(messages) == 1
    return messages


def link_lifetime(flow: str) -> int:
    settings = get_settings()
    if flow == "credentials":
        return settings.set_password_link_ttl_seconds
    return settings.reset_link_ttl_seconds


def the_entry(operator) -> dict:
    [entry] = [
        e
        for e in operator.emails(MARIO)["json"]["items"]
        if e["template_id"] != ("password_changed")
    ]
    return entry


def not_sent(operator, postman, error: str) -> None:
    assert postman.sent() == []
    entry = the_entry(operator)
    assert (entry["status"], entry["error"]) == ("failed", error)


# ---- the credential version ----------------------------------------------------------------


@pytest.mark.parametrize("flow", LINK_FLOWS)
def test_a_link_queued_before_the_customer_set_a_password_is_not_sent(
    operator, postman, shop, flow
):
    customer_id = mario()
    messages = queue(operator, shop, postman, customer_id, flow)
    session = shop.token(MARIO, GOOD_PASSWORD)
    changed = shop.change_password(session, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)
    assert changed["statusCode"] == 204
    postman.deliver(messages)
    not_sent(operator, postman, SUPERSEDED_VERSION)
    assert shop.login(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 200


def test_a_link_queued_before_an_operator_set_the_password_is_not_sent(
    operator, postman, shop, desk
):
    customer_id = mario()
    messages = queue(operator, shop, postman, customer_id, "credentials")
    assert desk.set_password(MARIO, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    postman.deliver(messages)
    not_sent(operator, postman, SUPERSEDED_VERSION)


# ---- the age -------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", LINK_FLOWS)
def test_a_link_request_as_old_as_its_link_is_not_sent(operator, postman, shop, frozen_clock, flow):
    customer_id = mario()
    messages = queue(operator, shop, postman, customer_id, flow)
    frozen_clock.advance(seconds=link_lifetime(flow))
    postman.deliver(messages)
    not_sent(operator, postman, "not sent: queued longer ago than its link would be valid")


@pytest.mark.parametrize("flow", LINK_FLOWS)
def test_a_link_request_younger_than_its_link_is_sent(operator, postman, shop, frozen_clock, flow):
    customer_id = mario()
    messages = queue(operator, shop, postman, customer_id, flow)
    frozen_clock.advance(seconds=link_lifetime(flow) - 1)
    postman.deliver(messages)
    [email] = postman.sent()
    _, token = link_in(email)
    assert shop.verify(token)["statusCode"] == 200


def test_a_credentials_email_redriven_from_the_dead_letter_queue_days_later_is_not_sent(
    operator, postman, shop, frozen_clock, monkeypatch
):
    customer_id = mario()
    assert operator.send_credentials(customer_id)["statusCode"] == 202
    client = clients.ses()

    def ses_down(**kwargs):
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendEmail")

    monkeypatch.setattr(client, "send_email", ses_down)
    for _ in range(get_settings().email_max_receive_count):
        postman.deliver(postman.receive(visibility_timeout=0))
    assert postman.receive(visibility_timeout=0) == []  # now in the dead-letter queue
    monkeypatch.undo()
    [dead] = postman.sqs.receive_message(QueueUrl=postman.dlq_url)["Messages"]
    frozen_clock.advance(days=4)
    postman.sqs.send_message(QueueUrl=postman.bulk_queue_url, MessageBody=dead["Body"])
    postman.drain()
    not_sent(operator, postman, "not sent: queued longer ago than its link would be valid")


# ---- the address ---------------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["credentials", "reset_link", "temporary_password"])
def test_an_email_for_an_address_the_operator_corrected_meanwhile_is_not_sent(
    operator, postman, shop, desk, flow
):
    customer_id = mario()
    messages = queue(operator, shop, postman, customer_id, flow)
    assert desk.update_customer(customer_id, {"email": "mario@correct.example"})["statusCode"] == (
        200
    )
    postman.deliver(messages)
    changed = "not sent: the customer's email changed after this email was queued"
    not_sent(operator, postman, changed)


def test_a_forgot_password_link_goes_to_the_login_whatever_the_customers_address(
    shop, desk, postman
):
    customer_id = mario()
    assert (
        desk.update_customer(customer_id, {"email": "mario@elsewhere.example"})["statusCode"] == 200
    )
    assert shop.forgot(MARIO)["statusCode"] == 202
    postman.drain()
    [email] = postman.sent_to(MARIO)
    _, token = link_in(email)
    assert shop.verify(token)["statusCode"] == 200


def test_an_email_for_the_login_is_not_sent_to_another_address(operator, shop, postman):
    customer_id = mario()
    [message] = queue(operator, shop, postman, customer_id, "forgot")
    body = json.loads(message["Body"])
    assert body["to"] == MARIO
    record = postman.record(message)
    record["body"] = json.dumps({**body, "to": "someone@else.example"})
    assert postman.run_sender([record]) == {"batchItemFailures": []}
    not_sent(operator, postman, "not sent: the email is not addressed to the login")


# ---- messages queued before these fields existed -------------------------------------------


@pytest.mark.parametrize("flow", LINK_FLOWS)
def test_a_link_request_from_before_this_check_is_not_sent(operator, postman, shop, flow):
    customer_id = mario()
    [message] = queue(operator, shop, postman, customer_id, flow)
    body = json.loads(message["Body"])
    old = {k: v for k, v in body.items() if k not in ("credential_version", "queued_at")}
    record = dict(postman.record(message), body=json.dumps(old))
    assert postman.run_sender([record]) == {"batchItemFailures": []}
    not_sent(operator, postman, "not sent: queued before the sender checked a link request's age")


def test_a_temporary_password_request_from_before_this_check_is_still_sent(operator, postman, shop):
    # It always carried its version, and ended the old password when it was queued.
    customer_id = mario()
    [message] = queue(operator, shop, postman, customer_id, "temporary_password")
    body = json.loads(message["Body"])
    old = {k: v for k, v in body.items() if k not in ("queued_at", "recipient")}
    record = dict(postman.record(message), body=json.dumps(old))
    assert postman.run_sender([record]) == {"batchItemFailures": []}
    [email] = postman.sent()
    [password] = set(GENERATED_PASSWORD.findall(email["text"]))
    assert shop.login(MARIO, password)["statusCode"] == 200


# ---- once SES has it, never a second password ----------------------------------------------


def expire_in_progress_records() -> None:
    """What time does to the in-progress record of an invocation that ended: it expires
    (Powertools sets it to the Lambda's remaining time), so a redelivery may run again."""
    dynamodb = boto3.client("dynamodb")
    table = get_settings().idempotency_table
    for item in dynamodb.scan(TableName=table)["Items"]:
        dynamodb.update_item(
            TableName=table,
            Key={"id": item["id"]},
            UpdateExpression="SET in_progress_expiration = :past",
            ExpressionAttributeValues={":past": {"N": "0"}},
        )


def test_a_sent_password_whose_idempotency_record_was_not_completed_is_not_sent_again(
    operator, postman, shop, monkeypatch
):
    customer_id = mario()
    [message] = queue(operator, shop, postman, customer_id, "temporary_password")
    persistence = clients.idempotency_store()

    def save_success(*args, **kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateItem")

    monkeypatch.setattr(persistence, "save_success", save_success)
    record = postman.record(message)
    assert postman.run_sender([record]) == {
        "batchItemFailures": [{"itemIdentifier": message["MessageId"]}]
    }
    monkeypatch.undo()
    [email] = postman.sent()
    sent_hash = AccountModel.get(MARIO, consistent_read=True).password_hash
    expire_in_progress_records()
    record["attributes"]["ApproximateReceiveCount"] = "2"
    assert postman.run_sender([record]) == {"batchItemFailures": []}
    assert postman.sent() == [email]
    assert AccountModel.get(MARIO, consistent_read=True).password_hash == sent_hash
    [password] = set(GENERATED_PASSWORD.findall(email["text"]))
    assert shop.login(MARIO, password)["statusCode"] == 200
    assert the_entry(operator)["status"] == "sent"
