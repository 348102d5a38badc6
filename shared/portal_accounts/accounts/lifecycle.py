"""The operator's account lifecycle: create, associate, dissociate, password, disable.

Each of them reads, decides from what it read, and writes on the condition that what it
decided from still holds (the account's revision, the customer's link and names): when
another request's write landed in between, it reads again and decides again
(revision.py), so two racing requests never both act on the same view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from portal_accounts import audit, clock, revision
from portal_accounts.accounts.customers import (
    customer_summary_entry,
    get_customer,
    is_customer_id,
    summary_unchanged,
)
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.credentials import passwords, throttle
from portal_accounts.credentials.passwords import check_policy, hash_password
from portal_accounts.dynamodb import TransactionCancelled, batch_get, transaction
from portal_accounts.errors import (
    Conflict,
    CustomerAlreadyLinked,
    NotFound,
    NoValidEmail,
    TooManyCustomers,
    UsernameTaken,
)
from portal_accounts.models import (
    AccountModel,
    CustomerModel,
    ThrottleModel,
    linked_customers,
    login_throttle_key,
    status_shard,
)
from portal_accounts.search import index as search
from portal_accounts.usernames import lookup_key, username_or_none

if TYPE_CHECKING:
    from portal_accounts.email.delivery import Undeliverable

MAX_USERNAME = 320  # the longest email address
ACTIVE = "active"
DISABLED = "disabled"


def _no_such_account(username: str) -> NotFound:
    return NotFound(f"There is no account with username {username}.")


def get_account(username: str) -> AccountModel:
    key = lookup_key(username)
    if not key or len(key) > MAX_USERNAME:
        raise _no_such_account(username[:MAX_USERNAME])
    try:
        return AccountModel.get(key, consistent_read=True)
    except AccountModel.DoesNotExist:
        raise _no_such_account(key) from None


def _customer_and_account(customer_id: str, username: str) -> tuple[CustomerModel, AccountModel]:
    """Both, in one round trip (their keys are both known), or the right 404."""
    key = lookup_key(username)
    if not key or len(key) > MAX_USERNAME:
        raise _no_such_account(username[:MAX_USERNAME])
    if not is_customer_id(customer_id):
        raise NotFound(f"There is no customer {customer_id[:64]}.")
    found = batch_get((CustomerModel, customer_id), (AccountModel, key))
    customer = cast(CustomerModel | None, found[CustomerModel])
    account = cast(AccountModel | None, found[AccountModel])
    if customer is None:
        raise NotFound(f"There is no customer {customer_id}.")
    if account is None:
        raise _no_such_account(key)
    return customer, account


@revision.retried
def create_account(
    customer_id: str, *, password: str, temporary: bool, actor: Actor
) -> AccountModel:
    """F9: a new login for a customer, username = the customer's email."""
    customer = get_customer(customer_id)
    username = new_username(customer)
    check_policy(password, username=username, names=[customer.first_name, customer.last_name])
    account = new_account(customer, username, hash_password(password), temporary=temporary)
    commit_new_account(account, customer, actor, details={"temporary_password": temporary})
    search.sync(account)
    return account


def new_username(customer: CustomerModel) -> str:
    """The username a new login of `customer` gets (its email), or why it cannot have one."""
    if customer.account_username:
        raise CustomerAlreadyLinked(
            f"The customer already has the account {customer.account_username}.",
            username=customer.account_username,
        )
    username = username_or_none(customer.email)
    if username is None:
        raise NoValidEmail(
            "The customer has no valid email: save one on the customer first, "
            "it becomes the username.",
            errors=[{"field": "email", "reason": "missing_or_invalid"}],
        )
    return username


def new_account(
    customer: CustomerModel, username: str, password_hash: str, *, temporary: bool
) -> AccountModel:
    """The account item of a new login, linked to `customer` (not written yet)."""
    now = clock.now()
    return AccountModel(
        username=username,
        status=ACTIVE,
        password_hash=password_hash,
        password_temporary=temporary,
        password_changed_at=now,
        password_expires_at=passwords.temporary_until(now) if temporary else None,
        credential_version=1,
        revision=1,
        created_at=now,
        customers={customer.customer_id: customer_summary_entry(customer)},
    )


