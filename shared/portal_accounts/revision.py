"""Optimistic concurrency for account writes: decide from a read, write only if it holds.

A write that decides something from what it read ("the last customer", "the names a
password must avoid", "already disabled") is conditioned on the account's revision as it
read it, and moves the revision on with its change. When another request's write landed
in between, the condition fails and the whole request runs again on a fresh read (its
decision may change: dissociating what has become the last customer ends the sessions).
It is still the operator's request, valid on the new state; only what the new read
refuses (the customer linked elsewhere, the account gone) becomes a 409 or a 404.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from portal_accounts.errors import TemporarilyUnavailable
from portal_accounts.models import AccountModel

# Each attempt costs a read and a write; N requests racing on one account need at most N.
ATTEMPTS = 3

_P = ParamSpec("_P")
_R = TypeVar("_R")


class Stale(Exception):
    """What the request read changed before its write landed: read again, decide again."""


def unchanged(account: AccountModel) -> Condition:
    """The account is still at the revision `account` was read at (items written before
    revisions existed have none until their first revised write)."""
    if account.revision is None:
        return AccountModel.username.exists() & AccountModel.revision.does_not_exist()
    return AccountModel.revision == int(account.revision)


def bump() -> Action:
    """The action of every write that changes the customers, the status or the password."""
    return AccountModel.revision.add(1)


def bumped(account: AccountModel) -> int:
    """The revision `account` has after a write with `bump()` (for the view kept in memory)."""
    return int(account.revision or 0) + 1


def retried(operation: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `operation` (read, decide, write; raising Stale when the write's condition on
    its read failed) again on a fresh read, up to ATTEMPTS times; then a 503."""

    @functools.wraps(operation)
    def attempts(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        for _ in range(ATTEMPTS):
            try:
                return operation(*args, **kwargs)
            except Stale:
                continue
        raise TemporarilyUnavailable(
            "The account kept changing while this change was saved: try again in a moment."
        )

    return attempts
