"""The HTTP edge of every API function: one route, its checks, problem documents.

Each function of template.yaml serves one route. `Router` records it with the decorator
its module uses (`@router.post("/auth/login", summary=..., responses=...)`), and
`lambda_handler(router)` is the Lambda entry point: limits, route match, the scope an
operator route needs (`require_scope`), the route function's arguments read from the
request, the call, and the answer in API Gateway's payload 2.0 shape.

The dispatcher owns the request: a route function never sees the event, it declares what
it takes in its signature, and each parameter is one of (`parameters_of`):

- a **path parameter**, named as in the route (`<customer_id>`): decoded once (an @ sent
  as %40 arrives as @), then checked against its annotation (`str`, or e.g. `int`);
- **the operator**, a parameter annotated `Actor` (portal_accounts.audit): who sent the
  request, from the JWT authorizer's claims (401 without them);
- **the storefront session**, a parameter annotated `Principal`
  (portal_accounts.credentials.sessions), as the session authorizer passed it (401 without
  one);
- **the body**, the one parameter annotated with a dataclass, a request schema of
  api/schemas.py (`X | None = None` when the body is optional): parsed and checked by
  `portal_accounts.validation`;
- **the fields sent**, a body annotated `Sent[X]` instead: a dict of just the fields the
  client sent, checked against X (a PATCH changes only those; null is there as None);
- any other parameter is a **query parameter** (`limit: Limit = 25`): checked against its
  annotation, its default when absent.

For example (functions/operator_update_customer):

    @router.patch("/operator/customers/<customer_id>", summary=..., responses=...)
    def update_customer(
        customer_id: str, changes: Sent[CustomerPatch], operator: Actor
    ) -> CustomerOut:

Every bad path, query or body field is reported in one 422. A signature the dispatcher
cannot read fails at import, never on a request. Nothing of a request is kept between
calls: the local stack calls one module from several threads at once.

Each request logs one "request" line (route, status, latency, actor type, problem type:
observability.log_request) with its requestId as correlation id, and flushes what it
counted (observability.observed). It imports neither pydantic nor Powertools' resolver,
which would cost every cold start more than everything else together; the OpenAPI
document is still written from the same routes and signatures by pydantic, at development
time (`local/openapi.py`, reading `parameters_of`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import inspect
import json
import re
import time
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from urllib.parse import unquote

from portal_accounts import init_done
from portal_accounts.api.problems import NO_STORE, SECURITY_HEADERS, from_domain_error
from portal_accounts.api.response import Response
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.credentials.sessions import Principal
from portal_accounts.dynamodb import BUSY, system_fault
from portal_accounts.errors import (
    AuthenticationFailed,
    BodyTooLarge,
    DomainError,
    Forbidden,
    InvalidInput,
    MalformedBody,
    NotFound,
    TemporarilyUnavailable,
    UnsupportedMediaType,
)
from portal_accounts.observability import log_request, logger, observed
from portal_accounts.validation import Invalid, check_value, checker, parse, parse_fields

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = [
    "ADMIN",
    "OPERATOR",
    "Response",
    "Router",
    "Sent",
    "lambda_handler",
    "parameters_of",
]

MAX_BODY_BYTES = 16 * 1024
OPERATOR_PREFIX = "/operator/"
JSON = "application/json"
BODY = "body"  # the body's name in a problem document's errors ({"field": "body", ...})
_PARAMETER = re.compile(r"<(\w+)>")

# What an operator route needs the token to carry: the name of a Settings field holding the
# accepted scope names (comma-separated, from the template's OperatorScopes and
# OperatorAdminScopes). OPERATOR is every /operator/ route's default; ADMIN is declared by
# the routes that change what every customer receives (templates) or undo a protection
# (unlock). The two are independent grants: an admin-only token opens only admin routes.
OPERATOR = "operator_scopes"
ADMIN = "operator_admin_scopes"
SCOPES = (OPERATOR, ADMIN)


@dataclasses.dataclass
class Route:
    method: str
    path: str  # with <name> for each path parameter, as in the decorator
    function: Callable[..., Any]
    summary: str | None = None
    responses: dict = dataclasses.field(default_factory=dict)
    scope: str | None = None  # OPERATOR or ADMIN on every operator route, else None

    @property
    def parameters(self) -> list[str]:
        return _PARAMETER.findall(self.path)

    @property
    def key(self) -> str:
        """`METHOD /path/{name}`, as template.yaml and API Gateway's routeKey name it."""
        return f"{self.method} " + _PARAMETER.sub(r"{\1}", self.path)


