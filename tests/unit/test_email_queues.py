"""Two email queues (issue 10, finding 7): a bulk campaign never delays a reset link.

Transactional emails (reset links, an operator's new password, "password changed") wait in
EmailQueue, credentials emails in BulkEmailQueue; the sender drains the transactional one
first, each sender paces its SES calls to its share of SesMaxSendRate, and SES's throttling
puts an email back for later without ever failing it.
"""

from __future__ import annotations

import itertools
import json

import boto3
import pytest

from local import email_worker, lambdas, template
from portal_accounts import clients
from portal_accounts.config import get_settings
from portal_accounts.email import outbox, sender
from portal_accounts.email.defaults import TEMPLATE_IDS
from tests.unit.clients import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, seed_account
from tests.unit.test_email_sender import FailingSes, fail_sends_to, log_entry

MARIO = "mario.rossi@example.com"
ANNA = "anna.bianchi@example.com"


def linked_customer(username=MARIO, first_name="Mario") -> str:
    [customer_id] = list(seed_account(username, [(first_name, "Rossi")]).customers.as_dict())
    return customer_id


def waiting(queue_url: str) -> list[dict]:
    """The bodies of the messages in the queue, left in it."""
    sqs = boto3.client("sqs")
    bodies, handles = [], []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages"
    ):
        bodies += [json.loads(m["Body"]) for m in messages]
        handles += [m["ReceiptHandle"] for m in messages]
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return bodies


def kinds(queue_url: str) -> list[str]:
    return [body.get("template_id") or body.get("kind") for body in waiting(queue_url)]


# ---- which queue ------------------------------------------------------------------------


def test_a_credentials_email_waits_in_the_bulk_queue(operator, clean_aws):
    assert operator.send_credentials(linked_customer())["statusCode"] == 202
    assert kinds(clean_aws["BulkEmailQueue"]) == ["account_credentials"]
    assert kinds(clean_aws["EmailQueue"]) == []


def test_a_forgot_request_and_its_reset_link_wait_in_the_transactional_queue(
    shop, postman, clean_aws
):
    linked_customer()
    assert shop.forgot(MARIO)["statusCode"] == 202
    assert kinds(clean_aws["EmailQueue"]) == ["forgot_password"]
    postman.deliver(postman.receive())  # the sender decides: a reset link is due
    assert kinds(clean_aws["EmailQueue"]) == ["password_reset_link"]
    assert kinds(clean_aws["BulkEmailQueue"]) == []


@pytest.mark.parametrize(
    ("mode", "template_id"),
    [("temporary_password", "new_password"), ("reset_link", "password_reset_link")],
)
def test_an_operators_reset_waits_in_the_transactional_queue(
    operator, clean_aws, mode, template_id
):
    response = operator.reset_password(linked_customer(), {"mode": mode})
    assert response["statusCode"] == 202, response
    assert kinds(clean_aws["EmailQueue"]) == [template_id]
    assert kinds(clean_aws["BulkEmailQueue"]) == []


def test_a_password_changed_notice_waits_in_the_transactional_queue(shop, clean_aws):
    linked_customer()
    token = shop.token(MARIO, GOOD_PASSWORD)
    changed = shop.change_password(token, GOOD_PASSWORD, OTHER_GOOD_PASSWORD)
    assert changed["statusCode"] == 204, changed
    assert kinds(clean_aws["EmailQueue"]) == ["password_changed"]
    assert kinds(clean_aws["BulkEmailQueue"]) == []


def test_every_template_has_its_queue(clean_aws):
    queues = {template_id: outbox.queue_url_for(template_id) for template_id in TEMPLATE_IDS}
    assert queues == {
        "password_reset_link": clean_aws["EmailQueue"],
        "new_password": clean_aws["EmailQueue"],
        "password_changed": clean_aws["EmailQueue"],
        "account_credentials": clean_aws["BulkEmailQueue"],
    }


# ---- transactional first -----------------------------------------------------------------


