"""Enqueue, never send inline: an email request goes to SQS and into the account's log.

Two queues (`queue_url_for`): transactional emails never wait behind a bulk campaign.

The request carries what the sender needs to render it (template, language, recipient,
values) and an idempotency key, so a redelivered message is sent at most once. It never
carries a secret: an email with a temporary password or a link names it (`secret`) and
the sender creates it when it sends (email/issuing.py). So no password or token rests in
the queue, the dead-letter queue, a redrive or a log of either.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Literal

from portal_accounts import clients, clock
from portal_accounts.config import get_settings
from portal_accounts.models import CustomerModel, EmailLogModel
from portal_accounts.observability import count, logger
from portal_accounts.pagination import Page, decode_cursor, encode_cursor
from portal_accounts.validation import parse

QUEUED, SENT, FAILED = "queued", "sent", "failed"
# What SES said after it accepted the email (email/delivery.py).
DELIVERED, BOUNCED, COMPLAINED = "delivered", "bounced", "complained"

# What the sender creates at send time (EmailRequest.secret), and the variable it fills.
TEMPORARY_PASSWORD = "temporary_password"  # noqa: S105 - a kind, not a password
RESET_LINK = "reset_link"
SET_PASSWORD_LINK = "set_password_link"  # noqa: S105 - a kind, not a password
SECRET_VARIABLES = {TEMPORARY_PASSWORD: "password", RESET_LINK: "link", SET_PASSWORD_LINK: "link"}
# Who an email is for (EmailRequest.recipient): the customer's current address, or the
# login itself (a forgot-password link goes to the username).
Recipient = Literal["customer", "login"]
CUSTOMER: Recipient = "customer"
LOGIN: Recipient = "login"


@dataclass(frozen=True, kw_only=True)
class EmailRequest:
    """The queue message.

    `secret`: what the sender creates when it sends ("" for nothing), for the account's
    customer `customer_id`, and only while the request still holds (email/issuing.py):
    the account is at `credential_version` (for a link the version it was queued at, for
    a temporary password the one the operator's request left it at); `to` is still where
    it is for (`recipient`: the customer's current email, or the login itself); and a
    link request is younger than its link's lifetime (`queued_at`, clock.precise).

    Messages queued before a field existed get its default: a link request without
    `credential_version` and `queued_at` is never sent (it can prove neither).
    """

    username: str
    email_id: str
    template_id: str
    locale: str
    to: str
    variables: dict[str, str]
    idempotency_key: str
    secret: str = ""
    customer_id: str = ""
    credential_version: int = 0
    queued_at: str = ""
    recipient: Recipient = CUSTOMER

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_payload(cls, payload: object) -> EmailRequest:
        """The request from a decoded message; validation.Invalid if it is not one."""
        return parse(cls, payload, where="message", unknown="ignore")


# Templates whose emails go out by the thousand (an onboarding's credentials): the bulk queue.
BULK_TEMPLATES = frozenset({"account_credentials"})


def queue_url_for(template_id: str) -> str:
    """The queue an email waits in, by its kind: the one place that decides.

    Credentials emails (BULK_TEMPLATES) are the bulk queue's: a campaign sends them by the
    hundred thousand, for hours at SES's rate, and any one of them may wait. Every other
    email is transactional (a reset link valid an hour, an operator's new password, a
    "password changed" notice; the forgot-password requests that lead to reset links,
    recovery.request_reset): someone is waiting for it, so it has its own queue, drained
    first, with senders a campaign cannot take (template.yaml SendRates). A template not
    named in BULK_TEMPLATES is transactional: one email too many in the fast lane costs
    less than a reset link late. Neither queue ever holds a secret (EmailRequest.secret
    names it).
    """
    settings = get_settings()
    return (
        settings.email_bulk_queue_url if template_id in BULK_TEMPLATES else settings.email_queue_url
    )


def locale_for(customer: CustomerModel) -> str:
    return customer.locale or get_settings().default_locale


def base_variables(first_name: str, username: str) -> dict[str, str]:
    """The variables every template has."""
    settings = get_settings()
    return {
        "first_name": first_name,
        "username": username,
        "business_name": settings.business_name,
        "portal_url": settings.storefront_base_url,
    }


@dataclass
class Outgoing:
    """An email ready to go: its log entry (to write, possibly in the caller's
    transaction) and the queue message (to send once that write has happened)."""

    entry: EmailLogModel
    request: EmailRequest


def prepare(
    *,
    username: str,
    template_id: str,
    locale: str,
    to: str,
    variables: dict[str, str],
    secret: str = "",
    customer_id: str = "",
    credential_version: int = 0,
    recipient: Recipient = CUSTOMER,
) -> Outgoing:
    """The log entry and the request; refuses (ValueError) a secret among the variables,
    or a secret without the credential version it is for."""
    if carried := set(variables) & set(SECRET_VARIABLES.values()):
        raise ValueError(f"a queue message never carries {sorted(carried)}: name a secret")
    if secret and secret not in SECRET_VARIABLES:
        raise ValueError(f"unknown secret {secret!r}")
    if secret and not credential_version:
        raise ValueError("a secret is only for the credential version it was asked for")
    now = clock.now()
    entry = EmailLogModel(
        username=username,
        email_id=clock.sortable_id(now, secrets.token_hex(6)),
        template_id=template_id,
        locale=locale,
        to=to,
        status=QUEUED,
        queued_at=now,
        attempts=0,
        expires_at=now + timedelta(days=get_settings().email_log_retention_days),
    )
    request = EmailRequest(
        username=username,
        email_id=entry.email_id,
        template_id=template_id,
        locale=locale,
        to=to,
        variables=variables,
        idempotency_key=f"{username}|{entry.email_id}",
        secret=secret,
        customer_id=customer_id,
        credential_version=credential_version,
        queued_at=clock.precise(now),
        recipient=recipient,
    )
    return Outgoing(entry, request)


def send_request(request: EmailRequest, *, delay_seconds: int = 0) -> None:
    """Put the request on its queue (queue_url_for)."""
    clients.sqs().send_message(
        QueueUrl=queue_url_for(request.template_id),
        MessageBody=request.to_json(),
        DelaySeconds=delay_seconds,
    )


def dispatch(outgoing: Outgoing) -> None:
    """Put the request on its queue; if that fails, the log says so.

    Counts EmailQueued (and ResetLinkRequested for a reset link) once queued: every new
    email passes here, a sender's requeue after SES throttling (send_request) does not."""
    try:
        send_request(outgoing.request)
    except Exception:
        outgoing.entry.update(
            actions=[
                EmailLogModel.status.set(FAILED),
                EmailLogModel.error.set("could not be queued"),
            ]
        )
        raise
    count("EmailQueued")
    if outgoing.request.secret == RESET_LINK:  # forgot password, an operator's reset_link
        count("ResetLinkRequested")


def dispatch_notice(outgoing: Outgoing) -> None:
    """Queue a notice about a change that is already made ("your password was changed"):
    if the queue refuses it, the log says so and the change still stands, so the request
    that made it must not fail (its retry would find the link used or the password
    changed)."""
    try:
        dispatch(outgoing)
    except Exception as error:  # the log entry says "failed" when it could be written
        logger.warning(
            "notice not queued",
            extra={"template_id": outgoing.entry.template_id, "error": type(error).__name__},
        )


def enqueue(**kwargs) -> EmailLogModel:
    outgoing = prepare(**kwargs)
    outgoing.entry.save()
    dispatch(outgoing)
    return outgoing.entry


def list_log(username: str, *, limit: int, cursor: str | None) -> Page:
    start = decode_cursor(cursor, {"username": username}, ("email_id",))
    results = EmailLogModel.query(
        username, scan_index_forward=False, limit=limit, last_evaluated_key=start
    )
    items = [
        {
            "template_id": entry.template_id,
            "to": entry.to,
            "status": entry.status,
            "queued_at": clock.iso(entry.queued_at),
            "sent_at": clock.iso(entry.sent_at),
            "error": entry.error,
            "bounce_type": entry.bounce_type,
            "bounce_subtype": entry.bounce_subtype,
            "diagnostic": entry.diagnostic,
            "reported_at": clock.iso(entry.event_at),
        }
        for entry in results
    ]
    return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))