class Router:
    """The routes of one module. It keeps no request: the dispatcher hands each call its
    arguments (see the module's docstring)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str | None = None,
        responses=None,
        scope: str | None = None,
    ):
        """Register a route. An operator route needs OPERATOR unless it declares ADMIN:
        there is no way to declare one that needs no scope."""
        if path.startswith(OPERATOR_PREFIX):
            scope = scope or OPERATOR
            if scope not in SCOPES:
                raise ValueError(f"{path}: scope must be OPERATOR or ADMIN, not {scope!r}")
        elif scope is not None:
            raise ValueError(f"{path}: only operator routes take a scope (operator JWTs)")

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            self.routes.append(Route(method, path, function, summary, dict(responses or {}), scope))
            return function

        return register

    def get(self, path: str, **options):
        return self.route("GET", path, **options)

    def post(self, path: str, **options):
        return self.route("POST", path, **options)

    def put(self, path: str, **options):
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options):
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options):
        return self.route("DELETE", path, **options)


# ---- how a route's function is called -----------------------------------------------------

T = TypeVar("T")


class Sent(dict[str, Any], Generic[T]):
    """A body read as the fields the client sent, each checked against the schema T.

    `changes: Sent[CustomerPatch]` gets e.g. {"email": None} for {"email": null}: a field
    sent as null is there, with None, a field not sent is not (a PATCH changes only those).
    The OpenAPI document shows T's schema."""


