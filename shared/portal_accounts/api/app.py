"""The resolver every handler uses: validation, problem documents, limits, observability."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from portal_accounts.api.problems import (
    NO_STORE,
    from_domain_error,
    from_validation_error,
    problem,
)
from portal_accounts.audit import Actor
from portal_accounts.errors import (
    AuthenticationFailed,
    BodyTooLarge,
    DomainError,
    MalformedBody,
    UnsupportedMediaType,
)
from portal_accounts.observability import logger
from portal_accounts.sessions import Principal

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

MAX_BODY_BYTES = 16 * 1024
OPERATOR_PREFIX = "/operator/"

Router = APIGatewayHttpRouter


def build_resolver(*routers: APIGatewayHttpRouter) -> APIGatewayHttpResolver:
    resolver = APIGatewayHttpResolver(enable_validation=True)
    for router in routers:
        resolver.include_router(router)

    @resolver.exception_handler(DomainError)
    def _domain(error: DomainError):
        return from_domain_error(error)

    @resolver.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError):
        return from_validation_error(error)

    @resolver.not_found
    def _no_route(_: NotFoundError):
        return problem(404, "not_found", "Not found", "There is no such route.")

    return resolver


def lambda_handler(*routers: APIGatewayHttpRouter) -> Callable[[dict, LambdaContext], dict]:
    """The Lambda entry point of one function: size limit, then the resolver."""
    resolver = build_resolver(*routers)

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict, context: LambdaContext) -> dict:
        try:
            event = _admitted(event)
        except DomainError as error:
            return _raw(from_domain_error(error))
        result = resolver.resolve(event, context)
        result.setdefault("headers", {}).update(NO_STORE)
        return result

    handler.resolver = resolver  # type: ignore[attr-defined]
    return handler


def _admitted(event: dict) -> dict:
    """What every request passes before its route runs; the event with a text body.

    Raises the problem to answer instead: 401 (an operator route without an operator:
    behind API Gateway the JWT authorizer already made sure), 413 (too large), 415 (not
    JSON), 400 (not UTF-8).
    """
    if str(event.get("rawPath", "")).startswith(OPERATOR_PREFIX):
        operator_actor_of(event)
    body = event.get("body") or ""
    if not body:
        return event
    if len(body) > MAX_BODY_BYTES * (4 / 3 if event.get("isBase64Encoded") else 1):
        raise BodyTooLarge(f"Request bodies are limited to {MAX_BODY_BYTES} bytes.")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    # Only application/json: Powertools' validation reads no other type (a +json type would
    # get its own 415 shape, not a problem document).
    if media_type and media_type != "application/json":
        raise UnsupportedMediaType(
            "Send the body as JSON with Content-Type: application/json.",
            errors=[{"field": "content-type", "reason": f"unsupported: {media_type}"}],
        )
    if media_type and headers.get("content-type") != "application/json":
        # Media types are case-insensitive (RFC 9110); Powertools compares them as text.
        # Header names are lower case already in API Gateway's v2 events.
        event = {**event, "headers": {**headers, "content-type": "application/json"}}
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise MalformedBody("The body is not UTF-8 JSON.") from None
        event = {**event, "body": text, "isBase64Encoded": False}
    return event


def _raw(response) -> dict:
    """A problem answered before the resolver runs, in API Gateway's response shape."""
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": response.content_type, **response.headers},
        "body": response.body,
        "isBase64Encoded": False,
    }


def path_value(raw: str) -> str:
    """Path parameters arrive URL-encoded (an @ as %40): decode them once, here."""
    return unquote(raw)


def session_principal(resolver_or_router) -> Principal:
    """The storefront session behind the request, as the session authorizer passed it."""
    context = resolver_or_router.current_event.request_context
    lambda_context = (context.authorizer.get_lambda or {}) if context.authorizer else {}
    try:
        return Principal.from_context(lambda_context)
    except (KeyError, ValueError, TypeError):
        raise AuthenticationFailed("A storefront session is required.") from None


def operator_actor_of(event: dict) -> Actor:
    """The operator behind a raw event, from the JWT authorizer's claims."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    if not isinstance(claims, dict) or not claims.get("sub"):
        raise AuthenticationFailed("An operator token is required.")
    return Actor(type="operator", id=str(claims["sub"]), email=claims.get("email"))


def operator_actor(resolver_or_router) -> Actor:
    """The operator behind the current request."""
    return operator_actor_of(resolver_or_router.current_event.raw_event)