def test_a_forgot_request_behind_200_credentials_emails_is_sent_first(
    operator, shop, postman, clean_aws
):
    customer_id = linked_customer()
    for _ in range(200):
        assert operator.send_credentials(customer_id)["statusCode"] == 202
    linked_customer(ANNA, "Anna")
    assert shop.forgot(ANNA)["statusCode"] == 202

    # The local stack's worker for the sender, over both of its queues.
    resource = template.resources("AWS::Serverless::Function")["EmailSenderFunction"]
    functions = {
        "EmailSenderFunction": lambdas.Function.from_template("EmailSenderFunction", resource)
    }
    (worker,) = email_worker.workers(functions, clean_aws, log=lambda _: None)
    while not postman.sent_to(ANNA):
        assert worker.drain_once()
    # The forgot request, then its reset link: two batches, no credentials email yet.
    assert postman.sent_to(MARIO) == []
    assert len(waiting(clean_aws["BulkEmailQueue"])) == 200


# ---- SES's rate --------------------------------------------------------------------------


class FakeTime:
    """Pace's clock and sleep, without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(sender, "_pace", sender.Pace(clock=fake.monotonic, sleep=fake.sleep))
    return fake


def send_times(monkeypatch, fake: FakeTime) -> list[float]:
    """When (on the fake clock) each SES call was made."""
    client = clients.ses()
    original = type(client).send_email
    times: list[float] = []

    def send_email(**kwargs):
        times.append(fake.now)
        return original(client, **kwargs)

    monkeypatch.setattr(client, "send_email", send_email)
    return times


def test_each_sender_paces_its_sends_to_its_share_of_the_rate(
    operator, postman, monkeypatch, fake_time
):
    # 7 senders may run at once on AWS (SendRates, 14/s): each sends at most 2 a second.
    monkeypatch.setenv("SES_MAX_SEND_RATE", "14")
    monkeypatch.setenv("EMAIL_SENDERS", "7")
    get_settings.cache_clear()
    customer_id = linked_customer()
    for _ in range(10):
        operator.send_credentials(customer_id)
    times = send_times(monkeypatch, fake_time)
    assert postman.deliver(postman.receive_all(expected=10)) == set()
    assert len(times) == 10
    assert [round(b - a, 3) for a, b in itertools.pairwise(times)] == [0.5] * 9


def test_unpaced_when_no_rate_is_set(operator, postman, monkeypatch, fake_time):
    customer_id = linked_customer()
    for _ in range(3):
        operator.send_credentials(customer_id)
    times = send_times(monkeypatch, fake_time)
    postman.drain()
    assert times == [1000.0] * 3


# What SES answers when its sending rate (or daily quota) is used up, by API and SDK.
@pytest.mark.parametrize(
    "code",
    ["Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException"],
)
def test_ses_throttling_puts_the_email_back_and_never_fails_it(
    operator, postman, monkeypatch, fake_time, code
):
    monkeypatch.setenv("SES_MAX_SEND_RATE", "14")
    monkeypatch.setenv("EMAIL_SENDERS", "7")
    get_settings.cache_clear()
    customer_id = linked_customer()
    operator.send_credentials(customer_id)
    [message] = postman.receive()
    throttled = FailingSes(monkeypatch, code)
    assert postman.deliver([message]) == {message["MessageId"]}  # back for a retry
    entry = log_entry(operator)
    assert entry["status"] == "queued"
    assert entry["error"] == f"throttled by SES ({code}) on attempt 1"
    assert throttled.calls == 1
    # This sender's next send waits a second (SES counts its rate per second): the retry.
    times = send_times(monkeypatch, fake_time)
    throttled_at = fake_time.now
    assert postman.deliver([message]) == set()
    assert times == [throttled_at + 1.0]
    assert log_entry(operator)["status"] == "sent"


def test_throttled_on_its_last_receive_an_email_is_queued_again_not_dead_lettered(
    operator, postman, monkeypatch, fake_time, clean_aws
):
    operator.send_credentials(linked_customer())
    [message] = postman.receive()
    record = postman.record(message)
    record["attributes"]["ApproximateReceiveCount"] = str(get_settings().email_max_receive_count)
    ses_down_for = fail_sends_to(monkeypatch, MARIO, "Throttling")
    queued: list[dict] = []
    sqs = clients.sqs()
    monkeypatch.setattr(
        sqs, "send_message", lambda **kw: queued.append(kw) or type(sqs).send_message(sqs, **kw)
    )
    # Consumed (so never moved to the dead-letter queue): a copy waits in its own queue,
    # visible a minute later, its receives counted from one again.
    assert postman.run_sender([record]) == {"batchItemFailures": []}
    [again] = queued
    assert again["QueueUrl"] == clean_aws["BulkEmailQueue"]
    assert again["MessageBody"] == message["Body"]
    assert again["DelaySeconds"] == 60
    postman.delete([message])
    entry = log_entry(operator)
    assert entry["status"] == "queued"
    assert entry["error"] == "throttled by SES (Throttling) on attempt 5: queued again"
    attributes = postman.sqs.get_queue_attributes(
        QueueUrl=clean_aws["BulkEmailQueue"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert waiting(clean_aws["EmailDeadLetterQueue"]) == []

    # A minute later SES has room again: the copy (the same request) is sent, once.
    ses_down_for.clear()
    copy = dict(record, body=again["MessageBody"], attributes={"ApproximateReceiveCount": "1"})
    assert postman.run_sender([copy]) == {"batchItemFailures": []}
    assert postman.run_sender([copy]) == {"batchItemFailures": []}
    assert len(postman.sent_to(MARIO)) == 1
    assert log_entry(operator)["status"] == "sent"


# ---- the template ------------------------------------------------------------------------


def _sender() -> dict:
    return template.load()["Resources"]["EmailSenderFunction"]["Properties"]


def _rates() -> dict[str, dict[str, int]]:
    return template.load().get("Mappings", {}).get("SendRates", {})


def test_the_send_rate_parameter_starts_at_the_sandbox_exit_rate():
    parameter = template.load()["Parameters"]["SesMaxSendRate"]
    assert int(parameter["Default"]) == 14  # a string: SAM CLI's loop expander needs one
    assert sorted(int(rate) for rate in parameter["AllowedValues"]) == sorted(
        int(rate) for rate in _rates()
    )


def test_each_queue_has_its_mapping_transactional_first_with_concurrency_from_the_rate():
    events = list(_sender()["Events"].values())
    queues = [event["Properties"]["Queue"].value for event in events]
    assert queues == ["EmailQueue.Arn", "BulkEmailQueue.Arn"]  # the local stack's order
    for event, column in zip(events, ("TransactionalSenders", "BulkSenders"), strict=True):
        concurrency = event["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        assert concurrency.name == "FindInMap"
        assert concurrency.value[0] == "SendRates" and concurrency.value[2] == column
        assert concurrency.value[1] == template.Tag("Ref", "SesMaxSendRate")
        assert "ReportBatchItemFailures" in event["Properties"]["FunctionResponseTypes"]


@pytest.mark.parametrize("rate", sorted(_rates(), key=int))
def test_at_every_rate_the_senders_together_stay_within_it(rate):
    row = _rates()[rate]
    transactional, bulk, senders = row["TransactionalSenders"], row["BulkSenders"], row["Senders"]
    assert transactional >= 2 and bulk >= 2  # AWS's least MaximumConcurrency
    assert senders == transactional + bulk
    # Each sender paces itself to rate / senders, so all of them at once make the rate:
    # the transactional queue keeps at least 4 a second whatever a campaign does, and a
    # campaign gets most of the rate.
    pace = int(rate) / senders
    assert transactional * pace >= 4
    assert bulk * pace >= int(rate) / 2
    # Within what one sender can do (about 10 a second), and a batch of 10 well within
    # the function's timeout.
    assert pace <= 5
    assert 10 / pace <= _sender()["Timeout"] / 2


def test_the_senders_reserved_concurrency_is_what_the_two_mappings_may_use():
    rate = template.Tag("Ref", "SesMaxSendRate")
    reserved = _sender()["ReservedConcurrentExecutions"]
    assert reserved == template.Tag("FindInMap", ["SendRates", rate, "Senders"])


def test_the_sender_is_told_the_rate_and_how_many_senders_share_it():
    environment = template.function_environment("EmailSenderFunction", {})
    assert environment["SES_MAX_SEND_RATE"] == "14"
    assert environment["EMAIL_SENDERS"] == str(_rates()["14"]["Senders"])


def test_both_queues_redrive_to_the_dead_letter_queue_alike():
    resources = template.load()["Resources"]
    transactional, bulk = (resources[q]["Properties"] for q in ("EmailQueue", "BulkEmailQueue"))
    assert transactional["RedrivePolicy"] == bulk["RedrivePolicy"]
    assert transactional["RedrivePolicy"]["deadLetterTargetArn"].value == "EmailDeadLetterQueue.Arn"
    assert transactional["VisibilityTimeout"] == bulk["VisibilityTimeout"]
    assert transactional["KmsMasterKeyId"] == bulk["KmsMasterKeyId"]
