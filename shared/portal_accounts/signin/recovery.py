"""Self-service recovery (F5): forgot password → emailed link → new password.

The API side of "forgot" only validates the address and queues a request, so it answers
the same, in the same time, whether or not the account exists. The sender function
then does the rest (`process_forgot`): nothing for unknown, disabled or unlinked
accounts, at most one email per FORGOT_PASSWORD_MIN_INTERVAL_SECONDS (a conditional
write, so a burst cannot slip through), a new link that replaces the old one.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta

from pynamodb.expressions.condition import size

from portal_accounts import audit, clients, clock
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.credentials import links, passwords
from portal_accounts.credentials.passwords import verify_password
from portal_accounts.dynamodb import TransactionCancelled, transaction
from portal_accounts.email import outbox
from portal_accounts.errors import InvalidInput, InvalidLink, PasswordReused
from portal_accounts.models import (
    AccountModel,
    LinkTokenModel,
    ThrottleModel,
    linked_customers,
    login_throttle_key,
)
from portal_accounts.signin.auth import password_changed_email
from portal_accounts.usernames import normalise_email
from portal_accounts.validation import parse

FORGOT_KIND = "forgot_password"


@dataclass(frozen=True, kw_only=True)
class ForgotRequest:
    """The queue message of a forgot-password request (the sender decides what to send)."""

    kind: str = FORGOT_KIND
    username: str
    idempotency_key: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_payload(cls, payload: object) -> ForgotRequest:
        return parse(cls, payload, where="message", unknown="ignore")


def request_reset(raw_email: str) -> None:
    """POST /auth/password/forgot: one queue message, whatever the address."""
    try:
        username = normalise_email(raw_email)
    except ValueError as error:
        raise InvalidInput(
            f"The email is not valid: {error}",
            errors=[{"field": "email", "reason": str(error)}],
        ) from None
    message = ForgotRequest(username=username, idempotency_key=secrets.token_hex(16))
    clients.sqs().send_message(
        QueueUrl=get_settings().email_queue_url, MessageBody=message.to_json()
    )


def process_forgot(username: str, *, retries: int = 2) -> outbox.Outgoing | None:
    """In the sender: queue the link email, when the account qualifies.

    Decided on the account as read (active, linked, on the same credential version): if it
    changed meanwhile, the request is decided again. The link itself is issued when its
    email is sent (email/issuing.py), on its own conditions."""
    try:
        account = AccountModel.get(username, consistent_read=True)
    except AccountModel.DoesNotExist:
        return None
    customers = linked_customers(account)
    if account.status != "active" or not customers:
        return None
    settings = get_settings()
    now = clock.now()
    quiet_since = now - timedelta(seconds=settings.forgot_password_min_interval_seconds)
    first_id, first = next(iter(customers.items()))
    # The link itself is issued by the sender when it sends (email/issuing.py): no token
    # waits in the queue.
    outgoing = outbox.prepare(
        username=account.username,
        template_id="password_reset_link",
        locale=first.get("locale") or settings.default_locale,
        to=account.username,
        variables={
            **outbox.base_variables(first["first_name"], account.username),
            "link_valid_minutes": str(max(1, round(settings.reset_link_ttl_seconds / 60))),
        },
        secret=outbox.RESET_LINK,
        customer_id=first_id,
        credential_version=int(account.credential_version),
        recipient=outbox.LOGIN,
    )
    try:
        with transaction() as tx:
            tx.update(
                account,
                actions=[AccountModel.last_forgot_at.set(now)],
                condition=(
                    AccountModel.last_forgot_at.does_not_exist()
                    | (AccountModel.last_forgot_at <= quiet_since)
                )
                & (AccountModel.credential_version == int(account.credential_version))
                & (AccountModel.status == "active")
                & (size(AccountModel.customers) == len(customers)),
            )
            tx.save(
                audit.build_event(
                    audit.account_subject(account.username),
                    Actor.customer(account.username),
                    "password.reset_requested",
                )
            )
            tx.save(outgoing.entry)
    except TransactionCancelled:
        fresh = AccountModel.get(username, consistent_read=True)
        if (fresh.last_forgot_at and fresh.last_forgot_at > quiet_since) or not retries:
            return None  # an email went out less than the interval ago
        return process_forgot(username, retries=retries - 1)  # the account changed: again
    return outgoing


def verify_link(token: str) -> None:
    links.verify(token)


def reset_password(token: str, *, password: str, confirmation: str) -> None:
    """Consume the link: exactly one caller wins, even racing; the rest get 410."""
    verified = links.verify(token)
    account, item = verified.account, verified.token
    passwords.confirm(password, confirmation)
    passwords.check_for(account, password)
    if verify_password(account.password_hash, password):
        # An emailed or operator-known password must not become permanent this way. Not
        # an oracle worth a throttle: any other guess resets the password and uses up the
        # link (one guess per link, and a notice); audited all the same.
        audit.record(
            audit.account_subject(account.username),
            Actor.customer(account.username),
            "password.reset_refused",
            details={"reason": "password_reused"},
        )
        raise PasswordReused(errors=[{"field": "password", "reason": "reused"}])
    email = password_changed_email(account, clock.now())
    try:
        with transaction() as tx:
            tx.delete(item, condition=LinkTokenModel.token_hash.exists())
            tx.update(
                account,
                actions=[
                    *passwords.set_actions(password, temporary=False),
                    AccountModel.live_links[item.purpose].remove(),
                ],
                condition=(AccountModel.live_links[item.purpose] == item.token_hash)
                & (AccountModel.credential_version == int(item.credential_version)),
            )
            # A reset clears the login throttle: throttling never blocks recovery.
            tx.delete(ThrottleModel(login_throttle_key(account.username)))
            customer = Actor.customer(account.username)
            tx.save(
                audit.build_event(
                    audit.account_subject(account.username),
                    customer,
                    "password.reset_completed",
                    details={"link": item.purpose},
                )
            )
            tx.save(
                audit.sessions_revoked(account.username, customer, cause="password.reset_completed")
            )
            tx.save(email.entry)
    except TransactionCancelled:
        raise InvalidLink(
            "This link is not valid any more: request a new one from the login page."
        ) from None
    outbox.dispatch_notice(email)
