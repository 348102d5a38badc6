"""The sender: SQS → render → SES, at most once per request, retried when SES fails for
a while, given up (then dead-lettered) after the allowed receives, never blocked by one
bad message, and never logging a password."""

from __future__ import annotations

import json
import logging

from botocore.exceptions import ClientError

from portal_accounts import clients
from portal_accounts.config import get_settings
from portal_accounts.email import sender
from portal_accounts.models import AccountModel, TemplateModel
from portal_accounts.observability import logger as app_logger
from tests.unit.clients import (
    GENERATED_PASSWORD,
    seed_account,
)

MARIO = "mario.rossi@example.com"


def linked_customer(username=MARIO, first_name="Mario") -> str:
    account = seed_account(username, [(first_name, "Rossi")])
    [customer_id] = list(account.customers.as_dict())
    return customer_id


def queue_credentials_email(operator, username=MARIO, first_name="Mario") -> str:
    customer_id = linked_customer(username, first_name)
    assert operator.send_credentials(customer_id)["statusCode"] == 202
    return customer_id


def log_entry(operator, username=MARIO) -> dict:
    [entry] = operator.emails(username)["json"]["items"]
    return entry


class FailingSes:
    """Make the sender's SES client answer an error code, counting the attempts."""

    def __init__(self, monkeypatch, code: str) -> None:
        self.calls = 0
        self.code = code
        self.client = clients.ses()
        monkeypatch.setattr(self.client, "send_email", self)

    def __call__(self, **kwargs):
        self.calls += 1
        raise ClientError(
            {"Error": {"Code": self.code, "Message": f"{self.code} (test)"}}, "SendEmail"
        )


def fail_sends_to(monkeypatch, address: str, code: str) -> set[str]:
    """SES answers `code` for this recipient while it is in the returned set."""
    client = clients.ses()
    original = type(client).send_email
    down = {address}

    def send_email(**kwargs):
        if set(kwargs["Destination"]["ToAddresses"]) & down:
            raise ClientError({"Error": {"Code": code, "Message": "test"}}, "SendEmail")
        return original(client, **kwargs)

    monkeypatch.setattr(client, "send_email", send_email)
    return down


# ---- at most once ------------------------------------------------------------------------


def test_a_message_delivered_twice_in_two_batches_is_sent_once(operator, postman):
    queue_credentials_email(operator)
    [message] = postman.receive()
    record = postman.record(message)
    first = postman.run_sender([record])
    # SQS delivers the same message again (say the delete got lost).
    second = postman.run_sender([dict(record, receiptHandle="another-receipt")])
    assert first == {"batchItemFailures": []}
    assert second == {"batchItemFailures": []}
    assert len(postman.sent()) == 1
    assert log_entry(operator)["status"] == "sent"


def test_a_message_with_a_field_this_sender_does_not_know_is_still_sent(operator, postman):
    # During a deploy a newer API may queue a field an older sender does not know yet.
    queue_credentials_email(operator)
    [message] = postman.receive()
    record = postman.record(message)
    body = json.loads(record["body"])
    record = dict(record, body=json.dumps({**body, "priority": "high"}))
    assert postman.run_sender([record]) == {"batchItemFailures": []}
    assert len(postman.sent()) == 1
    assert log_entry(operator)["status"] == "sent"


def test_a_message_twice_in_one_batch_is_sent_once(operator, postman):
    queue_credentials_email(operator)
    [message] = postman.receive()
    record = postman.record(message)
    response = postman.run_sender([record, dict(record, receiptHandle="again")])
    assert response == {"batchItemFailures": []}
    assert len(postman.sent()) == 1


def test_two_different_requests_with_the_same_content_are_both_sent(operator, postman):
    customer_id = queue_credentials_email(operator)
    operator.send_credentials(customer_id)
    postman.drain()
    assert len(postman.sent_to(MARIO)) == 2


# ---- transient failures: retried ---------------------------------------------------------


