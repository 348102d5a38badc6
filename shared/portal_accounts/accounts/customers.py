"""The customer registry basics the account flows need (F14)."""

from __future__ import annotations

import uuid

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from portal_accounts import audit, clock, revision
from portal_accounts.audit import Actor
from portal_accounts.dynamodb import TransactionCancelled, transaction
from portal_accounts.errors import InvalidInput, NotFound
from portal_accounts.models import AccountModel, CustomerModel
from portal_accounts.search import index as search
from portal_accounts.usernames import normalise_email

_NAME_FIELDS = ("first_name", "last_name")
# What an account keeps of each of its customers (see customer_summary_entry).
_COPIED_FIELDS = (*_NAME_FIELDS, "locale")


def _checked_email(raw: str | None) -> str | None:
    """Emails are stored validated (normalised domain), as the operator typed the rest."""
    if raw is None or raw.strip() == "":
        return None
    try:
        normalise_email(raw)
    except ValueError as error:
        raise InvalidInput(
            f"The email is not valid: {error}",
            errors=[{"field": "email", "reason": str(error)}],
        ) from None
    return raw.strip()


def is_customer_id(value: str) -> bool:
    """Customer ids are UUIDs: anything else is unknown without asking DynamoDB (which
    refuses empty or oversized keys)."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def get_customer(customer_id: str) -> CustomerModel:
    if not is_customer_id(customer_id):
        raise NotFound(f"There is no customer {customer_id[:64]}.")
    try:
        return CustomerModel.get(customer_id, consistent_read=True)
    except CustomerModel.DoesNotExist:
        raise NotFound(f"There is no customer {customer_id}.") from None


def create_customer(
    *, first_name: str, last_name: str, email: str | None, locale: str, actor: Actor
) -> CustomerModel:
    now = clock.now()
    customer = CustomerModel(
        customer_id=str(uuid.uuid4()),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=_checked_email(email),
        locale=locale,
        created_at=now,
        updated_at=now,
    )
    with transaction() as tx:
        tx.save(customer, condition=CustomerModel.customer_id.does_not_exist())
        tx.save(
            audit.build_event(
                audit.customer_subject(customer.customer_id),
                actor,
                "customer.created",
                target=customer.customer_id,
            )
        )
    return customer


@revision.retried
def update_customer(customer_id: str, changes: dict, *, actor: Actor) -> CustomerModel:
    """Apply the given fields. A linked account's copy of the names changes with them.

    The account to copy to is the one read: if the link moved meanwhile, read again.
    """
    customer = get_customer(customer_id)
    changes = dict(changes)  # an attempt after a stale read starts from the request again
    if "email" in changes:
        changes["email"] = _checked_email(changes["email"])
    for name in _NAME_FIELDS:
        if name in changes:
            changes[name] = changes[name].strip()
    changed = {k: v for k, v in changes.items() if getattr(customer, k) != v}
    if not changed:
        return customer
    now = clock.now()
    actions: list[Action] = [CustomerModel.updated_at.set(now)]
    for field, value in changed.items():
        attribute = getattr(CustomerModel, field)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    username = customer.account_username
    copy_changed = username is not None and any(n in changed for n in _COPIED_FIELDS)
    names_changed = username is not None and any(n in changed for n in _NAME_FIELDS)
    event = audit.build_event(
        audit.customer_subject(customer_id),
        actor,
        "customer.updated",
        target=customer_id,
        details={"fields": sorted(changed)},
    )
    try:
        with transaction() as tx:
            # The link must not move under us while the names are copied.
            link_unchanged = (
                CustomerModel.account_username == username
                if username
                else CustomerModel.account_username.does_not_exist()
            )
            tx.update(customer, actions=actions, condition=link_unchanged)
            tx.save(event)
            if copy_changed:
                # Names are what a password must avoid: the account's revision moves on.
                tx.update(
                    AccountModel(username),
                    actions=[
                        *(
                            AccountModel.customers[customer_id][name].set(changed[name])
                            for name in _COPIED_FIELDS
                            if name in changed
                        ),
                        revision.bump(),
                    ],
                    condition=AccountModel.customers[customer_id].exists(),
                )
    except TransactionCancelled:
        raise revision.Stale from None
    if names_changed:
        search.sync(AccountModel.get(username, consistent_read=True))
    return get_customer(customer_id)


def summary_unchanged(customer: CustomerModel) -> Condition:
    """The customer still has the fields its summary entry copied as they were read."""
    condition = CustomerModel.customer_id.exists()
    for field in _COPIED_FIELDS:
        condition &= getattr(CustomerModel, field) == getattr(customer, field)
    return condition


def customer_summary_entry(customer: CustomerModel) -> dict:
    """What an account keeps of each linked customer."""
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "locale": customer.locale,
        "linked_at": clock.precise(clock.now()),
    }
