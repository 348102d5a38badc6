"""The storefront's logins (F12), logouts and password changes (F13).

Login costs three round trips: one BatchGetItem (account + throttle), one conditional
update that reserves the attempt in the throttle, and one transaction (session, last
login, throttle cleared, audit) or one audit write on failure. Every failure — unknown
user, wrong password, disabled or unlinked account, expired temporary password — gets
the same answer after the same argon2 verify.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from portal_accounts import audit, clock
from portal_accounts.accounts import context_names, get_account, password_actions
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.email import outbox
from portal_accounts.errors import (
    AuthenticationFailed,
    Forbidden,
    PasswordMismatch,
    Throttled,
)
from portal_accounts.identity import lookup_key
from portal_accounts.models import (
    AccountModel,
    SessionModel,
    ThrottleModel,
    linked_customers,
    login_throttle_key,
)
from portal_accounts.passwords import check_policy, hash_password, needs_rehash, verify_password
from portal_accounts.sessions import (
    SESSION_ENDED,
    Principal,
    customers_view,
    new_session,
    temporary_password_expired,
)
from portal_accounts.store import TransactionCancelled, batch_get, transaction

GENERIC_FAILURE = "The username or the password is not correct."
_THROTTLE_MEMORY = timedelta(days=1)


def login_key(raw_username: str) -> str:
    """What the throttle and the account are keyed by, for any string typed as username."""
    return lookup_key(raw_username)[:320]


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def _throttled(seconds: int) -> Throttled:
    return Throttled(
        f"Too many failed logins: try again in {seconds} seconds, or reset the password.",
        retry_after=seconds,
    )


def _reserve_attempt(key: str, throttle: ThrottleModel | None, now: datetime) -> None:
    """Count the attempt before checking the password, so racing requests cannot all
    slip under the limit: up to LOGIN_MAX_FAILURES freely, then one per rising delay."""
    settings = get_settings()
    failures = int(throttle.failures) if throttle else 0
    if throttle and throttle.locked_until and throttle.locked_until > now:
        raise _throttled(_retry_after(throttle.locked_until, now))
    actions: list[Action] = [
        ThrottleModel.failures.add(1),
        ThrottleModel.expires_at.set(now + _THROTTLE_MEMORY),
    ]
    if failures < settings.login_max_failures:
        condition = ThrottleModel.failures.does_not_exist() | (
            ThrottleModel.failures < settings.login_max_failures
        )
    else:
        over = failures - settings.login_max_failures
        delay = min(settings.login_lock_base_seconds * 2**over, settings.login_lock_max_seconds)
        actions.append(ThrottleModel.locked_until.set(now + timedelta(seconds=delay)))
        condition = (ThrottleModel.failures == failures) & (
            ThrottleModel.locked_until.does_not_exist() | (ThrottleModel.locked_until <= now)
        )
    try:
        ThrottleModel(key).update(actions=actions, condition=condition)
    except UpdateError:
        raise _throttled(1) from None  # another attempt took this slot


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


def _record(username: str, action: str, **details: str) -> None:
    audit.record(
        audit.account_subject(username),
        Actor.customer(username),
        action,
        details=details,
    )


def login(raw_username: str, password: str) -> LoginResult:
    key = login_key(raw_username)
    if not key:  # nothing to look up (DynamoDB refuses empty keys): an unknown user
        verify_password(None, password)
        raise AuthenticationFailed(GENERIC_FAILURE)
    now = clock.now()
    found = batch_get((AccountModel, key), (ThrottleModel, login_throttle_key(key)))
    account = cast(AccountModel | None, found[AccountModel])
    throttle = cast(ThrottleModel | None, found[ThrottleModel])
    try:
        _reserve_attempt(login_throttle_key(key), throttle, now)
    except Throttled:
        if account is not None:
            _record(key, "login.throttled")
        raise
    verified = verify_password(account.password_hash if account else None, password)
    refusal = _refusal(account, verified, now)
    if refusal is not None:
        if account is not None:
            _record(key, "login.failed", reason=refusal)
        raise AuthenticationFailed(GENERIC_FAILURE)
    assert account is not None  # _refusal refuses a missing account
    token, session = new_session(account, now)
    account_actions: list[Action] = [AccountModel.last_login_at.set(now)]
    if needs_rehash(account.password_hash):
        account_actions.append(AccountModel.password_hash.set(hash_password(password)))
    with transaction() as tx:
        tx.save(session)
        tx.update(account, actions=account_actions)
        tx.delete(ThrottleModel(login_throttle_key(key)))
        tx.save(
            audit.build_event(audit.account_subject(key), Actor.customer(key), "login.succeeded")
        )
    account.last_login_at = now
    return LoginResult(token, session, account)


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
    """F13: needs the current password; every other session of the account ends."""
    try:
        account = AccountModel.get(principal.username, consistent_read=True)
    except AccountModel.DoesNotExist:
        raise AuthenticationFailed(SESSION_ENDED) from None
    if not verify_password(account.password_hash, current):
        audit.record(
            audit.account_subject(account.username),
            Actor.customer(account.username),
            "password.change_refused",
            details={"reason": "wrong_current_password"},
        )
        raise Forbidden(
            "The current password is not correct.",
            errors=[{"field": "current_password", "reason": "incorrect"}],
        )
    if new != confirmation:
        raise PasswordMismatch(
            "The two new passwords do not match.",
            errors=[{"field": "new_password_confirmation", "reason": "mismatch"}],
        )
    check_policy(
        new,
        username=account.username,
        names=context_names(linked_customers(account)),
        field="new_password",
    )
    now = clock.now()
    version = int(account.credential_version)
    email = password_changed_email(account, now)
    try:
        with transaction() as tx:
            tx.update(
                account,
                actions=password_actions(new, temporary=False),
                condition=AccountModel.credential_version == version,
            )
            # This session carries on under the new version; all the others end.
            tx.update(
                SessionModel(principal.session_hash),
                actions=[SessionModel.credential_version.set(version + 1)],
                condition=SessionModel.session_hash.exists(),
            )
            customer = Actor.customer(account.username)
            tx.save(
                audit.build_event(
                    audit.account_subject(account.username), customer, "password.changed"
                )
            )
            tx.save(
                audit.sessions_revoked(
                    account.username, customer, cause="password.changed", scope="others"
                )
            )
            tx.save(email.entry)
    except TransactionCancelled:
        raise AuthenticationFailed(SESSION_ENDED) from None
    outbox.dispatch(email)


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