def test_a_throttled_send_fails_only_its_record_and_a_retry_sends_it_once(
    operator, postman, monkeypatch, frozen_clock
):
    queue_credentials_email(operator, "anna@example.com", "Anna")
    queue_credentials_email(operator, MARIO, "Mario")
    messages = postman.receive_all(expected=2)
    [mario_message] = [m for m in messages if MARIO in m["Body"]]

    ses_down_for = fail_sends_to(monkeypatch, MARIO, "Throttling")
    failed = postman.deliver(messages)
    assert failed == {mario_message["MessageId"]}
    assert [e["to"] for e in postman.sent()] == ["anna@example.com"]
    entry = log_entry(operator)
    assert entry["status"] == "queued"
    assert entry["sent_at"] is None
    assert entry["error"] == "throttled by SES (Throttling) on attempt 1"
    assert log_entry(operator, "anna@example.com")["status"] == "sent"

    # SES recovers; SQS hands the message out again once its visibility timeout is over.
    ses_down_for.clear()
    postman.sqs.change_message_visibility(
        QueueUrl=postman.queue_of(mario_message),
        ReceiptHandle=mario_message["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    frozen_clock.advance(minutes=3)
    [again] = postman.receive()
    assert again["MessageId"] == mario_message["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert postman.deliver([again]) == set()
    assert len(postman.sent_to(MARIO)) == 1
    entry = log_entry(operator)
    assert entry["status"] == "sent"
    assert entry["sent_at"] == "2026-01-01T09:03:00Z"
    assert entry["error"] is None
    # And once more, for good measure: still one email.
    postman.run_sender([postman.record(again)])
    assert len(postman.sent_to(MARIO)) == 1


def test_an_error_without_a_code_is_retried_too(operator, postman, monkeypatch):
    queue_credentials_email(operator)
    [message] = postman.receive()

    def broken(**kwargs):
        raise ConnectionError("network down")

    monkeypatch.setattr(clients.ses(), "send_email", broken)
    assert postman.deliver([message]) == {message["MessageId"]}
    assert log_entry(operator)["status"] == "queued"


def test_on_the_last_allowed_receive_the_log_says_it_gave_up(operator, postman, monkeypatch):
    # (Not for throttling, which is never the email's fault: tests/unit/test_email_queues.py.)
    queue_credentials_email(operator)
    [message] = postman.receive()
    FailingSes(monkeypatch, "ServiceUnavailable")
    limit = get_settings().email_max_receive_count
    record = postman.record(message)

    record["attributes"]["ApproximateReceiveCount"] = str(limit - 1)
    assert postman.run_sender([record])["batchItemFailures"] == [
        {"itemIdentifier": message["MessageId"]}
    ]
    assert log_entry(operator)["status"] == "queued"

    record["attributes"]["ApproximateReceiveCount"] = str(limit)
    response = postman.run_sender([record])
    # Still a failure for SQS, which now moves it to the dead-letter queue.
    assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    entry = log_entry(operator)
    assert entry["status"] == "failed"
    assert entry["error"].startswith("gave up")
    assert f"attempt {limit}" in entry["error"]
    assert postman.sent() == []


def test_a_failing_message_ends_in_the_dead_letter_queue_after_max_receives(
    operator, postman, monkeypatch
):
    queue_credentials_email(operator)
    failing = FailingSes(monkeypatch, "ServiceUnavailable")
    limit = get_settings().email_max_receive_count
    body = None
    for attempt in range(1, limit + 1):
        # As if the visibility timeout had run out: visible again at once.
        [message] = postman.receive(visibility_timeout=0)
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        body = message["Body"]
        assert postman.deliver([message]) == {message["MessageId"]}
    assert failing.calls == limit
    # The next receive finds it over maxReceiveCount: SQS moves it aside.
    assert postman.receive(visibility_timeout=0) == []
    dead = postman.sqs.receive_message(QueueUrl=postman.dlq_url, MaxNumberOfMessages=10)
    [dead_message] = dead["Messages"]
    assert dead_message["Body"] == body
    entry = log_entry(operator)
    assert entry["status"] == "failed"
    assert entry["error"].startswith("gave up")
    assert postman.sent() == []


# ---- permanent failures and bad messages: consumed ---------------------------------------


def test_a_rejected_email_is_failed_with_its_reason_and_not_retried(operator, postman, monkeypatch):
    queue_credentials_email(operator)
    [message] = postman.receive()
    failing = FailingSes(monkeypatch, "MessageRejected")
    assert postman.deliver([message]) == set()  # consumed, not retried
    entry = log_entry(operator)
    assert entry["status"] == "failed"
    assert "MessageRejected" in entry["error"]
    # A duplicate delivery does not try again either.
    postman.run_sender([postman.record(message)])
    assert failing.calls == 1
    assert postman.receive(visibility_timeout=0) == []


def test_an_unverified_sender_is_a_permanent_failure(operator, postman, monkeypatch):
    monkeypatch.setenv("SENDER_EMAIL_ADDRESS", "no-reply@not-verified.example.net")
    get_settings.cache_clear()
    queue_credentials_email(operator)
    postman.drain()
    assert postman.sent() == []
    entry = log_entry(operator)
    assert entry["status"] == "failed"
    assert "MessageRejected" in entry["error"]


def test_an_unreadable_message_does_not_block_its_batch(operator, postman):
    queue_credentials_email(operator)
    [message] = postman.receive()
    good = postman.record(message)
    garbage = dict(good, messageId="m-garbage", receiptHandle="r1", body="this is not json {")
    not_a_request = dict(good, messageId="m-odd", receiptHandle="r2", body='{"hello": 1}')
    wrong_types = dict(
        good, messageId="m-types", receiptHandle="r3", body=json.dumps({"username": ["x"]})
    )
    response = postman.run_sender([garbage, not_a_request, good, wrong_types])
    assert response == {"batchItemFailures": []}
    assert len(postman.sent()) == 1
    assert log_entry(operator)["status"] == "sent"


def test_one_failing_record_leaves_the_others_of_its_batch_sent(operator, postman, monkeypatch):
    for n in range(4):
        queue_credentials_email(operator, f"user{n}@example.com", f"Nome{chr(65 + n)}")
    messages = postman.receive_all(expected=4)
    fail_sends_to(monkeypatch, "user2@example.com", "Throttling")
    failed = postman.deliver(messages)
    [failed_message] = [m for m in messages if m["MessageId"] in failed]
    assert "user2@example.com" in failed_message["Body"]
    assert sorted(e["to"] for e in postman.sent()) == [
        "user0@example.com",
        "user1@example.com",
        "user3@example.com",
    ]


# ---- templates read once per batch -------------------------------------------------------


def test_templates_are_read_once_per_template_and_language_per_batch(
    operator, postman, desk, monkeypatch
):
    customer_ids = [
        linked_customer(f"user{n}@example.com", f"Nome{chr(65 + n)}") for n in range(10)
    ]
    # Half of them in English (the English template customised, so it lives in the table).
    for customer_id in customer_ids[5:]:
        assert desk.update_customer(customer_id, {"locale": "en"})["statusCode"] == 200
    custom = {
        "subject": "Welcome {{ first_name }}",
        "text": "{{ username }} {{ link }}",
        "html": '<p><a href="{{ link }}">{{ first_name }}</a></p>',
    }
    assert operator.put_template("account_credentials", "en", custom)["statusCode"] == 200
    for customer_id in customer_ids:
        operator.send_credentials(customer_id)
    messages = postman.receive_all(expected=10)
    assert len(messages) == 10

    reads = []
    original = TemplateModel.get.__func__

    def counting_get(cls, *args, **kwargs):
        reads.append(args[:2])
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(TemplateModel, "get", classmethod(counting_get))
    assert postman.deliver(messages) == set()
    assert sorted(reads) == [("account_credentials", "en"), ("account_credentials", "it")]
    sent = postman.sent()
    assert len(sent) == 10
    assert sum(e["subject"].startswith("Welcome Nome") for e in sent) == 5


# ---- no password in the logs -------------------------------------------------------------


def test_new_password_emails_never_put_the_password_in_a_log(
    operator, postman, caplog, monkeypatch
):
    account = seed_account(MARIO, [("Mario", "Rossi")])
    [customer_id] = list(account.customers.as_dict())
    caplog.set_level(logging.DEBUG)
    # The functions' logger does not propagate: listen to it directly, at its most verbose.
    functions_logger = logging.getLogger(app_logger.service)
    functions_logger.addHandler(caplog.handler)
    previous_level = functions_logger.level
    functions_logger.setLevel(logging.DEBUG)
    try:
        assert operator.reset_password(customer_id)["statusCode"] == 202
        [message] = postman.receive()
        # Deliver it three times, throttled then failed first, so every logging path runs.
        client = clients.ses()
        original = type(client).send_email
        failures = ["Throttling", "ServiceUnavailable"]

        def flaky(**kwargs):
            if failures:
                code = failures.pop(0)
                raise ClientError({"Error": {"Code": code, "Message": "x"}}, "SendEmail")
            return original(client, **kwargs)

        monkeypatch.setattr(client, "send_email", flaky)
        record = postman.record(message)
        for receives in ("1", "2", "3"):
            record["attributes"]["ApproximateReceiveCount"] = receives
            postman.run_sender([record])
    finally:
        functions_logger.removeHandler(caplog.handler)
        functions_logger.setLevel(previous_level)

    [email] = postman.sent()
    [password] = set(GENERATED_PASSWORD.findall(email["text"]))
    app_records = [
        r for r in caplog.records if r.name.startswith(("portal-accounts", "aws_lambda_powertools"))
    ]
    assert any(r.getMessage() == "email sent" for r in app_records)
    assert any(r.getMessage() == "email send failed" for r in app_records)
    assert any(r.getMessage() == "email throttled" for r in app_records)
    for record in app_records:
        assert password not in record.getMessage()
        assert password not in json.dumps(record.__dict__, default=str)


# ---- issue 9: new passwords created at send time, once -------------------------------------


def queue_new_password(operator) -> None:
    customer_id = linked_customer()
    assert operator.reset_password(customer_id)["statusCode"] == 202


def password_in(email: dict) -> str:
    [password] = set(GENERATED_PASSWORD.findall(email["text"]))
    return password


def stored_hash() -> str:
    return AccountModel.get(MARIO, consistent_read=True).password_hash


def test_a_redelivered_new_password_is_neither_sent_nor_changed_again(operator, postman, shop):
    queue_new_password(operator)
    [message] = postman.receive()
    record = postman.record(message)
    assert postman.run_sender([record]) == {"batchItemFailures": []}
    sent_hash = stored_hash()
    # SQS hands it out again (a lost delete, a visibility timeout): same message, twice more.
    again = dict(record, receiptHandle="another-receipt")
    assert postman.run_sender([again, dict(again, receiptHandle="a-third")]) == {
        "batchItemFailures": []
    }
    [email] = postman.sent()
    assert stored_hash() == sent_hash
    assert shop.login(MARIO, password_in(email))["statusCode"] == 200


def test_a_retry_after_a_failed_send_emails_one_working_password(
    operator, postman, shop, monkeypatch
):
    queue_new_password(operator)
    [message] = postman.receive()
    ses_down_for = fail_sends_to(monkeypatch, MARIO, "Throttling")
    assert postman.deliver([message]) == {message["MessageId"]}
    assert postman.sent() == []
    ses_down_for.clear()
    record = postman.record(message)
    record["attributes"]["ApproximateReceiveCount"] = "2"
    assert postman.run_sender([record]) == {"batchItemFailures": []}
    [email] = postman.sent()  # the first password was never sent; this one replaced it
    assert shop.login(MARIO, password_in(email))["statusCode"] == 200


def test_once_ses_has_it_a_failing_log_write_does_not_send_it_again(
    operator, postman, shop, monkeypatch
):
    queue_new_password(operator)
    [message] = postman.receive()
    original = sender._mark

    def mark(request, **changes):
        if changes.get("status") == "sent":
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateItem")
        return original(request, **changes)

    monkeypatch.setattr(sender, "_mark", mark)
    record = postman.record(message)
    assert postman.run_sender([record]) == {"batchItemFailures": []}
    monkeypatch.setattr(sender, "_mark", original)
    postman.run_sender([dict(record, receiptHandle="again")])
    [email] = postman.sent()
    assert shop.login(MARIO, password_in(email))["statusCode"] == 200


def test_the_dead_letter_queue_holds_no_secret_and_a_redrive_still_works(
    operator, postman, shop, monkeypatch
):
    queue_new_password(operator)
    FailingSes(monkeypatch, "ServiceUnavailable")
    for _ in range(get_settings().email_max_receive_count):
        postman.deliver(postman.receive(visibility_timeout=0))
    assert postman.receive(visibility_timeout=0) == []
    [dead] = postman.sqs.receive_message(QueueUrl=postman.dlq_url)["Messages"]
    body = json.loads(dead["Body"])
    assert body["secret"] == "temporary_password"
    assert "password" not in body["variables"] and "link" not in body["variables"]
    assert not GENERATED_PASSWORD.search(dead["Body"]) and "token=" not in dead["Body"]
    # The runbook: SES is back, the dead letter goes back on the queue, and it works.
    monkeypatch.undo()
    postman.sqs.send_message(QueueUrl=postman.queue_url, MessageBody=dead["Body"])
    postman.drain()
    [email] = postman.sent()
    assert shop.login(MARIO, password_in(email))["statusCode"] == 200
    assert log_entry(operator)["status"] == "sent"
