"""Delivery states (issue 12): SES's events, through the email_events function, tell the
operator what happened to an email after SES accepted it.

Every email goes out with the configuration set and a tag naming its log entry; each
event type moves the entry forward (delivered, bounced with its type and diagnostic,
complained; rejected is failed; a delay is a note), never backwards, duplicates change
nothing, events for unknown messages are ignored, and a hard bounce to an address the
account still uses shows in the account's detail. The events are the ones SES publishes
to EventBridge for its mailbox simulator's addresses (local/ses_events.py builds them the
same way for the local stack)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import UpdateError

from functions.email_events.app import handler as events_handler
from local import mailbox, ses_events
from portal_accounts import clients
from portal_accounts.config import get_settings
from portal_accounts.email import delivery
from portal_accounts.models import EmailLogModel, EmailRefModel
from tests.helpers import FakeContext
from tests.metrics import captured
from tests.unit.clients import Operator
from tests.unit.test_email_sender import fail_sends_to

CONFIGURATION_SET = "EmailConfigurationSet"
SUCCESS = "success@simulator.amazonses.com"
BOUNCE = "bounce@simulator.amazonses.com"
COMPLAINT = "complaint@simulator.amazonses.com"


@pytest.fixture
def sends(monkeypatch, postman):
    """The configuration set on, and every SES send noted: [(message id, recipients,
    configuration set, tags)]."""
    monkeypatch.setenv("SES_CONFIGURATION_SET", CONFIGURATION_SET)
    get_settings.cache_clear()
    noted: list[tuple] = []
    stop = mailbox.on_sent(lambda *sent: noted.append(sent))
    yield noted
    stop()
    get_settings.cache_clear()


def emailed(desk, postman, address: str) -> str:
    """A login for a customer with this address, its credentials email sent; the username."""
    customer_id, username = desk.account_for("Mario", "Rossi", address)
    postman.drain()  # whatever creating it queued
    send_credentials(customer_id, postman)
    return username


def send_credentials(customer_id: str, postman) -> None:
    assert Operator().send_credentials(customer_id)["statusCode"] == 202
    postman.drain()


def events_for(sent: tuple) -> list[dict]:
    """The EventBridge events SES publishes for a send to the simulator's addresses."""
    return ses_events.simulator_events(*sent, region="eu-south-1")


def publish(event: dict) -> str:
    return events_handler(event, FakeContext())["outcome"]


def latest(username: str) -> dict:
    return Operator().emails(username)["json"]["items"][0]


def event(kind: str, sent: tuple, **section) -> dict:
    message_id, recipients, configuration_set, tags = sent
    return ses_events.event_for(
        kind,
        {"timestamp": "2026-12-07T10:00:00.000Z", **section},
        message_id=message_id,
        recipients=recipients,
        configuration_set=configuration_set,
        tags=tags,
        region="eu-south-1",
    )


# ---- every send carries the configuration set and a ref to its entry ----------------------


def test_each_send_names_the_configuration_set_and_its_log_entry(desk, postman, sends):
    username = emailed(desk, postman, SUCCESS)
    [(_, recipients, configuration_set, tags)] = sends
    assert recipients == [SUCCESS]
    assert configuration_set == CONFIGURATION_SET
    [entry] = EmailLogModel.query(username)
    assert tags == {"email_ref": delivery.ref_for(username, entry.email_id)}
    ref = EmailRefModel.get(f"ref#{tags['email_ref']}", "ref")
    assert (ref.entry_username, ref.entry_email_id) == (username, entry.email_id)
    assert ref.expires_at is not None  # cleaned up with its entry


def test_without_a_configuration_set_nothing_is_tagged(desk, postman):
    noted: list[tuple] = []
    mailbox._listeners.append(lambda *sent: noted.append(sent))
    try:
        emailed(desk, postman, SUCCESS)
    finally:
        mailbox._listeners.clear()
    [(_, _, configuration_set, tags)] = noted
    assert (configuration_set, tags) == ("", {})


