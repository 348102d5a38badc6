"""The secret of an email, created by the sender as it sends: never on the queue.

A queued request names what to create (`EmailRequest.secret`) and for whom (its username
and `customer_id`). Just before sending, the sender reads the account (and the customer),
decides, and writes the new password's hash or the new link token with a condition on
what it read. A queue message may be old (a dead-letter redrive days later) or replayed
(an SQS retry), so the request must still hold:

- the account still links the customer the request was made through (a dissociation
  since then means the email is no longer theirs to get);
- `to` is still where the email belongs: the customer's current email (an operator who
  corrected a wrong address must not have the secret go to the old one), or for a
  forgot-password link the login itself;
- the account is still at the request's credential version. For a link, the version it
  was queued at: a password set since (by the customer, an operator, another link)
  supersedes it. For a temporary password, the version the operator's request left it
  at: anything since supersedes it too. The version does not move here: the queue-time
  write already ended the old password and every session, and a retry of this same
  request (SES failed, so the customer never got the first one) must still find it;
- a link: the account is active (a link to a disabled account would not work), and the
  request is younger than the link's lifetime (a link queued three days ago is one
  nobody would expect any more). A temporary password has no such limit: the old one
  ended when it was queued, so until it is sent the customer has none.

A superseded request is not sent (the log says why). A write that loses a race is decided
again from a fresh read; an account that keeps changing is left to SQS's retry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.transactions import TransactWrite

from portal_accounts import clock
from portal_accounts.credentials import links, passwords
from portal_accounts.credentials.passwords import generate_password
from portal_accounts.dynamodb import TransactionCancelled, transaction
from portal_accounts.email.outbox import (
    LOGIN,
    SECRET_VARIABLES,
    TEMPORARY_PASSWORD,
    EmailRequest,
)
from portal_accounts.errors import TemporarilyUnavailable
from portal_accounts.models import (
    AccountModel,
    CustomerModel,
    LinkTokenModel,
    linked_customers,
)

_PURPOSES = {"reset_link": links.RESET, "set_password_link": links.SET_PASSWORD}
ATTEMPTS = 3


class Superseded(Exception):
    """The request no longer holds (the account or the address moved on, or it is too old):
    the email must not go."""


def issue(request: EmailRequest) -> dict[str, str]:
    """Create and store the request's secret; the variable that carries it in the email."""
    if request.secret != TEMPORARY_PASSWORD:
        _young_enough(request)
    for _ in range(ATTEMPTS):
        try:
            account = AccountModel.get(request.username, consistent_read=True)
        except AccountModel.DoesNotExist:
            raise Superseded("the account no longer exists") from None
        if request.customer_id not in linked_customers(account):
            raise Superseded("the customer is no longer linked to the account")
        addressee = _addressee(request)
        try:
            if request.secret == TEMPORARY_PASSWORD:
                value = _temporary_password(request, account, addressee)
            else:
                value = _link(request, account, addressee)
        except TransactionCancelled:
            continue  # the account or the address changed after the read: decide again
        return {SECRET_VARIABLES[request.secret]: value}
    raise TemporarilyUnavailable("the account kept changing while its email was being sent")


def _young_enough(request: EmailRequest) -> None:
    try:
        queued = datetime.fromisoformat(request.queued_at)
    except ValueError:
        queued = None
    if queued is None or queued.tzinfo is None:
        raise Superseded("queued before the sender checked a link request's age")
    lifetime = timedelta(seconds=links.ttl_seconds(_PURPOSES[request.secret]))
    if clock.now() - queued >= lifetime:
        raise Superseded("queued longer ago than its link would be valid")


def _addressee(request: EmailRequest) -> CustomerModel | None:
    """The customer the email goes to, as read (None for an email to the login)."""
    if request.recipient == LOGIN:
        if request.to != request.username:
            raise Superseded("the email is not addressed to the login")
        return None
    try:
        customer = CustomerModel.get(request.customer_id, consistent_read=True)
    except CustomerModel.DoesNotExist:
        raise Superseded("the customer no longer exists") from None
    if (customer.email or "").strip() != request.to:
        raise Superseded("the customer's email changed after this email was queued")
    return customer


def _still_linked(request: EmailRequest):
    return AccountModel.customers[request.customer_id].exists()


def _same_address(tx: TransactWrite, customer: CustomerModel | None) -> None:
    """In the write: the customer's email is still the one read (and checked against `to`)."""
    if customer is not None:
        tx.condition_check(
            CustomerModel, customer.customer_id, condition=CustomerModel.email == customer.email
        )


def _temporary_password(
    request: EmailRequest, account: AccountModel, addressee: CustomerModel | None
) -> str:
    if int(account.credential_version) != request.credential_version:
        raise Superseded("the password was set or reset again after this email was queued")
    password = generate_password()
    with transaction() as tx:
        _same_address(tx, addressee)
        tx.update(
            account,
            actions=passwords.set_actions(password, temporary=True, new_version=False),
            condition=(AccountModel.credential_version == request.credential_version)
            & _still_linked(request),
        )
    return password


def _link(request: EmailRequest, account: AccountModel, addressee: CustomerModel | None) -> str:
    if account.status != "active":
        raise Superseded("the account is disabled")
    if int(account.credential_version) != request.credential_version:
        raise Superseded(
            "the password was changed or the account disabled after this email was queued"
        )
    token, item, actions = links.issue_actions(account, _PURPOSES[request.secret])
    with transaction() as tx:
        _same_address(tx, addressee)
        tx.save(item, condition=LinkTokenModel.token_hash.does_not_exist())
        tx.update(
            account,
            actions=actions,
            condition=(AccountModel.credential_version == request.credential_version)
            & (AccountModel.status == "active")
            & _still_linked(request),
        )
    return links.link_url(token)
