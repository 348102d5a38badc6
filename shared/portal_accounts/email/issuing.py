"""The secret of an email, created by the sender as it sends: never on the queue.

A queued request names what to create (`EmailRequest.secret`) and for whom (its username
and `customer_id`). Just before sending, the sender reads the account, decides, and writes
the new password's hash or the new link token with a condition on what it read:

- the account still links the customer the request was made through (a dissociation
  since then means the email is no longer theirs to get);
- a link: the account is active (a link to a disabled account would not work) and at the
  credential version read, which the token records (a password change racing the write
  would otherwise leave a link that is dead on arrival);
- a temporary password: the account is still at the version the operator's request left
  it at (`credential_version`). Anything since — the customer reset it with a link, an
  operator set or reset it again — supersedes this email. The version does not move
  again here: the queue-time write already ended the old password and every session, and
  a retry of this same request (SES failed, so the customer never got the first one)
  must still find it.

A superseded request is not sent (the log says why). A write that loses a race is decided
again from a fresh read; an account that keeps changing is left to SQS's retry.
"""

from __future__ import annotations

from datetime import timedelta

from portal_accounts import clock, links
from portal_accounts.config import get_settings
from portal_accounts.email.outbox import (
    SECRET_VARIABLES,
    TEMPORARY_PASSWORD,
    EmailRequest,
)
from portal_accounts.errors import TemporarilyUnavailable
from portal_accounts.models import AccountModel, LinkTokenModel, linked_customers
from portal_accounts.passwords import generate_password, hash_password
from portal_accounts.store import TransactionCancelled, transaction

_PURPOSES = {"reset_link": links.RESET, "set_password_link": links.SET_PASSWORD}
ATTEMPTS = 3


class Superseded(Exception):
    """The account moved on since the request was queued: the email must not go."""


def issue(request: EmailRequest) -> dict[str, str]:
    """Create and store the request's secret; the variable that carries it in the email."""
    for _ in range(ATTEMPTS):
        try:
            account = AccountModel.get(request.username, consistent_read=True)
        except AccountModel.DoesNotExist:
            raise Superseded("the account no longer exists") from None
        if request.customer_id not in linked_customers(account):
            raise Superseded("the customer is no longer linked to the account")
        try:
            if request.secret == TEMPORARY_PASSWORD:
                value = _temporary_password(request, account)
            else:
                value = _link(request, account)
        except TransactionCancelled:
            continue  # the account changed between the read and the write: decide again
        return {SECRET_VARIABLES[request.secret]: value}
    raise TemporarilyUnavailable("the account kept changing while its email was being sent")


def _still_linked(request: EmailRequest):
    return AccountModel.customers[request.customer_id].exists()


def _temporary_password(request: EmailRequest, account: AccountModel) -> str:
    if int(account.credential_version) != request.credential_version:
        raise Superseded("the password was set or reset again after this email was queued")
    password = generate_password()
    now = clock.now()
    expires = now + timedelta(seconds=get_settings().temporary_password_ttl_seconds)
    with transaction() as tx:
        tx.update(
            account,
            actions=[
                AccountModel.password_hash.set(hash_password(password)),
                AccountModel.password_temporary.set(True),
                AccountModel.password_changed_at.set(now),
                AccountModel.password_expires_at.set(expires),
            ],
            condition=(AccountModel.credential_version == request.credential_version)
            & _still_linked(request),
        )
    return password


def _link(request: EmailRequest, account: AccountModel) -> str:
    if account.status != "active":
        raise Superseded("the account is disabled")
    token, item, actions = links.issue_actions(account, _PURPOSES[request.secret])
    with transaction() as tx:
        tx.save(item, condition=LinkTokenModel.token_hash.does_not_exist())
        tx.update(
            account,
            actions=actions,
            condition=(AccountModel.credential_version == int(account.credential_version))
            & (AccountModel.status == "active")
            & _still_linked(request),
        )
    return links.link_url(token)
