"""Opaque cursors over DynamoDB's LastEvaluatedKey.

A cursor is base64url JSON of the key. On the way back in it is checked against the
shape the query expects (and its fixed key parts against the request's), so a forged or
stale cursor is a 422, never a 500 and never a read outside the caller's query.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from portal_accounts.errors import InvalidInput


@dataclass
class Page:
    items: list = field(default_factory=list)
    next_cursor: str | None = None
    # The page stopped at its read budget before it was full: fewer items than asked
    # (maybe none), though more may match after next_cursor.
    partial: bool = False


def bad_cursor() -> InvalidInput:
    return InvalidInput(
        "The cursor is not valid for this query: start again without it.",
        errors=[{"field": "cursor", "reason": "invalid"}],
    )


def encode_cursor(last_key: dict | None, **extra: str) -> str | None:
    if last_key is None or (not last_key and not extra):
        return None
    payload = {"k": last_key, **extra}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode_payload(cursor: str) -> dict:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeError):
        raise bad_cursor() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("k"), dict):
        raise bad_cursor()
    return payload


# DynamoDB refuses (with a ValidationException, not an empty page) a key attribute that is
# empty or longer than 1,024 bytes for a sort key (2,048 for a partition key): the smaller
# bound for both, since every key we page over is well under it.
MAX_KEY_BYTES = 1024


def check_key(key: dict, fixed: dict[str, str], free: tuple[str, ...]) -> dict:
    """Check a LastEvaluatedKey: exactly the expected attributes, all non-empty strings."""
    if set(key) != set(fixed) | set(free):
        raise bad_cursor()
    for name, value in key.items():
        if not isinstance(value, dict) or set(value) != {"S"} or not isinstance(value["S"], str):
            raise bad_cursor()
        if not value["S"] or len(value["S"].encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise bad_cursor()
        if name in fixed and value["S"] != fixed[name]:
            raise bad_cursor()
    return key


def decode_cursor(cursor: str | None, fixed: dict[str, str], free: tuple[str, ...]) -> dict | None:
    if not cursor:
        return None
    return check_key(decode_payload(cursor)["k"], fixed, free)
