"""Operator-triggered emails: credentials (F11) and password resets from a customer (F4).

Each flow writes its changes, its audit event and the email's log entry in one
transaction, then puts the email on the queue. The queued request names its secret (a
set-password or reset link, a temporary password) but never carries it: the sender
creates it when it sends (email/issuing.py), so no password or token waits in a queue.

What happens at once, when the operator gets the 202: for a new temporary password the
old password stops working and every session ends (the account gets the hash of a
password nobody knows, and a new credential version, which the request carries: the
sender emails a password only while the account is still at it). A link changes nothing
until the customer uses it; it is sent only while the account is at the version it was
queued at, and within its lifetime of being queued.
"""

from __future__ import annotations

import secrets

from portal_accounts import audit
from portal_accounts.accounts.customers import get_customer
from portal_accounts.accounts.lifecycle import get_account
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.credentials import passwords
from portal_accounts.dynamodb import TransactionCancelled, transaction
from portal_accounts.email import outbox
from portal_accounts.errors import NotFound, NoValidEmail, TemporarilyUnavailable
from portal_accounts.models import (
    AccountModel,
    AuditEventModel,
    CustomerModel,
    ThrottleModel,
    login_throttle_key,
)
from portal_accounts.usernames import username_or_none

TEMPORARY_PASSWORD = "temporary_password"  # noqa: S105 - a mode name
RESET_LINK = "reset_link"


def _linked_customer(customer_id: str) -> tuple[CustomerModel, AccountModel, str]:
    """The customer, its account and its valid email address, or the right 404/422."""
    customer = get_customer(customer_id)
    if not customer.account_username:
        raise NotFound("The customer is not linked to an account.")
    if username_or_none(customer.email) is None:
        raise NoValidEmail(
            "The customer has no valid email: save one on the customer first.",
            errors=[{"field": "email", "reason": "missing_or_invalid"}],
        )
    return customer, get_account(customer.account_username), customer.email.strip()


def _commit(
    account: AccountModel,
    events: list[AuditEventModel],
    outgoing: outbox.Outgoing,
    account_actions: list | None = None,
    condition=None,
) -> None:
    """Write the flow's changes, events and log entry together, then queue the email.

    `account_actions` set a new password: that is a reset by email, so it also clears the
    login throttle, a lockout included (no guesser knows the new password). A link changes
    nothing, the throttle neither: using it clears it (recovery.reset_password). Otherwise
    any operator's email would lift a lockout, which only an admin's audited unlock or a
    reset by email may end.
    """
    try:
        with transaction() as tx:
            if account_actions:
                tx.update(account, actions=account_actions, condition=condition)
                tx.delete(ThrottleModel(login_throttle_key(account.username)))
            for event in events:
                tx.save(event)
            tx.save(outgoing.entry)
    except TransactionCancelled:
        # The account changed between our read and this write (a racing reset, a
        # dissociation): nothing was written; the next try decides on fresh data.
        raise TemporarilyUnavailable(
            "The account changed while this was being done: try again."
        ) from None
    outbox.dispatch(outgoing)


def send_credentials(customer_id: str, *, actor: Actor) -> None:
    """F11: username, portal link and a one-time set-password link; never a password."""
    customer, account, to = _linked_customer(customer_id)
    outgoing, event = credentials_email(customer, account, to, actor=actor)
    _commit(account, [event], outgoing)


def credentials_email(
    customer: CustomerModel, account: AccountModel, to: str, *, actor: Actor, sequence: int = 0
) -> tuple[outbox.Outgoing, AuditEventModel]:
    """The credentials email of `customer`'s login, and its audit event (to write;
    `sequence` orders it after events of the same instant, audit.build_event)."""
    hours = max(1, round(get_settings().set_password_link_ttl_seconds / 3600))
    outgoing = outbox.prepare(
        username=account.username,
        template_id="account_credentials",
        locale=outbox.locale_for(customer),
        to=to,
        variables={
            **outbox.base_variables(customer.first_name, account.username),
            "link_valid_hours": str(hours),
        },
        secret=outbox.SET_PASSWORD_LINK,
        customer_id=customer.customer_id,
        credential_version=int(account.credential_version),
    )
    event = audit.build_event(
        audit.account_subject(account.username),
        actor,
        "account.credentials_email_queued",
        target=customer.customer_id,
        sequence=sequence,
    )
    return outgoing, event


def reset_password(customer_id: str, *, mode: str, actor: Actor) -> None:
    """F4: email a new temporary password (default), or a reset link."""
    customer, account, to = _linked_customer(customer_id)
    settings = get_settings()
    variables = outbox.base_variables(customer.first_name, account.username)
    event = audit.build_event(
        audit.account_subject(account.username),
        actor,
        "account.password_reset_by_operator",
        target=customer_id,
        details={"mode": mode},
    )
    if mode == RESET_LINK:
        minutes = max(1, round(settings.reset_link_ttl_seconds / 60))
        outgoing = outbox.prepare(
            username=account.username,
            template_id="password_reset_link",
            locale=outbox.locale_for(customer),
            to=to,
            variables={**variables, "link_valid_minutes": str(minutes)},
            secret=outbox.RESET_LINK,
            customer_id=customer_id,
            credential_version=int(account.credential_version),
        )
        _commit(account, [event], outgoing)
        return
    read_version = int(account.credential_version)
    days = max(1, round(settings.temporary_password_ttl_seconds / 86400))
    outgoing = outbox.prepare(
        username=account.username,
        template_id="new_password",
        locale=outbox.locale_for(customer),
        to=to,
        variables={**variables, "password_valid_days": str(days)},
        secret=outbox.TEMPORARY_PASSWORD,
        customer_id=customer_id,
        credential_version=read_version + 1,
    )
    # The old password ends now: a password nobody knows, hashed and forgotten, and the
    # credential version moves on (every session ends). The emailed one comes at send time.
    _commit(
        account,
        [event, audit.sessions_revoked(account.username, actor, cause=event.action)],
        outgoing,
        account_actions=passwords.set_actions(secrets.token_urlsafe(32), temporary=True),
        condition=(AccountModel.credential_version == read_version)
        & AccountModel.customers[customer_id].exists(),
    )
