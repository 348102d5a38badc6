"""Password policy (NIST SP 800-63B-4, OWASP ASVS 5 V6) and argon2id hashing."""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from portal_accounts.config import get_settings
from portal_accounts.errors import WeakPassword

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


def _context_words(username: str | None, names: list[str]) -> list[str]:
    words: list[str] = []
    settings = get_settings()
    if username:
        local, _, domain = username.partition("@")
        words += [username, local, domain.split(".")[0]]
    words += names
    if settings.business_name:
        words.append(settings.business_name)
    return [w for w in (_folded(w).strip() for w in words) if len(w) >= _MIN_CONTEXT_WORD]


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when there is no account, so every failure costs one verify."""
    return hasher().hash(secrets.token_urlsafe(16))


@lru_cache(maxsize=1)
def _zxcvbn():
    # Imported lazily: its dictionaries cost ~100 ms, paid only where a password is set.
    from zxcvbn import zxcvbn

    return zxcvbn


def check_policy(password: str, *, username: str | None = None, names: Sequence[str] = ()) -> None:
    """Raise WeakPassword with a clear reason, or return. One policy for every way in."""
    settings = get_settings()
    length = len(password)
    if length < settings.password_min_length:
        raise WeakPassword(
            f"The password must be at least {settings.password_min_length} characters long.",
            errors=[{"field": "password", "reason": "too_short"}],
        )
    if length > MAX_LENGTH:
        raise WeakPassword(
            f"The password must be at most {MAX_LENGTH} characters long.",
            errors=[{"field": "password", "reason": "too_long"}],
        )
    folded = _folded(password)
    for word in _context_words(username, list(names)):
        if word in folded:
            raise WeakPassword(
                "The password must not contain the username, the customer's name "
                "or the business name.",
                errors=[{"field": "password", "reason": "context_word"}],
            )
    # zxcvbn knows the common-password lists and keyboard, repeat and sequence patterns.
    result = _zxcvbn()(password, max_length=MAX_LENGTH)
    if result["score"] < 3:
        raise WeakPassword(
            "The password is too easy to guess (a common password or a simple pattern). "
            "A few unrelated words make a strong one.",
            errors=[{"field": "password", "reason": "common_or_guessable"}],
        )


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
