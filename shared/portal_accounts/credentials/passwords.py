"""The password rules, for every way a password is set: the operator's (F3, F9, F11), the
customer's change (F13) and reset (F5), an import's.

- what a new password must be: typed twice the same (`confirm`), then the policy (NIST SP
  800-63B-4, OWASP ASVS 5 V6: `check_policy`), against the account's own words
  (`check_for`: its username and the names of every customer linked to it);
- how it is kept: argon2id (`hash_password`, `verify_password`, `needs_rehash`);
- what setting one writes on the account (`set_actions`).
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from portal_accounts import clock, revision
from portal_accounts.config import get_settings
from portal_accounts.errors import PasswordMismatch, WeakPassword
from portal_accounts.models import AccountModel, linked_customers

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

MAX_LENGTH = 128


@lru_cache(maxsize=1)
def hasher():
    """argon2id at OWASP's minimum: 19 MiB, 2 iterations, 1 lane.

    Built on first use: handlers that never touch a password skip argon2's import.
    """
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def __getattr__(name: str):
    if name == "HASHER":  # passwords.HASHER, built lazily
        return hasher()
    raise AttributeError(name)


_MIN_CONTEXT_WORD = 3


def _folded(text: str) -> str:
    """For comparisons only: the password itself is never folded or truncated."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _squashed(folded: str) -> str:
    """Letters and digits only: "Palestra-Esempio" and "palestra esempio" both read
    "palestraesempio"."""
    return "".join(ch for ch in folded if ch.isalnum())


def _context_words(username: str | None, names: Sequence[str]) -> set[str]:
    """What a password may not contain: the username, its local part and domain, each
    name and the business name, each whole and without its spaces and punctuation; and
    each word of the names and of the username's local part. Not each word of the business
    name: "Palestra", "Club" or "Nuoto" alone would refuse half the passphrases a member
    would think of, and tell an attacker nothing about this member."""
    personal: list[str] = list(names)
    whole: list[str] = []
    settings = get_settings()
    if username:
        local, _, domain = username.partition("@")
        whole += [username, domain.split(".")[0]]
        personal.append(local)
    if settings.business_name:
        whole.append(settings.business_name)
    words: set[str] = set()
    for phrase in whole + personal:
        folded = _folded(phrase).strip()
        words.update((folded, _squashed(folded)))
    for phrase in personal:
        words.update("".join(ch if ch.isalnum() else " " for ch in _folded(phrase)).split())
    return {word for word in words if len(word) >= _MIN_CONTEXT_WORD}


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when there is no account, so every failure costs one verify."""
    return hasher().hash(secrets.token_urlsafe(16))


@lru_cache(maxsize=1)
def _zxcvbn():
    # Imported lazily: its dictionaries cost ~100 ms, paid only where a password is set.
    from zxcvbn import zxcvbn

    return zxcvbn


def check_policy(
    password: str,
    *,
    username: str | None = None,
    names: Sequence[str] = (),
    field: str = "password",
) -> None:
    """Raise WeakPassword with a clear reason, naming `field` (the request's field that
    holds the password), or return. One policy for every way in."""
    settings = get_settings()
    length = len(password)
    if length < settings.password_min_length:
        raise WeakPassword(
            f"The password must be at least {settings.password_min_length} characters long.",
            errors=[{"field": field, "reason": "too_short"}],
        )
    if length > MAX_LENGTH:
        raise WeakPassword(
            f"The password must be at most {MAX_LENGTH} characters long.",
            errors=[{"field": field, "reason": "too_long"}],
        )
    folded = _folded(password)
    squashed = _squashed(folded)
    for word in _context_words(username, names):
        if word in folded or word in squashed:
            raise WeakPassword(
                "The password must not contain the username, the customer's name "
                "or the business name.",
                errors=[{"field": field, "reason": "context_word"}],
            )
    # zxcvbn knows the common-password lists and keyboard, repeat and sequence patterns.
    result = _zxcvbn()(password, max_length=MAX_LENGTH)
    if result["score"] < 3:
        raise WeakPassword(
            "The password is too easy to guess (a common password or a simple pattern). "
            "A few unrelated words make a strong one.",
            errors=[{"field": field, "reason": "common_or_guessable"}],
        )


def confirm(password: str, confirmation: str, *, field: str = "password") -> None:
    """The password typed twice the same, or PasswordMismatch on `<field>_confirmation`."""
    if password != confirmation:
        raise PasswordMismatch(
            f"The two {field.replace('_', ' ')}s do not match.",
            errors=[{"field": f"{field}_confirmation", "reason": "mismatch"}],
        )


def _account_names(account: AccountModel) -> list[str]:
    """Names a password must not contain: every customer linked to the login."""
    return [
        name
        for entry in linked_customers(account).values()
        for name in (entry["first_name"], entry["last_name"])
    ]


def check_for(account: AccountModel, password: str, *, field: str = "password") -> None:
    """The policy, against the account as read: its username and its customers' names.

    A customer linked or renamed after the read brings new words, so a write that follows
    this check is conditioned on the account's revision (revision.py)."""
    check_policy(password, username=account.username, names=_account_names(account), field=field)


def temporary_until(now: datetime) -> datetime:
    """When a temporary password set at `now` stops working."""
    return now + timedelta(seconds=get_settings().temporary_password_ttl_seconds)


def set_actions(password: str, *, temporary: bool, new_version: bool = True) -> list[Action]:
    """What setting a password writes on the account, in any flow.

    `new_version` moves the credential version (every session and link of the old
    password ends) and the revision; False only where the write fills in a password an
    earlier write already announced (the emailed temporary password: email/issuing.py)."""
    now = clock.now()
    actions: list[Action] = [
        AccountModel.password_hash.set(hash_password(password)),
        AccountModel.password_temporary.set(temporary),
        AccountModel.password_changed_at.set(now),
        AccountModel.password_expires_at.set(temporary_until(now))
        if temporary
        else AccountModel.password_expires_at.remove(),
    ]
    if new_version:
        actions += [AccountModel.credential_version.add(1), revision.bump()]
    return actions


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return hasher().verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password that passes the policy: 5 groups of 5 letters/digits, ~129 bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
    while True:
        groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(5)]
        candidate = "-".join(groups)
        try:
            check_policy(candidate)
        except WeakPassword:
            continue
        return candidate
