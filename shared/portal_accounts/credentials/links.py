"""Reset and set-password links: one live token per account and purpose, single use.

A token is 256 bits from `secrets`, handed out once (inside an email) and stored only as
its SHA-256. It is valid while: its item exists (consuming deletes it), `valid_until` is
in the future (checked here, not left to TTL), the account still points at it for that
purpose (a newer link replaces it), and the account's credential version has not moved
(any password change or disable moves it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from portal_accounts import clock
from portal_accounts.config import get_settings
from portal_accounts.errors import InvalidLink
from portal_accounts.models import AccountModel, LinkTokenModel, raw_map

RESET = "reset"
SET_PASSWORD = "set_password"  # noqa: S105 - a purpose name, not a password
_CLEANUP_GRACE = timedelta(days=1)


def ttl_seconds(purpose: str) -> int:
    settings = get_settings()
    if purpose == SET_PASSWORD:
        return settings.set_password_link_ttl_seconds
    return settings.reset_link_ttl_seconds


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    """Links are built from settings only, never from a request: PASSWORD_PAGE_URL, by
    default the hosted page under STOREFRONT_BASE_URL."""
    settings = get_settings()
    page = settings.password_page_url or (
        f"{settings.storefront_base_url.rstrip('/')}/reset-password"
    )
    return f"{page}{'&' if '?' in page else '?'}token={token}"


def issue_actions(account: AccountModel, purpose: str) -> tuple[str, LinkTokenModel, list]:
    """A new token, its item, and the account update that makes it the live one.

    Returned rather than written, so callers put them in their own transaction. The item
    carries the credential version read: the caller must condition its account update on
    that version (`credential_version`), the account still being active and whatever else
    the link is for still holding (email/issuing.py: the customer still linked), so that
    no link is issued under a version that moved meanwhile (dead on arrival) or for an
    account disabled or unlinked meanwhile. Not on `revision.unchanged`: a change of
    names or customers that leaves the password alone does not spoil a link.
    """
    token = secrets.token_urlsafe(32)
    now = clock.now()
    valid_until = now + timedelta(seconds=ttl_seconds(purpose))
    item = LinkTokenModel(
        token_hash=hash_token(token),
        username=account.username,
        purpose=purpose,
        created_at=now,
        valid_until=valid_until,
        credential_version=int(account.credential_version),
        expires_at=valid_until + _CLEANUP_GRACE,
    )
    return token, item, [AccountModel.live_links[purpose].set(item.token_hash)]


@dataclass
class VerifiedLink:
    token: LinkTokenModel
    account: AccountModel


def verify(token: str) -> VerifiedLink:
    """The link's token and account, or InvalidLink. Does not consume it."""
    invalid = InvalidLink("This link is not valid any more: request a new one from the login page.")
    if not token or len(token) > 256:
        raise invalid
    try:
        item = LinkTokenModel.get(hash_token(token), consistent_read=True)
        account = AccountModel.get(item.username, consistent_read=True)
    except (LinkTokenModel.DoesNotExist, AccountModel.DoesNotExist):
        raise invalid from None
    live = raw_map(account.live_links).get(item.purpose)
    if (
        item.valid_until <= clock.now()
        or live != item.token_hash
        or int(account.credential_version) != int(item.credential_version)
        or account.status != "active"
    ):
        raise invalid
    return VerifiedLink(item, account)
