"""Storefront sessions: opaque bearer tokens, stored as a hash, checked on every request.

A token is "<username, base64url>.<256 random bits>". The username part lets the check
fetch the session and its account in one BatchGetItem; it grants nothing by itself (the
whole token is hashed and must match a stored session of that same username).

A session is valid while: its item exists (logout deletes it), its absolute lifetime and
idle timeout have not passed (both checked here, TTL only cleans up), and the account is
active, still linked to a customer, on the same credential version (password set or
reset, disable: all sessions end), and not on an expired temporary password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from pynamodb.exceptions import UpdateError

from portal_accounts import clock
from portal_accounts.config import Settings, get_settings
from portal_accounts.dynamodb import batch_get, condition_failed
from portal_accounts.errors import AuthenticationFailed
from portal_accounts.models import AccountModel, SessionModel, linked_customers

SESSION_ENDED = "Your session has ended: log in again."
# What the session authorizer passes instead of a principal when AWS could not tell whether
# the session is valid (throttling, a timeout): the dispatcher answers 503, runs no route.
UNAVAILABLE_CONTEXT = {"unavailable": True}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(username: str) -> str:
    user_part = base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")
    return f"{user_part}.{secrets.token_urlsafe(32)}"


def username_of(token: str) -> str | None:
    user_part, dot, secret = token.partition(".")
    if not dot or not secret or len(token) > 1024:
        return None
    try:
        username = base64.urlsafe_b64decode(user_part + "=" * (-len(user_part) % 4)).decode()
    except (binascii.Error, ValueError):
        return None
    return username or None  # DynamoDB refuses empty keys


def new_session(account: AccountModel, now: datetime) -> tuple[str, SessionModel]:
    settings = get_settings()
    token = new_token(account.username)
    absolute = now + timedelta(seconds=settings.session_ttl_seconds)
    session = SessionModel(
        session_hash=hash_token(token),
        username=account.username,
        credential_version=int(account.credential_version),
        created_at=now,
        last_seen_at=now,
        absolute_expires_at=absolute,
        expires_at=absolute,
    )
    return token, session


def temporary_password_expired(account: AccountModel, now: datetime) -> bool:
    return bool(
        account.password_temporary
        and account.password_expires_at is not None
        and account.password_expires_at <= now
    )


@dataclass(frozen=True)
class Principal:
    """Who a valid session belongs to: what the authorizer hands to the handlers."""

    username: str
    session_hash: str
    customers: list[dict]
    password_change_required: bool

    def context(self) -> dict:
        return {
            "username": self.username,
            "session": self.session_hash,
            "customers": json.dumps(self.customers),
            "password_change_required": self.password_change_required,
        }

    @classmethod
    def from_context(cls, context: dict) -> Principal:
        required = context.get("password_change_required")
        return cls(
            username=context["username"],
            session_hash=context["session"],
            customers=json.loads(context["customers"]),
            password_change_required=required in (True, "true", "True"),
        )


def customers_view(account: AccountModel) -> list[dict]:
    return [
        {"customer_id": cid, "first_name": c["first_name"], "last_name": c["last_name"]}
        for cid, c in linked_customers(account).items()
    ]


def touch_interval(settings: Settings) -> timedelta:
    """How often a session in use records it. Activity is recorded at most this often, so
    a session can end up to this much before its idle timeout: at most a tenth of it (a
    short timeout records every request), at most the configured interval (one write a
    minute by default)."""
    return timedelta(
        seconds=min(
            settings.session_touch_interval_seconds, settings.session_idle_timeout_seconds // 10
        )
    )


def authenticate(token: str | None) -> Principal:
    """The session's principal, or AuthenticationFailed. One round trip, plus a rare touch."""
    username = username_of(token or "")
    if username is None:
        raise AuthenticationFailed(SESSION_ENDED)
    assert token is not None  # username_of("") is None
    session_hash = hash_token(token)
    found = batch_get((SessionModel, session_hash), (AccountModel, username))
    session = cast(SessionModel | None, found[SessionModel])
    account = cast(AccountModel | None, found[AccountModel])
    now = clock.now()
    settings = get_settings()
    if (
        session is None
        or account is None
        or session.username != username
        or session.absolute_expires_at <= now
        or now - session.last_seen_at >= timedelta(seconds=settings.session_idle_timeout_seconds)
        or account.status != "active"
        or int(account.credential_version) != int(session.credential_version)
        or not linked_customers(account)
        or temporary_password_expired(account, now)
    ):
        raise AuthenticationFailed(SESSION_ENDED)
    if now - session.last_seen_at >= touch_interval(settings):
        try:
            session.update(
                actions=[SessionModel.last_seen_at.set(now)],
                condition=SessionModel.session_hash.exists(),
            )
        except UpdateError as error:
            if not condition_failed(error):
                raise  # the system's fault (throttling...), not the session's: a 503
            raise AuthenticationFailed(SESSION_ENDED) from None  # logged out meanwhile
    return Principal(
        username=username,
        session_hash=session_hash,
        customers=customers_view(account),
        password_change_required=bool(account.password_temporary),
    )
