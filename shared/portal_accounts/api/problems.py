"""RFC 9457 problem documents: the one place that maps errors to HTTP answers."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from portal_accounts.errors import DomainError

PROBLEM_JSON = "application/problem+json"
NO_STORE = {"Cache-Control": "no-store"}


class FieldError(BaseModel):
    field: str = Field(description="The offending field, dotted for nested ones.")
    reason: str


class Problem(BaseModel):
    type: str = Field(description="A stable code, e.g. invalid_or_expired_link.")
    title: str
    status: int
    detail: str
    errors: list[FieldError] = Field(default_factory=list)


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


def _field_name(loc: tuple | list) -> str:
    # loc is ("body", "password") or ("query", "limit"): the field is what follows.
    parts = [str(p) for p in loc[1:]] or [str(loc[0])]
    return ".".join(parts)


def from_validation_error(error: RequestValidationError) -> Response:
    issues = error.errors()
    if any(issue.get("type") == "json_invalid" for issue in issues):
        return problem(400, "malformed_json", "Malformed JSON", "The body is not valid JSON.")
    errors = [
        {"field": _field_name(issue.get("loc", ())), "reason": issue.get("msg") or issue["type"]}
        for issue in issues
    ]
    return problem(
        422,
        "validation_error",
        "Invalid input",
        "Some fields are missing or not valid: see errors.",
        errors,
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