# ---- each event type --------------------------------------------------------------------


def test_a_delivery_makes_the_email_delivered(desk, postman, sends):
    username = emailed(desk, postman, SUCCESS)
    assert latest(username)["status"] == "sent"
    [delivered] = events_for(sends[0])
    assert publish(delivered) == "updated"
    entry = latest(username)
    assert entry["status"] == "delivered"
    assert entry["sent_at"] and entry["reported_at"]
    assert entry["error"] is None


def test_a_hard_bounce_says_its_type_and_the_servers_diagnostic(desk, postman, sends):
    username = emailed(desk, postman, BOUNCE)
    [bounced] = events_for(sends[0])
    assert publish(bounced) == "updated"
    entry = latest(username)
    assert entry["status"] == "bounced"
    assert entry["bounce_type"] == "Permanent"
    assert entry["bounce_subtype"] == "General"
    assert entry["diagnostic"] == "smtp; 550 5.1.1 user unknown"
    assert entry["reported_at"].startswith("20")


def test_a_complaint_after_the_delivery_makes_it_complained(desk, postman, sends):
    username = emailed(desk, postman, COMPLAINT)
    delivered, complained = events_for(sends[0])
    assert publish(delivered) == "updated"
    assert latest(username)["status"] == "delivered"
    assert publish(complained) == "updated"
    entry = latest(username)
    assert entry["status"] == "complained"
    assert entry["diagnostic"] == "complaint: abuse"


def test_a_reject_is_a_failure_with_its_reason(desk, postman, sends):
    username = emailed(desk, postman, SUCCESS)
    assert publish(event("Reject", sends[0], reason="Bad content")) == "updated"
    entry = latest(username)
    assert entry["status"] == "failed"
    assert entry["error"] == "rejected by SES: Bad content"


def test_a_delivery_delay_is_a_note_on_a_sent_email_and_a_delivery_clears_it(desk, postman, sends):
    username = emailed(desk, postman, SUCCESS)
    delay = event(
        "DeliveryDelay",
        sends[0],
        delayType="MailboxFull",
        expirationTime="2026-12-08T10:00:00.000Z",
    )
    assert publish(delay) == "updated"
    entry = latest(username)
    assert entry["status"] == "sent"
    assert entry["error"] == (
        "delivery delayed (MailboxFull); SES keeps trying until 2026-12-08T10:00:00.000Z"
    )
    [delivered] = events_for(sends[0])
    assert publish(delivered) == "updated"
    entry = latest(username)
    assert (entry["status"], entry["error"]) == ("delivered", None)


# ---- never backwards, duplicates change nothing -----------------------------------------


def test_a_duplicate_event_changes_nothing(desk, postman, sends):
    username = emailed(desk, postman, BOUNCE)
    [bounced] = events_for(sends[0])
    assert publish(bounced) == "updated"
    before = EmailLogModel.get(username, latest_id(username), consistent_read=True)
    assert publish(bounced) == "unchanged"
    after = EmailLogModel.get(username, latest_id(username), consistent_read=True)
    assert after.attribute_values == before.attribute_values


def latest_id(username: str) -> str:
    return next(iter(EmailLogModel.query(username, scan_index_forward=False))).email_id


@pytest.mark.parametrize(
    ("first", "then", "final"),
    [
        ("Complaint", "Delivery", "complained"),
        ("Bounce", "Delivery", "bounced"),
        ("Complaint", "Bounce", "complained"),
        ("Delivery", "DeliveryDelay", "delivered"),
        ("Delivery", "Reject", "delivered"),
    ],
)
def test_an_event_arriving_after_a_later_one_never_moves_the_state_back(
    desk, postman, sends, first, then, final
):
    username = emailed(desk, postman, SUCCESS)
    sections = {
        "Delivery": {},
        "Bounce": {"bounceType": "Permanent", "bounceSubType": "General"},
        "Complaint": {"complaintFeedbackType": "abuse"},
        "DeliveryDelay": {"delayType": "TransientCommunicationFailure"},
        "Reject": {"reason": "Bad content"},
    }
    assert publish(event(first, sends[0], **sections[first])) == "updated"
    assert publish(event(then, sends[0], **sections[then])) == "unchanged"
    assert latest(username)["status"] == final