# Where a route function's parameter comes from (see the module's docstring).
Kind = Literal["path", "query", "body", "sent", "operator", "session"]


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One parameter of a route function, and where its value comes from."""

    name: str
    kind: Kind
    hint: Any  # the annotation, as written
    default: Any  # inspect.Parameter.empty when required
    schema: type | None = None  # the body's dataclass ("body", "sent")

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


def parameters_of(route: Route) -> tuple[Parameter, ...]:
    """What the route's function takes, read from its signature; TypeError if the
    dispatcher cannot serve it (a path parameter missing, two bodies, a bad annotation)."""
    hints = typing.get_type_hints(route.function, include_extras=True)
    found: list[Parameter] = []
    for name, parameter in inspect.signature(route.function).parameters.items():
        if name not in hints:
            raise TypeError(f"{route.function.__name__}: {name} needs an annotation")
        hint, default = hints[name], parameter.default
        if name in route.parameters:
            checker(hint, text=True)  # TypeError now for a type no check exists for
            found.append(Parameter(name, "path", hint, default))
        elif hint is Actor:
            found.append(Parameter(name, "operator", hint, default))
        elif hint is Principal:
            found.append(Parameter(name, "session", hint, default))
        elif (body := _body_in(hint)) is not None:
            kind, schema = body
            found.append(Parameter(name, kind, hint, default, schema))
        else:
            checker(hint, text=True)
            found.append(Parameter(name, "query", hint, default))
    path = [p.name for p in found if p.kind == "path"]
    if sorted(path) != sorted(route.parameters):
        raise TypeError(f"{route.function.__name__} must take each of {route.parameters}")
    if len([p for p in found if p.kind in ("body", "sent")]) > 1:
        raise TypeError(f"{route.function.__name__} takes more than one body")
    return tuple(found)


def _body_in(hint: Any) -> tuple[Kind, type] | None:
    """("body" or "sent", the schema) if `hint` is `X`, `Sent[X]`, or either
    `| None`, with X a dataclass; None for any other annotation."""
    candidates = [hint]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        candidates += [arg for arg in typing.get_args(hint) if arg is not type(None)]
    for candidate in candidates:
        if typing.get_origin(candidate) is Sent:
            (schema,) = typing.get_args(candidate)
            if not _is_dataclass(schema):
                raise TypeError(f"Sent[X] needs a schema dataclass, not {schema}")
            return "sent", schema
        if _is_dataclass(candidate):
            return "body", candidate
    return None


def _is_dataclass(value: Any) -> bool:
    return isinstance(value, type) and dataclasses.is_dataclass(value)


@dataclasses.dataclass(frozen=True)
class _Call:
    """A route and what its function takes, read once, at import."""

    route: Route
    parameters: tuple[Parameter, ...]  # who sent it (operator, session) first
    pattern: re.Pattern  # one named group per path parameter

    @classmethod
    def of(cls, route: Route) -> _Call:
        who = ("operator", "session")
        parameters = sorted(parameters_of(route), key=lambda p: p.kind not in who)
        pattern = re.compile(
            "".join(
                f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part)
                for i, part in enumerate(_PARAMETER.split(route.path))
            )
        )
        return cls(route, tuple(parameters), pattern)

    def arguments(self, event: dict, match: re.Match) -> dict[str, Any]:
        """The function's arguments from this request. Raises AuthenticationFailed (401)
        without the operator or session it takes, else InvalidInput (422) naming every bad
        path, query and body field."""
        kwargs: dict[str, Any] = {}
        errors: list[dict[str, str]] = []
        given = event.get("queryStringParameters") or {}
        for parameter in self.parameters:
            name = parameter.name
            try:
                if parameter.kind == "operator":
                    kwargs[name] = operator_actor_of(event)
                elif parameter.kind == "session":
                    kwargs[name] = session_principal_of(event)
                elif parameter.kind == "path":
                    # Path parameters arrive URL-encoded (an @ as %40): decoded once, here.
                    raw = unquote(match.group(name))
                    kwargs[name] = check_value(parameter.hint, raw, field=name, text=True)
                elif parameter.kind == "query":
                    if name in given:
                        value = given[name]
                        kwargs[name] = check_value(parameter.hint, value, field=name, text=True)
                    elif parameter.required:
                        errors.append({"field": name, "reason": "required"})
                    else:
                        kwargs[name] = parameter.default
                else:
                    kwargs[name] = self._body(event, parameter)
            except Invalid as invalid:
                errors += invalid.errors
        if errors:
            raise InvalidInput("Some fields are missing or not valid: see errors.", errors=errors)
        return kwargs

    @staticmethod
    def _body(event: dict, parameter: Parameter) -> Any:
        raw = event.get("body") or ""
        if not raw:
            if parameter.required:
                raise Invalid([{"field": BODY, "reason": "required"}])
            return None
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            raise MalformedBody("The body is not valid JSON.") from None
        if payload is None and not parameter.required:
            return None
        assert parameter.schema is not None
        if parameter.kind == "sent":
            return Sent(parse_fields(parameter.schema, payload))
        return parse(parameter.schema, payload)


# ---- the entry point ----------------------------------------------------------------------


def lambda_handler(
    *routers: Router, max_body_bytes: int = MAX_BODY_BYTES
) -> Callable[[dict, LambdaContext], dict]:
    """The Lambda entry point of one function: limits, the route, problem documents.

    `max_body_bytes`: larger for the one route whose body is a list (an import's 1,000
    customer ids, about 40 KB)."""
    calls = [_Call.of(route) for router in routers for route in router.routes]

    @observed
    def handler(event: dict, context: LambdaContext) -> dict:
        started = time.perf_counter()
        status, problem_type = 500, None  # what a bug (raised, below) leaves
        found = _route_of(calls, event)  # by method and path, which admitting leaves as they are
        try:
            try:
                event = _admitted(event, max_body_bytes)
                if found is None:
                    raise NotFound("There is no such route.")
                call, match = found
                if call.route.scope:
                    require_scope(event, call.route.scope)
                result = call.route.function(**call.arguments(event, match))
            except TemporarilyUnavailable as error:
                problem_type = error.type
                result = _unavailable(error, system_fault(error.__cause__ or error) or error.type)
            except DomainError as error:
                problem_type = error.type
                result = from_domain_error(error)
            except Exception as error:
                code = system_fault(error)
                if code is None:
                    raise  # a bug: Lambda records it, API Gateway answers 500
                problem_type = TemporarilyUnavailable.type
                result = _unavailable(TemporarilyUnavailable(BUSY), code)
            answer = _answer(result)
            status = answer["statusCode"]
            return answer
        finally:
            log_request(
                # The route as the template names it, never its path (it holds usernames).
                route=found[0].route.key if found else None,
                status=status,
                started=started,
                actor_type=actor_type_of(event),
                problem_type=problem_type,
            )

    init_done()  # the last step of the function's module (see portal_accounts/__init__)
    return handler


def _unavailable(error: TemporarilyUnavailable, code: str) -> Response:
    """The 503 for AWS throttling, conflicts, timeouts: the client retries after a pause.

    Logged with the error's code only: AWS's messages may quote the request's values.
    """
    logger.warning("AWS is unavailable: answered 503", extra={"error_code": code})
    return from_domain_error(error)


def _authorizer(event: dict) -> dict:
    """What the API's authorizer passed: `jwt` claims (operator API) or a `lambda` context."""
    return (event.get("requestContext") or {}).get("authorizer") or {}


