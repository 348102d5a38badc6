"""What happened to an email after SES accepted it: SES's delivery events, in the log.

"Sent" only means SES took the message. Every email goes out with the stack's SES
configuration set (SES_CONFIGURATION_SET) and a tag `email_ref`; the set publishes its
delivery, bounce, complaint, reject and delivery-delay events to EventBridge, whose rule
invokes the email_events function with each one (template.yaml EmailConfigurationSet).
The tag names an EmailRefModel item, written before the send, which names the log entry;
`apply` moves that entry's state:

    queued -> sent -> delivered -> bounced -> complained       (failed: SES rejected it)

A state only moves forward, by a conditional write on the state it moves from, so a
duplicate event, or one that arrives after a later one (EventBridge does not keep
order), changes nothing. A delivery delay is a note on a sent email (SES keeps trying);
a reject is `failed`. Events for a message with no tag, an unknown ref or an entry that
has expired are ignored: nothing is created from an event.

A permanent ("hard") bounce to an address the account still uses is shown in the
account's detail (`undeliverable`), so the operator fixes the customer's email.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from portal_accounts import clock
from portal_accounts.dynamodb import condition_failed
from portal_accounts.email.outbox import BOUNCED, COMPLAINED, DELIVERED, FAILED, QUEUED, SENT
from portal_accounts.models import CustomerModel, EmailLogModel, EmailRefModel
from portal_accounts.observability import count, logger

REF_TAG = "email_ref"
REF_KIND = "ref"
# The delivery states in the order they may follow one another.
ORDER = (QUEUED, SENT, DELIVERED, BOUNCED, COMPLAINED)
PERMANENT = "Permanent"
DIAGNOSTIC_MAX_CHARS = 500
# How many of the account's latest emails its detail looks through for a hard bounce.
RECENT_EMAILS = 25


def ref_for(username: str, email_id: str) -> str:
    """The tag value naming a log entry: the same for every send of one request, and only
    letters and digits (SES tag values allow no "@" or "#")."""
    return hashlib.sha256(f"{username}|{email_id}".encode()).hexdigest()[:40]


def remember(username: str, email_id: str, expires_at: datetime | None) -> str:
    """Write the ref item for a log entry (before its send; again on a retry, the same)."""
    ref = ref_for(username, email_id)
    EmailRefModel(
        f"ref#{ref}",
        REF_KIND,
        entry_username=username,
        entry_email_id=email_id,
        expires_at=expires_at,
    ).save()
    return ref


def tags(ref: str) -> list[dict[str, str]]:
    """The SES v2 EmailTags of a send."""
    return [{"Name": REF_TAG, "Value": ref}]


@dataclass(frozen=True)
class Change:
    """What an event does to the entry: its new status, from which statuses, and the
    attributes it sets (None: removed)."""

    status: str
    after: tuple[str, ...]  # the statuses it may replace
    values: dict[str, str | None] = field(default_factory=dict)
    metric: str | None = None


def _before(status: str) -> tuple[str, ...]:
    return ORDER[: ORDER.index(status)]


def _text(value: object, limit: int = DIAGNOSTIC_MAX_CHARS) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


def change_for(detail: dict) -> Change | None:
    """The change an SES event (the EventBridge event's detail) asks for; None for an
    event type that does not concern the log (send, open, click)."""
    kind = detail.get("eventType") or detail.get("notificationType")
    if kind == "Delivery":
        return Change(DELIVERED, _before(DELIVERED), {"error": None}, "EmailDelivered")
    if kind == "Bounce":
        bounce = detail.get("bounce") or {}
        recipients = bounce.get("bouncedRecipients") or [{}]
        first = recipients[0] if isinstance(recipients[0], dict) else {}
        return Change(
            BOUNCED,
            _before(BOUNCED),
            {
                "bounce_type": _text(bounce.get("bounceType"), 40) or "Undetermined",
                "bounce_subtype": _text(bounce.get("bounceSubType"), 40),
                "diagnostic": _text(first.get("diagnosticCode") or first.get("status")),
                "error": None,
            },
            "EmailBounced",
        )
    if kind == "Complaint":
        complaint = detail.get("complaint") or {}
        feedback = _text(complaint.get("complaintFeedbackType"), 40)
        return Change(
            COMPLAINED,
            _before(COMPLAINED),
            {"diagnostic": f"complaint: {feedback}" if feedback else None, "error": None},
            "EmailComplained",
        )
    if kind == "Reject":
        reason = _text((detail.get("reject") or {}).get("reason"), 100) or "no reason given"
        return Change(FAILED, (QUEUED, SENT), {"error": f"rejected by SES: {reason}"})
    if kind == "DeliveryDelay":
        delay = detail.get("deliveryDelay") or {}
        why = _text(delay.get("delayType"), 40) or "unknown"
        until = _text(delay.get("expirationTime"), 40)
        note = f"delivery delayed ({why}); SES keeps trying" + (f" until {until}" if until else "")
        return Change(SENT, (QUEUED, SENT), {"error": note})
    return None


def _ref_of(detail: dict) -> str | None:
    values = ((detail.get("mail") or {}).get("tags") or {}).get(REF_TAG)
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def _entry_of(ref: str) -> tuple[str, str] | None:
    try:
        found = EmailRefModel.get(f"ref#{ref}", REF_KIND, consistent_read=True)
    except DoesNotExist:
        return None
    return found.entry_username, found.entry_email_id


def _event_time(event: dict, detail: dict) -> datetime:
    kind = str(detail.get("eventType") or "")
    section = detail.get(kind[:1].lower() + kind[1:]) if kind else None
    for raw in ((section or {}).get("timestamp"), event.get("time")):
        if isinstance(raw, str):
            try:
                moment = datetime.fromisoformat(raw)
            except ValueError:
                continue
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return clock.now()


def apply(event: dict) -> str:
    """Apply one EventBridge event from SES to the log; what happened: "updated",
    "unchanged" (a duplicate, or older than the entry's state), "unknown" (no entry),
    or "ignored" (not a delivery event)."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        logger.warning("delivery event without a detail: ignored")
        return "ignored"
    change = change_for(detail)
    if change is None:
        return "ignored"
    ref = _ref_of(detail)
    entry = _entry_of(ref) if ref else None
    if entry is None:
        # Not one of ours (another sender on the configuration set), or an entry that
        # expired: nothing to update, and nothing is created from an event.
        logger.info("delivery event for an unknown email: ignored", extra={"ref": ref})
        return "unknown"
    username, email_id = entry
    actions: list[Action] = [
        EmailLogModel.status.set(change.status),
        EmailLogModel.event_at.set(_event_time(event, detail)),
    ]
    for name, value in change.values.items():
        attribute = getattr(EmailLogModel, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    try:
        EmailLogModel(username, email_id).update(
            actions=actions,
            condition=EmailLogModel.username.exists() & EmailLogModel.status.is_in(*change.after),
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise  # AWS's fault: the invocation fails and is retried
        logger.info(
            "delivery event changes nothing",
            extra={"email_id": email_id, "event_status": change.status},
        )
        return "unchanged"
    if change.metric:
        count(change.metric)
    logger.info("delivery event applied", extra={"email_id": email_id, "status": change.status})
    return "updated"


@dataclass(frozen=True)
class Undeliverable:
    """An address of the account whose latest email bounced for good."""

    address: str
    bounce_type: str
    bounce_subtype: str | None
    diagnostic: str | None
    bounced_at: datetime | None


def undeliverable(username: str, customer_ids: list[str]) -> list[Undeliverable]:
    """The addresses the account still uses (the username, its customers' emails) whose
    latest email with a known outcome bounced permanently, among its RECENT_EMAILS.

    Each address is decided by its own log entries, so the log is read first and the
    customers only when a hard bounce went to an address other than the username (to know
    whether a customer still has it): an account's detail rarely pays that read."""
    decided: set[str] = set()
    bounced: list[EmailLogModel] = []
    for entry in EmailLogModel.query(username, scan_index_forward=False, limit=RECENT_EMAILS):
        address = entry.to.lower()
        if address in decided or entry.status not in (DELIVERED, BOUNCED, COMPLAINED):
            continue  # decided already, or no outcome known yet: an older one may still say
        decided.add(address)
        if entry.status == BOUNCED and entry.bounce_type == PERMANENT:
            bounced.append(entry)
    addresses = {username.lower()}
    if customer_ids and any(entry.to.lower() not in addresses for entry in bounced):
        addresses |= {c.email.lower() for c in CustomerModel.batch_get(customer_ids) if c.email}
    return [
        Undeliverable(
            address=entry.to,
            bounce_type=entry.bounce_type,
            bounce_subtype=entry.bounce_subtype,
            diagnostic=entry.diagnostic,
            bounced_at=entry.event_at,
        )
        for entry in bounced
        if entry.to.lower() in addresses
    ]