def test_an_event_landing_before_the_sender_marks_it_sent_is_kept(
    desk, postman, sends, monkeypatch
):
    """SES can publish a delivery before the sender has written "sent": the entry stays
    delivered, with its sent time, and a redelivery of the message sends nothing."""
    client = clients.ses()
    original = type(client).send_email

    def send_and_report_at_once(**kwargs):
        response = original(client, **kwargs)
        for made in events_for(sends[-1]):
            assert publish(made) == "updated"
        return response

    monkeypatch.setattr(client, "send_email", send_and_report_at_once)
    username = emailed(desk, postman, SUCCESS)
    entry = latest(username)
    assert entry["status"] == "delivered"
    assert entry["sent_at"] is not None
    assert len(postman.sent_to(SUCCESS)) == 1


# ---- unknown and unreadable events ------------------------------------------------------


def log_items() -> int:
    return sum(1 for _ in EmailLogModel.scan())


def test_an_event_for_an_unknown_message_is_ignored_and_creates_nothing(desk, postman, sends):
    emailed(desk, postman, SUCCESS)
    items = log_items()
    message_id, recipients, configuration_set, _ = sends[0]
    unknown = (message_id, recipients, configuration_set, {"email_ref": "0" * 40})
    untagged = (message_id, recipients, configuration_set, {})
    assert publish(event("Delivery", unknown)) == "unknown"
    assert publish(event("Bounce", untagged, bounceType="Permanent")) == "unknown"
    assert log_items() == items


def test_an_event_whose_entry_expired_creates_nothing(desk, postman, sends):
    username = emailed(desk, postman, SUCCESS)
    EmailLogModel(username, latest_id(username)).delete()  # TTL took it
    items = log_items()
    [delivered] = events_for(sends[0])
    assert publish(delivered) == "unchanged"
    assert log_items() == items


@pytest.mark.parametrize(
    "detail",
    [None, "text", {"eventType": "Send"}, {"eventType": "Open"}, {"mail": {}}],
)
def test_events_that_are_not_delivery_events_are_ignored(clean_aws, detail):
    assert publish({"source": "aws.ses", "detail": detail}) == "ignored"


def test_an_aws_fault_fails_the_invocation_so_lambda_retries_it(desk, postman, sends, monkeypatch):
    username = emailed(desk, postman, SUCCESS)
    [delivered] = events_for(sends[0])

    def throttled(self, *args, **kwargs):
        raise UpdateError("throttled", cause=None)

    monkeypatch.setattr(EmailLogModel, "update", throttled)
    with pytest.raises(UpdateError):
        publish(delivered)
    monkeypatch.undo()
    assert latest(username)["status"] == "sent"


# ---- the account's detail shows a hard bounce -------------------------------------------


def test_a_hard_bounce_shows_in_the_accounts_detail_until_the_email_is_fixed(desk, postman, sends):
    username = emailed(desk, postman, SUCCESS)
    [customer_id] = [c["customer_id"] for c in desk.get_account(username)["json"]["customers"]]
    # The customer's address is changed to one that does not work; the next email bounces.
    assert desk.update_customer(customer_id, {"email": BOUNCE})["statusCode"] == 200
    send_credentials(customer_id, postman)
    assert desk.get_account(username)["json"]["undeliverable_emails"] == []
    [bounced] = events_for(sends[-1])
    assert publish(bounced) == "updated"
    [shown] = desk.get_account(username)["json"]["undeliverable_emails"]
    assert shown["address"] == BOUNCE
    assert shown["bounce_type"] == "Permanent"
    assert shown["bounce_subtype"] == "General"
    assert shown["diagnostic"] == "smtp; 550 5.1.1 user unknown"
    assert shown["bounced_at"]
    # The operator saves the customer's right address: the bounce no longer concerns it.
    assert desk.update_customer(customer_id, {"email": "mario@example.com"})["statusCode"] == 200
    assert desk.get_account(username)["json"]["undeliverable_emails"] == []