def _session_unavailable(context: object) -> bool:
    """The session authorizer could not check the session (AWS's fault): a 503.

    A context's booleans arrive as JSON booleans; "true" is read the same, to be safe."""
    return isinstance(context, dict) and str(context.get("unavailable")).lower() == "true"


def actor_type_of(event: dict) -> str:
    """Who sent the request, as the authorizers said: an operator (a JWT's subject), a
    customer (a session the session authorizer passed), or nobody known."""
    authorizer = _authorizer(event)
    claims = (authorizer.get("jwt") or {}).get("claims")
    if isinstance(claims, dict) and claims.get("sub"):
        return "operator"
    context = authorizer.get("lambda")
    if isinstance(context, dict) and context and not _session_unavailable(context):
        return "customer"
    return "anonymous"


def _route_of(calls: list[_Call], event: dict) -> tuple[_Call, re.Match] | None:
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
    path = str(event.get("rawPath") or "")
    for call in calls:
        match = call.pattern.fullmatch(path)
        if match and call.route.method == method:
            return call, match
    return None


def _answer(result: Any) -> dict:
    """The route's result in API Gateway's response shape: never cached, HTTPS only, its
    Content-Type taken as sent (problem documents come through here too)."""
    if not isinstance(result, Response):
        result = Response(200, JSON, result)
    body = result.body
    if body is not None and not isinstance(body, str):
        body = json.dumps(_plain(body), separators=(",", ":"))
    headers = {"Content-Type": result.content_type} if result.content_type else {}
    return {
        "statusCode": result.status_code,
        "headers": {**headers, **result.headers, **NO_STORE, **SECURITY_HEADERS},
        "body": body or "",
        "isBase64Encoded": False,
    }


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _admitted(event: dict, max_body_bytes: int = MAX_BODY_BYTES) -> dict:
    """What every request passes before its route runs; the event with a text body.

    Raises the problem to answer instead: 401 (an operator route without an operator:
    behind API Gateway the JWT authorizer already made sure), 503 (the session authorizer
    could not check the session, see functions/session_authorizer), 413 (too large), 415
    (not JSON), 400 (not UTF-8).
    """
    if str(event.get("rawPath", "")).startswith(OPERATOR_PREFIX):
        operator_actor_of(event)
    if _session_unavailable(_authorizer(event).get("lambda")):
        raise TemporarilyUnavailable(BUSY)
    body = event.get("body") or ""
    if not body:
        return event  # nothing to read: no Content-Type needed
    encoded = bool(event.get("isBase64Encoded"))
    if _size_of(body, encoded, max_body_bytes) > max_body_bytes:
        raise BodyTooLarge(f"Request bodies are limited to {max_body_bytes} bytes.")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    # Media types are case-insensitive (RFC 9110), parameters (charset) aside.
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != JSON:
        raise UnsupportedMediaType(
            "Send the body as JSON with Content-Type: application/json.",
            errors=[
                {
                    "field": "content-type",
                    "reason": f"unsupported: {media_type}" if media_type else "missing",
                }
            ],
        )
    if encoded:
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise MalformedBody("The body is not UTF-8 JSON.") from None
        event = {**event, "body": text, "isBase64Encoded": False}
    return event


