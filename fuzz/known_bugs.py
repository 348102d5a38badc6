"""Bugs the fuzzer found in shared/ or functions/, left out of the run until they are fixed.

Each entry names the exact inputs it leaves out (`case`: schemathesis never sends them) or
the exact answers it tolerates (`response`: the audit of fuzz.audit does not count them),
so everything else stays checked. Remove an entry once its bug is fixed: the run must then
pass without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KnownBug:
    id: str
    summary: str
    # schemathesis Case -> True when the case would trigger the bug (it is not sent).
    case: Callable[[Any], bool] | None = None
    # (status, content type, body text) -> True when the answer is the bug's.
    response: Callable[[int, str, str], bool] | None = None


def _content_type(case: Any) -> str:
    headers = getattr(case, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "content-type":
            return str(value)
    return str(getattr(case, "media_type", None) or "")


def _non_utf8_body(case: Any) -> bool:
    body = getattr(case, "body", None)
    if isinstance(body, bytes | bytearray):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return True
    return False


def _multipart_without_boundary(case: Any) -> bool:
    value = _content_type(case).lower()
    return value.split(";")[0].strip() == "multipart/form-data" and "boundary=" not in value


def _powertools_415(status: int, content_type: str, body: str) -> bool:
    if status != 415:
        return False
    try:
        return "statusCode" in json.loads(body)
    except (ValueError, TypeError):
        return False


KNOWN_BUGS: tuple[KnownBug, ...] = (
    KnownBug(
        id="non-utf8-body",
        summary=(
            "A request body that is not UTF-8 (e.g. bytes 8f 12 44 38 with Content-Type: "
            "application/json) answers 500 on every operation with a body: the gateway hands "
            "it base64-encoded and Powertools' decoded_body raises UnicodeDecodeError."
        ),
        case=_non_utf8_body,
    ),
    KnownBug(
        id="multipart-without-boundary",
        summary=(
            "Content-Type: multipart/form-data without a boundary answers 500 on every "
            "operation with a body: Powertools' _parse_multipart_data raises ValueError."
        ),
        case=_multipart_without_boundary,
    ),
    KnownBug(
        id="powertools-415",
        summary=(
            "An unsupported Content-Type (e.g. text/plain) answers Powertools' own 415 "
            '{"statusCode": 415, "detail": [...]} as application/json, not a problem '
            "document (SPEC: errors are RFC 9457 problem documents)."
        ),
        response=_powertools_415,
    ),
)


def bug_of_case(case: Any) -> KnownBug | None:
    return next((bug for bug in KNOWN_BUGS if bug.case is not None and bug.case(case)), None)


def bug_of_response(status: int, content_type: str, body: str) -> KnownBug | None:
    return next(
        (
            bug
            for bug in KNOWN_BUGS
            if bug.response is not None and bug.response(status, content_type, body)
        ),
        None,
    )
