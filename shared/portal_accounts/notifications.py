"""Operator-triggered emails: credentials (F11) and password resets from a customer (F4).

Each flow writes its changes, its audit event and the email's log entry in one
transaction, then puts the email on the queue.
"""

from __future__ import annotations

from portal_accounts import audit, links
from portal_accounts.accounts import get_account, password_actions
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.customers import get_customer
from portal_accounts.email import outbox
from portal_accounts.errors import NotFound, NoValidEmail
from portal_accounts.identity import username_or_none
from portal_accounts.models import (
    AccountModel,
    AuditEventModel,
    CustomerModel,
    LinkTokenModel,
    ThrottleModel,
    login_throttle_key,
)
from portal_accounts.passwords import generate_password
from portal_accounts.store import transaction

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
    account_actions: list,
    events: list[AuditEventModel],
    outgoing: outbox.Outgoing,
    token_item: LinkTokenModel | None = None,
) -> None:
    with transaction() as tx:
        if token_item is not None:
            tx.save(token_item, condition=LinkTokenModel.token_hash.does_not_exist())
        tx.update(account, actions=account_actions, condition=AccountModel.username.exists())
        # Whatever the operator sends, the customer can use it straight away.
        tx.delete(ThrottleModel(login_throttle_key(account.username)))
        for event in events:
            tx.save(event)
        tx.save(outgoing.entry)
    outbox.dispatch(outgoing)


def send_credentials(customer_id: str, *, actor: Actor) -> None:
    """F11: username, portal link and a one-time set-password link; never a password."""
    customer, account, to = _linked_customer(customer_id)
    token, item, actions = links.issue_actions(account, links.SET_PASSWORD)
    hours = max(1, round(get_settings().set_password_link_ttl_seconds / 3600))
    outgoing = outbox.prepare(
        username=account.username,
        template_id="account_credentials",
        locale=outbox.locale_for(customer),
        to=to,
        variables={
            **outbox.base_variables(customer.first_name, account.username),
            "link": links.link_url(token),
            "link_valid_hours": str(hours),
        },
    )
    event = audit.build_event(
        audit.account_subject(account.username),
        actor,
        "account.credentials_email_queued",
        target=customer_id,
    )
    _commit(account, actions, [event], outgoing, item)


def reset_password(customer_id: str, *, mode: str, actor: Actor) -> None:
    """F4: email a new temporary password (default), or a reset link."""
    customer, account, to = _linked_customer(customer_id)
    variables = outbox.base_variables(customer.first_name, account.username)
    item = None
    if mode == RESET_LINK:
        token, item, actions = links.issue_actions(account, links.RESET)
        minutes = max(1, round(get_settings().reset_link_ttl_seconds / 60))
        template_id = "password_reset_link"
        variables |= {"link": links.link_url(token), "link_valid_minutes": str(minutes)}
    else:
        password = generate_password()
        # Temporary, and the credential version moves on: every session ends.
        actions = password_actions(password, temporary=True)
        days = max(1, round(get_settings().temporary_password_ttl_seconds / 86400))
        template_id = "new_password"
        variables |= {"password": password, "password_valid_days": str(days)}
    outgoing = outbox.prepare(
        username=account.username,
        template_id=template_id,
        locale=outbox.locale_for(customer),
        to=to,
        variables=variables,
    )
    event = audit.build_event(
        audit.account_subject(account.username),
        actor,
        "account.password_reset_by_operator",
        target=customer_id,
        details={"mode": mode},
    )
    events = [event]
    if mode != RESET_LINK:  # a new password: every session of the account ends
        events.append(audit.sessions_revoked(account.username, actor, cause=event.action))
    _commit(account, actions, events, outgoing, item)
