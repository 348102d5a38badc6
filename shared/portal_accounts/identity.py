"""Emails and usernames: a username is the customer's email, validated and normalised."""

from __future__ import annotations

import unicodedata


def lookup_key(raw: str) -> str:
    """The key an existing username is stored under, from whatever was typed.

    Cheap on purpose (no validation): finding a login only needs the same folding that
    normalise_email applies, and a malformed one is simply not found.
    """
    return unicodedata.normalize("NFC", raw.strip()).lower()


def normalise_email(raw: str) -> str:
    """The canonical form of an email, or ValueError with a reason a person can act on.

    Syntax only (no DNS: a Lambda must not depend on resolvers). The whole address is
    lower-cased so that usernames compare case-insensitively.
    """
    # Imported here: only the flows that take a new address pay for it at cold start.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return unicodedata.normalize("NFC", result.normalized).lower()


def username_or_none(raw: str | None) -> str | None:
    """The username a customer's email would give, or None when it is missing or invalid."""
    if not raw:
        return None
    try:
        return normalise_email(raw)
    except ValueError:
        return None