def test_a_hard_bounce_of_the_username_stays_shown_while_it_is_the_login(desk, postman, sends):
    """Forgot-password links go to the username: its bounce concerns the account for as
    long as it is the login, whatever the customer's email becomes."""
    username = emailed(desk, postman, BOUNCE)
    [bounced] = events_for(sends[0])
    publish(bounced)
    [customer_id] = [c["customer_id"] for c in desk.get_account(username)["json"]["customers"]]
    assert desk.update_customer(customer_id, {"email": "mario@example.com"})["statusCode"] == 200
    [shown] = desk.get_account(username)["json"]["undeliverable_emails"]
    assert shown["address"] == username == BOUNCE


def test_a_later_delivery_to_the_same_address_clears_the_warning(desk, postman, sends):
    username = emailed(desk, postman, SUCCESS)
    publish(event("Bounce", sends[0], bounceType="Permanent", bounceSubType="General"))
    assert len(desk.get_account(username)["json"]["undeliverable_emails"]) == 1
    [customer_id] = [c["customer_id"] for c in desk.get_account(username)["json"]["customers"]]
    send_credentials(customer_id, postman)
    [delivered] = events_for(sends[-1])
    assert publish(delivered) == "updated"
    assert desk.get_account(username)["json"]["undeliverable_emails"] == []


def test_a_soft_bounce_is_not_shown_as_undeliverable(desk, postman, sends):
    username = emailed(desk, postman, SUCCESS)
    publish(event("Bounce", sends[0], bounceType="Transient", bounceSubType="MailboxFull"))
    assert latest(username)["bounce_type"] == "Transient"
    assert desk.get_account(username)["json"]["undeliverable_emails"] == []


# ---- what is counted --------------------------------------------------------------------


def test_each_applied_state_is_counted_once_and_a_duplicate_not_at_all(desk, postman, sends):
    emailed(desk, postman, COMPLAINT)
    delivered, complained = events_for(sends[0])
    with captured() as emitted:
        publish(delivered)
        publish(delivered)
        publish(complained)
        publish(event("Bounce", sends[0], bounceType="Permanent"))  # after the complaint
    assert emitted.totals == {"EmailDelivered": 1, "EmailComplained": 1}


def test_a_bounce_is_counted(desk, postman, sends):
    emailed(desk, postman, BOUNCE)
    [bounced] = events_for(sends[0])
    with captured() as emitted:
        publish(bounced)
    assert emitted.totals == {"EmailBounced": 1}


def test_the_sender_counts_what_it_sent_failed_and_left_for_retry(
    desk, postman, sends, monkeypatch
):
    customer_id, _ = desk.account_for("Mario", "Rossi", SUCCESS)
    postman.drain()
    with captured() as emitted:
        send_credentials(customer_id, postman)
    assert emitted.totals == {"EmailQueued": 1, "EmailSent": 1}

    assert Operator().send_credentials(customer_id)["statusCode"] == 202
    fail_sends_to(monkeypatch, SUCCESS, "InternalFailure")
    with captured() as emitted:
        messages = postman.receive(visibility_timeout=0)  # back at once after a failure
        assert postman.deliver(messages)  # left for a retry
    assert emitted.totals == {"EmailRetried": 1}
    monkeypatch.setattr(clients.ses(), "send_email", rejecting)
    with captured() as emitted:
        assert not postman.deliver(postman.receive())  # rejected for good: consumed
    assert emitted.totals == {"EmailFailed": 1}


def rejecting(**kwargs):
    raise ClientError({"Error": {"Code": "MessageRejected", "Message": "test"}}, "SendEmail")