def _size_of(body: str, base64_encoded: bool, limit: int = MAX_BODY_BYTES) -> int:
    """The body's size in bytes as the client sent it: UTF-8 for text, decoded for base64
    (whose validity is checked later: here only its length counts)."""
    if base64_encoded:
        return len(body) * 3 // 4 - body[-2:].count("=")
    if len(body) > limit:
        return len(body)  # too large whatever its characters: no need to encode it
    return len(body.encode("utf-8", "surrogatepass"))


def session_principal_of(event: dict) -> Principal:
    """The storefront session behind a raw event, as the session authorizer passed it."""
    try:
        return Principal.from_context(_authorizer(event).get("lambda") or {})
    except (KeyError, ValueError, TypeError, AttributeError):
        raise AuthenticationFailed("A storefront session is required.") from None


def operator_actor_of(event: dict) -> Actor:
    """The operator behind a raw event, from the JWT authorizer's claims."""
    claims = (_authorizer(event).get("jwt") or {}).get("claims") or {}
    if not isinstance(claims, dict) or not claims.get("sub"):
        raise AuthenticationFailed("An operator token is required.")
    return Actor(type="operator", id=str(claims["sub"]), email=claims.get("email"))


class InsufficientScope(Forbidden):
    """A valid operator token without the scope the route needs (RFC 6750's error code)."""

    type = "insufficient_scope"
    title = "Insufficient scope"


def accepted_scopes(scope: str) -> list[str]:
    """The scope names that grant OPERATOR or ADMIN, as configured (any one suffices)."""
    configured = getattr(get_settings(), scope)
    return [name.strip() for name in configured.split(",") if name.strip()]


def token_scopes(event: dict) -> set[str]:
    """The scopes of the operator token behind a raw event.

    API Gateway passes the claims as strings: `scope` (OAuth 2.0, Cognito access tokens) is
    space-separated, `scp` (Entra ID and others) too, or an array rendered "[a b]". It also
    lists them in jwt.scopes, but only on routes that declare AuthorizationScopes.
    """
    jwt = _authorizer(event).get("jwt") or {}
    claims = jwt.get("claims") or {}
    found = {str(name) for name in jwt.get("scopes") or []}
    for claim in ("scope", "scp"):
        value = claims.get(claim) if isinstance(claims, dict) else None
        if isinstance(value, list | tuple):
            found.update(str(name) for name in value)
        elif isinstance(value, str):
            text = value.strip()
            if text.startswith("[") and text.endswith("]"):
                text = text[1:-1]
            found.update(text.split())
    return found


def require_scope(event: dict, scope: str) -> None:
    """Raises InsufficientScope (403) unless the token carries one of the scope's names.

    Checked here rather than by API Gateway (AuthorizationScopes), whose refusal is its own
    {"message": "Forbidden"}: an HTTP API cannot answer it as a problem document.
    """
    accepted = accepted_scopes(scope)
    if token_scopes(event) & set(accepted):
        return
    needed = ", ".join(accepted) or f"(none configured: set {scope.upper()})"
    which = "the scope" if len(accepted) == 1 else "one of the scopes"
    raise InsufficientScope(
        f"This route needs an operator token with {which} {needed}.",
        errors=[{"field": "scope", "reason": f"one of: {needed}"}],
    )