class AlsoRefused(Exception):
    """A condition of one of the caller's own puts failed (`failed`: their indexes)."""

    def __init__(self, failed: set[int]) -> None:
        super().__init__(f"the caller's puts {sorted(failed)} were refused")
        self.failed = failed


def commit_new_account(
    account: AccountModel,
    customer: CustomerModel,
    actor: Actor,
    *,
    details: dict,
    also: tuple[tuple[Model, Condition | None], ...] = (),
) -> None:
    """Write a new account, its customer's link and the `account.created` event in one
    transaction, with the caller's own puts (`also`: item and condition).

    UsernameTaken if a login has that username; revision.Stale if the customer changed
    since it was read; AlsoRefused if a condition of `also` failed."""
    username = account.username
    try:
        with transaction() as tx:
            # Guesses at the username before the account existed (a lockout, even) are not
            # the new account's: its customer's first login must not be refused for them.
            tx.delete(ThrottleModel(login_throttle_key(username)))
            tx.save(account, condition=AccountModel.username.does_not_exist())
            tx.save(
                audit.build_event(
                    audit.account_subject(username),
                    actor,
                    "account.created",
                    target=customer.customer_id,
                    details=details,
                )
            )
            for item, condition in also:
                tx.save(item, condition=condition)
            tx.update(
                customer,
                actions=[
                    CustomerModel.account_username.set(username),
                    CustomerModel.updated_at.set(clock.now()),
                ],
                # The username and the account's copy of the names come from this read.
                condition=CustomerModel.account_username.does_not_exist()
                & (CustomerModel.email == customer.email)
                & summary_unchanged(customer),
            )
    except TransactionCancelled as cancelled:
        # TransactWrite sends deletes, then puts, then updates: the throttle is part 0, the
        # account 1, the audit event 2, the caller's puts 3 on, the customer last.
        if 3 + len(also) in cancelled.failed:
            raise revision.Stale from None  # linked or changed meanwhile: read it again
        if 1 not in cancelled.failed:
            raise AlsoRefused({index - 3 for index in cancelled.failed}) from None
        raise UsernameTaken(
            f"The username {username} is already taken: to let this customer use that "
            "login, associate the existing account instead.",
            username=username,
        ) from None


@revision.retried
def associate(customer_id: str, *, username: str, actor: Actor) -> AccountModel:
    """F10: attach a customer to an existing login (a parent's login serving a child)."""
    customer, account = _customer_and_account(customer_id, username)
    if customer.account_username == account.username:
        return account
    if customer.account_username:
        raise Conflict(
            f"The customer is linked to another account ({customer.account_username}): "
            "dissociate it first.",
            username=customer.account_username,
        )
    cap = get_settings().max_customers_per_account
    if len(linked_customers(account)) >= cap:  # decided on this read: the revision guards it
        raise TooManyCustomers(
            f"The account {account.username} already serves {cap} customers, the most one "
            "login may: give this customer a login of its own.",
            username=account.username,
        )
    now = clock.now()
    entry = customer_summary_entry(customer)
    try:
        with transaction() as tx:
            tx.update(
                customer,
                actions=[
                    CustomerModel.account_username.set(account.username),
                    CustomerModel.updated_at.set(now),
                ],
                condition=CustomerModel.account_username.does_not_exist()
                & summary_unchanged(customer),
            )
            tx.update(
                account,
                actions=[AccountModel.customers[customer_id].set(entry), revision.bump()],
                condition=revision.unchanged(account),
            )
            tx.save(
                audit.build_event(
                    audit.account_subject(account.username),
                    actor,
                    "account.customer_associated",
                    target=customer_id,
                )
            )
    except TransactionCancelled:
        raise revision.Stale from None
    # The transaction did exactly this to what was read: no need to read it again.
    account.customers = {**linked_customers(account), customer_id: entry}
    account.revision = revision.bumped(account)
    search.sync(account)
    return account


