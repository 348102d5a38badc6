"""RFC 9457 problem documents: the one place that maps errors to HTTP answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated

from portal_accounts.api.response import Response
from portal_accounts.errors import DomainError
from portal_accounts.validation import Describe

PROBLEM_JSON = "application/problem+json"
NO_STORE = {"Cache-Control": "no-store"}
# On every answer: browsers use HTTPS only for two years (the API has no HTTP listener to
# fall back to), and never guess a content type other than the one sent.
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(kw_only=True)
class FieldError:
    field: Annotated[str, Describe("The offending field, dotted for nested ones.")]
    reason: str


@dataclass(kw_only=True)
class Problem:
    type: Annotated[str, Describe("A stable code, e.g. invalid_or_expired_link.")]
    title: str
    status: int
    detail: str
    errors: list[FieldError] = field(default_factory=list)


def problem(
    status: int,
    type_: str,
    title: str,
    detail: str,
    errors: list[dict] | None = None,
    headers: dict | None = None,
    **extra: object,
) -> Response:
    body = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
        **extra,
    }
    return Response(
        status_code=status,
        content_type=PROBLEM_JSON,
        body=json.dumps(body),
        headers={**NO_STORE, **(headers or {})},
    )


def from_domain_error(error: DomainError) -> Response:
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return problem(
        error.status, error.type, error.title, error.detail, error.errors, headers, **error.extra
    )


def problem_responses(*statuses: int) -> dict:
    """The OpenAPI `responses` entries for a route's possible problem answers."""
    titles = {
        400: "Malformed request",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        410: "Link no longer valid",
        413: "Body too large",
        415: "Unsupported content type",
        422: "Invalid input",
        429: "Too many requests",
        503: "Temporarily unavailable: try again shortly",
    }
    return {
        status: {"description": titles[status], "content": {PROBLEM_JSON: {"model": Problem}}}
        for status in statuses
    }
