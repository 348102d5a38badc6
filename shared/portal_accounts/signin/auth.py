"""The storefront's logins (F12), logouts and password changes (F13).

Login costs three round trips: one BatchGetItem (account + throttle), one conditional
update that reserves the attempt in the throttle (throttle.py), and on success one
BatchWriteItem: the session, the audit event and the throttle record deleted, 1 write unit
each (issue 10, finding 3: a transaction would charge twice). The day's first login (and a
rehash) adds a fourth, the account updated on the credentials checked as read. On failure,
one transaction: the attempt resolved as a failure, with its audit event.

A later login of the day does not check the account again after the verify: a password
set, a reset, a disable or the last customer unlinked landing in between leaves it a
session on what was read, which is dead on arrival, since the authorizer checks the
session's credential version, the status and the links on every request
(sessions.authenticate). The login was answered as it stood when it was checked; whatever
ended the session came after it. Every failure — unknown user, wrong password, disabled or
unlinked account, expired temporary password — gets the same answer after the same
argon2 verify and the same writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from portal_accounts import audit, clock
from portal_accounts.accounts.lifecycle import get_account
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.credentials import passwords, throttle
from portal_accounts.credentials.passwords import hash_password, needs_rehash, verify_password
from portal_accounts.credentials.sessions import (
    SESSION_ENDED,
    Principal,
    customers_view,
    new_session,
    temporary_password_expired,
)
from portal_accounts.dynamodb import (
    BUSY,
    TransactionCancelled,
    batch_get,
    batch_write,
    condition_failed,
    system_fault,
    transaction,
)
from portal_accounts.email import outbox
from portal_accounts.errors import (
    AuthenticationFailed,
    DomainError,
    Forbidden,
    PasswordReused,
    TemporarilyUnavailable,
    Throttled,
)
from portal_accounts.models import (
    AccountModel,
    AuditEventModel,
    SessionModel,
    ThrottleModel,
    linked_customers,
    login_throttle_key,
)
from portal_accounts.usernames import lookup_key

GENERIC_FAILURE = "The username or the password is not correct."


def login_key(raw_username: str) -> str:
    """What the throttle and the account are keyed by, for any string typed as username."""
    return lookup_key(raw_username)[:320]


@contextmanager
def _released_on_fault(attempt: throttle.Reservation) -> Iterator[None]:
    """A fault of ours or of AWS after the attempt was counted: it was not the customer's
    failed attempt, so it is released, and the answer is a 503 to retry."""
    try:
        yield
    except TemporarilyUnavailable:
        attempt.release()
        raise
    except DomainError:
        raise  # the attempt was resolved (refused, throttled, ...) where it was raised
    except BaseException as error:
        attempt.release()
        if system_fault(error) is not None:
            raise TemporarilyUnavailable(BUSY) from error
        raise  # a bug: a 500, but still not the customer's failed attempt


def _resolve_failed(attempt: throttle.Reservation, event: AuditEventModel) -> None:
    """The attempt stays counted as a failure; its audit event, in the same write."""
    try:
        with transaction() as tx:
            attempt.failed(tx)
            tx.save(event)
    except TransactionCancelled:  # a right password in parallel cleared the record
        event.save()


@dataclass
class LoginResult:
    token: str
    session: SessionModel
    account: AccountModel

    @property
    def customers(self) -> list[dict]:
        return customers_view(self.account)


def _refusal(account: AccountModel | None, verified: bool, now: datetime) -> str | None:
    if account is None:
        return "unknown_username"
    if not verified:
        return "wrong_password"
    if account.status != "active":
        return "account_disabled"
    if not linked_customers(account):
        return "no_linked_customer"
    if temporary_password_expired(account, now):
        return "temporary_password_expired"
    return None


def _event(username: str, action: str, **details: str) -> AuditEventModel:
    return audit.build_event(
        audit.account_subject(username), Actor.customer(username), action, details=details
    )


def _record(username: str, action: str, **details: str) -> None:
    _event(username, action, **details).save()


def login(raw_username: str, password: str) -> LoginResult:
    key = login_key(raw_username)
    if not key:  # nothing to look up (DynamoDB refuses empty keys): an unknown user
        verify_password(None, password)
        raise AuthenticationFailed(GENERIC_FAILURE)
    now = clock.now()
    throttle_key = login_throttle_key(key)
    found = batch_get((AccountModel, key), (ThrottleModel, throttle_key))
    account = cast(AccountModel | None, found[AccountModel])
    try:
        attempt = throttle.reserve(
            throttle_key, cast(ThrottleModel | None, found[ThrottleModel]), now
        )
    except Throttled:
        _record(key, "login.throttled")  # unknown usernames too: the same work for all
        raise
    with _released_on_fault(attempt):
        verified = verify_password(account.password_hash if account else None, password)
        refusal = _refusal(account, verified, now)
        if refusal is not None:
            _resolve_failed(attempt, _event(key, "login.failed", reason=refusal))
            raise AuthenticationFailed(GENERIC_FAILURE)
        assert account is not None  # _refusal refuses a missing account
        return _open_session(account, password, attempt, now)


def _first_login_of_the_day(last_login_at: datetime | None, now: datetime) -> bool:
    """Whether this login records itself: `last_login_at` is kept to the day (UTC).

    Once a day per account keeps the day's other logins from writing the account at all
    (issue 10, findings 2 and 3); the by-status index holds keys only, so this write is
    the account's alone. `!=`, not `<`: a time recorded ahead of this clock is corrected
    rather than kept forever.
    """
    if last_login_at is None:
        return True
    return last_login_at.astimezone(UTC).date() != now.astimezone(UTC).date()


def _open_session(
    account: AccountModel, password: str, attempt: throttle.Reservation, now: datetime
) -> LoginResult:
    token, session = new_session(account, now)
    account_actions: list[Action] = []
    if _first_login_of_the_day(account.last_login_at, now):
        account_actions.append(AccountModel.last_login_at.set(now))
    if needs_rehash(account.password_hash):
        account_actions.append(AccountModel.password_hash.set(hash_password(password)))
    if account_actions:
        _update_checked(account, account_actions, attempt)
    batch_write(
        puts=[session, _event(account.username, "login.succeeded")],
        deletes=[attempt.record()],
    )
    return LoginResult(token, session, account)


def _update_checked(
    account: AccountModel, actions: list[Action], attempt: throttle.Reservation
) -> None:
    """Only on the credentials that were checked: a login with the old password racing a
    reset (or a disable, or the last customer unlinked, or the sender writing an emailed
    password) must not write the old hash back, nor record a login on the new version.
    Every one of those moves the credential version or the hash."""
    verified = (AccountModel.credential_version == int(account.credential_version)) & (
        AccountModel.password_hash == account.password_hash
    )
    try:
        AccountModel._get_connection().update_item(
            account.username, actions=actions, condition=verified, return_values="NONE"
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise  # a fault: _released_on_fault releases the attempt, a 503
        # What was checked is gone. Not the customer's failed attempt either.
        attempt.release()
        raise AuthenticationFailed(GENERIC_FAILURE) from None


def logout(principal: Principal) -> None:
    with transaction() as tx:
        tx.delete(SessionModel(principal.session_hash))
        tx.save(
            audit.build_event(
                audit.account_subject(principal.username),
                Actor.customer(principal.username),
                "session.logged_out",
            )
        )


def password_changed_email(account: AccountModel, when: datetime) -> outbox.Outgoing:
    """The "password changed" notice, to the login's address, in its first customer's
    language."""
    first = next(iter(linked_customers(account).values()), {})
    locale = first.get("locale") or get_settings().default_locale
    return outbox.prepare(
        username=account.username,
        template_id="password_changed",
        locale=locale,
        to=account.username,
        variables={
            **outbox.base_variables(first.get("first_name", ""), account.username),
            "changed_at": when.strftime("%Y-%m-%d %H:%M UTC"),
        },
    )


def change_password(principal: Principal, *, current: str, new: str, confirmation: str) -> None:
    """F13: needs the current password; every other session of the account ends.

    The current password is a password guess like a login's (a stolen session must not
    become an oracle): it goes through the same per-username throttle."""
    passwords.confirm(new, confirmation, field="new_password")
    now = clock.now()
    throttle_key = login_throttle_key(principal.username)
    found = batch_get((AccountModel, principal.username), (ThrottleModel, throttle_key))
    account = cast(AccountModel | None, found[AccountModel])
    if account is None:
        raise AuthenticationFailed(SESSION_ENDED)
    passwords.check_for(account, new, field="new_password")
    try:
        attempt = throttle.reserve(
            throttle_key, cast(ThrottleModel | None, found[ThrottleModel]), now
        )
    except Throttled:
        _record(account.username, "password.change_throttled")
        raise
    with _released_on_fault(attempt):
        if not verify_password(account.password_hash, current):
            _resolve_failed(
                attempt,
                _event(
                    account.username, "password.change_refused", reason="wrong_current_password"
                ),
            )
            raise Forbidden(
                "The current password is not correct.",
                errors=[{"field": "current_password", "reason": "incorrect"}],
            )
        if new == current:
            attempt.cleared()  # the right password: the failures are forgotten
            raise PasswordReused(errors=[{"field": "new_password", "reason": "reused"}])
        _commit_change(principal, account, new, attempt, now)


def _commit_change(
    principal: Principal,
    account: AccountModel,
    new: str,
    attempt: throttle.Reservation,
    now: datetime,
) -> None:
    version = int(account.credential_version)
    email = password_changed_email(account, now)
    try:
        with transaction() as tx:
            tx.update(
                account,
                actions=passwords.set_actions(new, temporary=False),
                condition=AccountModel.credential_version == version,
            )
            # This session carries on under the new version; all the others end.
            tx.update(
                SessionModel(principal.session_hash),
                actions=[SessionModel.credential_version.set(version + 1)],
                condition=SessionModel.session_hash.exists(),
            )
            attempt.succeeded(tx)
            customer = Actor.customer(account.username)
            tx.save(_event(account.username, "password.changed"))
            tx.save(
                audit.sessions_revoked(
                    account.username, customer, cause="password.changed", scope="others"
                )
            )
            tx.save(email.entry)
    except TransactionCancelled:
        # An operator changed the password or disabled the account meanwhile (its
        # sessions, this one included, ended), or this session was logged out.
        attempt.release()
        raise AuthenticationFailed(SESSION_ENDED) from None
    outbox.dispatch_notice(email)


def unlock(username: str, *, actor: Actor) -> AccountModel:
    """POST /operator/accounts/{username}/unlock: end the account's login lockout or
    throttle, audited. Admin scope."""
    account = get_account(username)
    with transaction() as tx:
        tx.delete(ThrottleModel(login_throttle_key(account.username)))
        tx.save(
            audit.build_event(audit.account_subject(account.username), actor, "account.unlocked")
        )
    return account