@revision.retried
def dissociate(customer_id: str, *, actor: Actor) -> None:
    """F8: remove one customer's link; the account and its other customers keep working.

    Losing its last customer ends the account's sessions (credential version moves on).
    """
    customer = get_customer(customer_id)
    username = customer.account_username
    if not username:
        raise NotFound("The customer is not linked to an account.")
    account = get_account(username)
    last_one = set(linked_customers(account)) <= {customer_id}
    actions = [AccountModel.customers[customer_id].remove(), revision.bump()]
    if last_one:
        actions.append(AccountModel.credential_version.add(1))
    try:
        with transaction() as tx:
            tx.update(
                customer,
                actions=[
                    CustomerModel.account_username.remove(),
                    CustomerModel.updated_at.set(clock.now()),
                ],
                condition=CustomerModel.account_username == username,
            )
            tx.update(account, actions=actions, condition=revision.unchanged(account))
            tx.save(
                audit.build_event(
                    audit.account_subject(username),
                    actor,
                    "account.customer_dissociated",
                    target=customer_id,
                    details={"last_customer": last_one},
                )
            )
            if last_one:
                tx.save(
                    audit.sessions_revoked(username, actor, cause="account.customer_dissociated")
                )
    except TransactionCancelled:
        raise revision.Stale from None
    remaining = linked_customers(account)
    remaining.pop(customer_id, None)
    account.customers = remaining
    account.revision = revision.bumped(account)
    search.sync(account)


@revision.retried
def set_password(
    username: str, *, password: str, confirmation: str, temporary: bool, actor: Actor
) -> None:
    """F3: the operator types a new password twice. Ends every session of the account.

    The policy is checked against the customers read: one associated or renamed before
    the write lands brings new words, so the write is conditioned on the revision.
    """
    account = get_account(username)
    passwords.confirm(password, confirmation)
    passwords.check_for(account, password)
    try:
        with transaction() as tx:
            tx.update(
                account,
                actions=passwords.set_actions(password, temporary=temporary),
                condition=revision.unchanged(account),
            )
            # A new password from the operator also lifts any login throttle.
            tx.delete(ThrottleModel(login_throttle_key(account.username)))
            tx.save(
                audit.build_event(
                    audit.account_subject(account.username),
                    actor,
                    "account.password_set",
                    details={"temporary": temporary},
                )
            )
            tx.save(audit.sessions_revoked(account.username, actor, cause="account.password_set"))
    except TransactionCancelled:
        raise revision.Stale from None


@revision.retried
def _set_status(username: str, status: str, action: str, actor: Actor) -> AccountModel:
    """Set the status; "it is set already" is decided from the read like the rest."""
    account = get_account(username)
    if account.status == status:
        return account
    disabling = status == DISABLED  # every session ends with it
    actions: list[Action] = [
        AccountModel.status.set(status),
        AccountModel.status_shard.set(status_shard(account.username, status)),
        revision.bump(),
    ]
    if disabling:
        actions.append(AccountModel.credential_version.add(1))
    try:
        with transaction() as tx:
            tx.update(account, actions=actions, condition=revision.unchanged(account))
            tx.save(audit.build_event(audit.account_subject(account.username), actor, action))
            if disabling:
                tx.save(audit.sessions_revoked(account.username, actor, cause=action))
    except TransactionCancelled:
        raise revision.Stale from None
    account.status = status
    account.revision = revision.bumped(account)
    if disabling:
        account.credential_version = int(account.credential_version) + 1
    search.sync(account)
    return account


def disable(username: str, *, actor: Actor) -> AccountModel:
    """F7: nobody can log in with it, and its sessions end at once."""
    return _set_status(username, DISABLED, "account.disabled", actor)


def enable(username: str, *, actor: Actor) -> AccountModel:
    return _set_status(username, ACTIVE, "account.enabled", actor)


@dataclass
class AccountDetail:
    account: AccountModel
    locked_until: datetime | None
    locked_out: bool
    recent_events: list[dict]
    undeliverable: list[Undeliverable]


def detail(username: str, *, recent: int = 10) -> AccountDetail:
    """F2: the account, whether logins are throttled or locked out right now, its latest
    events, and the addresses it uses whose latest email bounced for good."""
    account = get_account(username)
    locked_until, locked_out = throttle.state(login_throttle_key(account.username), clock.now())
    events = audit.list_events(audit.account_subject(account.username), limit=recent, cursor=None)
    # Imported here: the detail alone needs it, and the login imports this module.
    from portal_accounts.email.delivery import undeliverable

    bounced = undeliverable(account.username, list(linked_customers(account)))
    return AccountDetail(account, locked_until, locked_out, events.items, bounced)
