"""The emails emulated SES has sent, for GET /_local/emails; and the verified sender.

moto keeps every sent message in its SES backend (SES v2 stores there too), but for a
message with both a text and an HTML body it keeps only the HTML, and no time. So the send
calls are wrapped once, in this process, to note both bodies and the time of each message.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import getaddresses, parseaddr

import boto3
from moto.ses import models as ses_models
from moto.ses.responses import EmailResponse
from moto.sesv2.responses import SESV2Response

_pending = threading.local()  # the bodies of the send call being served
_noted: dict[str, dict] = {}  # message id -> {sent_at, text, html}
_lock = threading.Lock()
_installed = False
# Called after each SES v2 send: (message id, recipients, configuration set, tags), in the
# emulated AWS's thread (local/ses_events.py hands the work to a thread of its own).
_listeners: list = []


def on_sent(listener) -> Callable[[], None]:
    """Call `listener(message_id, recipients, configuration_set, tags)` after each send;
    returns what stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def _note_bodies(text: str | None, html: str | None) -> None:
    _pending.bodies = (text, html)


def _note_sending(params: dict) -> None:
    destination = params.get("Destination") or {}
    _pending.sending = (
        [*destination.get("ToAddresses", []), *destination.get("CcAddresses", [])],
        params.get("ConfigurationSetName") or "",
        {tag.get("Name"): tag.get("Value") for tag in params.get("EmailTags") or []},
    )


def _wrap_response(original, read_bodies):
    def send_email(self, *args, **kwargs):
        try:
            _note_bodies(*read_bodies(self))
        except (ValueError, KeyError, TypeError, AttributeError):
            _note_bodies(None, None)
        try:
            return original(self, *args, **kwargs)
        finally:
            _pending.bodies = (None, None)
            _pending.sending = None

    return send_email


def _sesv2_bodies(response: SESV2Response) -> tuple[str | None, str | None]:
    params = json.loads(response.body)
    _note_sending(params)
    body = params.get("Content", {}).get("Simple", {}).get("Body", {})
    return body.get("Text", {}).get("Data"), body.get("Html", {}).get("Data")


def _ses_bodies(response: EmailResponse) -> tuple[str | None, str | None]:
    return (
        response._get_param("Message.Body.Text.Data"),
        response._get_param("Message.Body.Html.Data"),
    )


def _wrap_backend(original):
    def send(self, *args, **kwargs):
        message = original(self, *args, **kwargs)
        text, html = getattr(_pending, "bodies", (None, None))
        with _lock:
            _noted[message.id] = {
                "sent_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "text": text,
                "html": html,
            }
        sending = getattr(_pending, "sending", None)
        if sending:
            for listener in _listeners:
                listener(message.id, *sending)
        return message

    return send


def install() -> None:
    """Wrap moto's SES send calls (idempotent). Call before anything is sent."""
    global _installed
    if _installed:
        return
    SESV2Response.send_email = _wrap_response(SESV2Response.send_email, _sesv2_bodies)
    EmailResponse.send_email = _wrap_response(EmailResponse.send_email, _ses_bodies)
    backend = ses_models.SESBackend
    backend.send_email = _wrap_backend(backend.send_email)
    backend.send_raw_email = _wrap_backend(backend.send_raw_email)
    _installed = True


def verify_sender(address: str) -> None:
    """Verify the sender's domain and address in emulated SES (v1 and v2 share identities)."""
    _, plain = parseaddr(address)
    plain = plain or "no-reply@example.com"
    domain = plain.rpartition("@")[2] or "example.com"
    sesv2 = boto3.client("sesv2")
    ses = boto3.client("ses")
    existing = {i["IdentityName"] for i in sesv2.list_email_identities()["EmailIdentities"]}
    if domain not in existing:
        sesv2.create_email_identity(EmailIdentity=domain)
    ses.verify_domain_identity(Domain=domain)
    ses.verify_email_identity(EmailAddress=plain)


def _first_address(values: list[str]) -> str | None:
    addresses = [address for _, address in getaddresses(values) if address]
    return addresses[0] if addresses else None


def _simple(message: ses_models.Message) -> dict:
    noted = _noted.get(message.id, {})
    destinations = message.destinations or {}
    recipients = [
        *destinations.get("ToAddresses", []),
        *destinations.get("CcAddresses", []),
        *destinations.get("BccAddresses", []),
    ]
    text, html = noted.get("text"), noted.get("html")
    if text is None and html is None:
        looks_html = message.body.lstrip().startswith("<")
        text, html = (None, message.body) if looks_html else (message.body, None)
    return {
        "to": _first_address(recipients),
        "subject": message.subject,
        "text": text,
        "html": html,
        "sent_at": noted.get("sent_at"),
    }


def _raw(message: ses_models.RawMessage) -> dict:
    parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
    parts = {"text/plain": None, "text/html": None}
    for part in parsed.walk():
        kind = part.get_content_type()
        if kind in parts and parts[kind] is None and not part.is_attachment():
            parts[kind] = part.get_content()
    return {
        "to": _first_address(list(message.destinations) or [parsed.get("To", "")]),
        "subject": parsed.get("Subject"),
        "text": parts["text/plain"],
        "html": parts["text/html"],
        "sent_at": _noted.get(message.id, {}).get("sent_at"),
    }


def sent_emails() -> list[dict]:
    """Every email sent so far, oldest first: [{to, subject, text, html, sent_at}]."""
    found: list[dict] = []
    for account_id in list(ses_models.ses_backends.keys()):
        for region in list(ses_models.ses_backends[account_id].keys()):
            backend = ses_models.ses_backends[account_id][region]
            for message in list(backend.sent_messages):
                if isinstance(message, ses_models.RawMessage):
                    found.append(_raw(message))
                elif isinstance(message, ses_models.Message):
                    found.append(_simple(message))
    # One region in practice; across several, order by the noted time.
    found.sort(key=lambda item: item["sent_at"] or "")
    return found
