"""SES's event publishing, locally: the mailbox simulator's events, to the template's rules.

On AWS, an email sent with a configuration set whose event destination is EventBridge
comes back as events ("Email Delivered", "Email Bounced", ...) that the template's
EventBridgeRule events hand to their functions (email_events). Here, SES is emulated and
delivers nothing anywhere, so events are made for SES's mailbox simulator addresses only,
as SES makes them for those addresses (a "+label" is allowed, as on SES):

- success@simulator.amazonses.com: delivered;
- bounce@...: a permanent bounce (550 5.1.1 user unknown);
- complaint@...: delivered, then a complaint (abuse);
- suppressionlist@...: a permanent bounce, the address being on the suppression list;
- ooto@...: delivered (the out-of-office reply goes to the sender, not to the log).

Any other address gets no event: its log entry stays `sent`, as it would on AWS until
its receiving server answers. Events are handed over in a thread of their own, in order,
after the send call has returned (as EventBridge does, moments later); a function that
raises gets the event again twice, as Lambda retries an asynchronous invocation.
"""

from __future__ import annotations

import queue
import sys
import threading
import traceback
import uuid
from datetime import UTC, datetime

from local import mailbox, template
from local.lambdas import ACCOUNT_ID, Function

SIMULATOR_DOMAIN = "simulator.amazonses.com"
RETRIES = 2
DETAIL_TYPES = {
    "Delivery": "Email Delivered",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Reject": "Email Rejected",
    "DeliveryDelay": "Email Delivery Delayed",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def simulated(address: str) -> list[tuple[str, dict]]:
    """The events SES's mailbox simulator makes for an address: [(eventType, section)]."""
    local, _, domain = address.lower().partition("@")
    if domain != SIMULATOR_DOMAIN:
        return []
    mailbox_name = local.partition("+")[0]
    delivered = (
        "Delivery",
        {
            "timestamp": _now(),
            "recipients": [address],
            "processingTimeMillis": 120,
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "local-ses",
        },
    )

    def bounce(subtype: str, status: str, diagnostic: str) -> tuple[str, dict]:
        return (
            "Bounce",
            {
                "bounceType": "Permanent",
                "bounceSubType": subtype,
                "bouncedRecipients": [
                    {
                        "emailAddress": address,
                        "action": "failed",
                        "status": status,
                        "diagnosticCode": diagnostic,
                    }
                ],
                "timestamp": _now(),
                "feedbackId": str(uuid.uuid4()),
            },
        )

    if mailbox_name in ("success", "ooto"):
        return [delivered]
    if mailbox_name == "bounce":
        return [bounce("General", "5.1.1", "smtp; 550 5.1.1 user unknown")]
    if mailbox_name == "suppressionlist":
        return [
            bounce(
                "OnAccountSuppressionList",
                "5.1.1",
                "Amazon SES did not send the message to this address because it is on the "
                "suppression list for your account.",
            )
        ]
    if mailbox_name == "complaint":
        complaint = {
            "complainedRecipients": [{"emailAddress": address}],
            "timestamp": _now(),
            "feedbackId": str(uuid.uuid4()),
            "complaintFeedbackType": "abuse",
        }
        return [delivered, ("Complaint", complaint)]
    return []


def event_for(
    kind: str,
    section: dict,
    *,
    message_id: str,
    recipients: list[str],
    configuration_set: str,
    tags: dict[str, str],
    region: str,
) -> dict:
    """The EventBridge event SES publishes for one of its events."""
    all_tags = {"ses:configuration-set": [configuration_set]}
    all_tags.update({name: [value] for name, value in tags.items()})
    detail = {
        "eventType": kind,
        "mail": {
            "timestamp": _now(),
            "source": "local",
            "sendingAccountId": ACCOUNT_ID,
            "messageId": message_id,
            "destination": recipients,
            "tags": all_tags,
        },
        kind[:1].lower() + kind[1:]: section,
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPES[kind],
        "source": "aws.ses",
        "account": ACCOUNT_ID,
        "time": _now(),
        "region": region,
        "resources": [f"arn:aws:ses:{region}:{ACCOUNT_ID}:configuration-set/{configuration_set}"],
        "detail": detail,
    }


def simulator_events(
    message_id: str, recipients: list[str], configuration_set: str, tags: dict, region: str
) -> list[dict]:
    """The EventBridge events SES publishes for one send to the simulator's addresses."""
    return [
        event_for(
            kind,
            section,
            message_id=message_id,
            recipients=recipients,
            configuration_set=configuration_set,
            tags=tags,
            region=region,
        )
        for address in recipients
        for kind, section in simulated(address)
    ]


def targets(functions: dict[str, Function]) -> list[Function]:
    """The functions an EventBridgeRule of the template hands SES's events to."""
    found = []
    for logical_id, resource in template.resources("AWS::Serverless::Function").items():
        for event in (resource["Properties"].get("Events") or {}).values():
            pattern = (event.get("Properties") or {}).get("Pattern") or {}
            is_ses_rule = event.get("Type") == "EventBridgeRule" and "aws.ses" in (
                pattern.get("source") or []
            )
            if is_ses_rule and logical_id in functions:
                found.append(functions[logical_id])
    return found


class Publisher(threading.Thread):
    """Turns simulator sends into events and invokes the rules' functions with them."""

    def __init__(self, functions: list[Function], region: str, log=None) -> None:
        super().__init__(name="ses-events", daemon=True)
        self.functions = functions
        self.region = region
        self._events: queue.Queue[dict | None] = queue.Queue()
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))

    def sent(
        self, message_id: str, recipients: list[str], configuration_set: str, tags: dict
    ) -> None:
        """mailbox's listener: runs in the emulated AWS's thread, so it only queues."""
        if not configuration_set:
            return  # no configuration set, no events (as on SES)
        for event in simulator_events(message_id, recipients, configuration_set, tags, self.region):
            self._events.put(event)

    def stop(self) -> None:
        self._events.put(None)

    def run(self) -> None:
        while (event := self._events.get()) is not None:
            for function in self.functions:
                for attempt in range(1 + RETRIES):
                    try:
                        function.invoke(event)
                        break
                    except Exception:
                        self._log(
                            f"ses events: {function.logical_id} raised on attempt {attempt + 1}:\n"
                            f"{traceback.format_exc()}"
                        )


def start(functions: dict[str, Function], region: str) -> Publisher:
    publisher = Publisher(targets(functions), region)
    mailbox.on_sent(publisher.sent)
    publisher.start()
    return publisher
