"""One OpenAPI document for both APIs, generated from the handlers' own models.

`python -m local.openapi --write docs/openapi.json` regenerates the committed copy;
tests/unit/test_openapi.py fails when code and document drift apart.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import json
import typing
from collections.abc import Callable
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server
from aws_lambda_powertools.event_handler.openapi.params import Query

from local import template

DOCUMENT = template.ROOT / "docs" / "openapi.json"

# Route authorizer (template.yaml) -> OpenAPI security scheme.
SECURITY = {"OperatorJwt": "operatorJwt", "SessionAuthorizer": "storefrontSession"}
# API Gateway's own answers ({"message": "..."}) and their schema.
GATEWAY_JSON = "application/json"
GATEWAY_ERROR = "GatewayError"
# Schema keywords that do not constrain a value.
NOT_CONSTRAINTS = {"title", "description", "examples"}
SCHEMES = {
    "operatorJwt": HTTPBearer(
        bearerFormat="JWT",
        description="An operator's JWT from the business's identity provider.",
    ),
    "storefrontSession": HTTPBearer(
        bearerFormat="opaque",
        description="A storefront session token from POST /auth/login.",
    ),
}


def api_routes() -> list:
    """The template's routes but the customer's HTML pages (portal_accounts.pages, their
    own document: docs/pages.md), whose functions have no API router."""
    return [
        route
        for route in template.routes()
        if hasattr(importlib.import_module(route.module), "router")
    ]


def generate() -> dict:
    from portal_accounts.api.app import ADMIN, OPERATOR
    from portal_accounts.api.problems import PROBLEM_JSON
    from portal_accounts.email.defaults import LOCALES, TEMPLATE_IDS

    path_values = {"template_id": TEMPLATE_IDS, "locale": LOCALES}

    routes = api_routes()
    routers = [importlib.import_module(route.module).router for route in routes]
    resolver = _resolver(routers)
    document = json.loads(
        resolver.get_openapi_json_schema(
            title="portal-accounts",
            version="1.0.0",
            description=(
                "Operator dashboard API (every /operator route needs an operator JWT) and "
                "storefront API. Errors are RFC 9457 problem documents, except API Gateway's "
                'own answers (GatewayError: {"message": "..."}).'
            ),
            servers=[Server(url="http://127.0.0.1:3000", description="local stack")],
            security_schemes=SCHEMES,
        )
    )
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    gateway = {GATEWAY_JSON: {"schema": {"$ref": f"#/components/schemas/{GATEWAY_ERROR}"}}}
    lambda_authorizers = _lambda_authorizer_allow_lists()
    # The scope names each operator route needs, as the template's parameters default them.
    defaults = template.parameter_defaults()
    scope_names = {
        OPERATOR: defaults["OperatorScopes"].split(","),
        ADMIN: defaults["OperatorAdminScopes"].split(","),
    }
    for route, router in zip(routes, routers, strict=True):
        operation = document["paths"][route.path][route.method.lower()]
        (served,) = [r for r in router.routes if r.method == route.method]
        # Security per operation, from the same template the gateway reads; OpenAPI 3.1
        # lists what a bearer token must carry (here its scopes) in the requirement.
        scheme = SECURITY.get(route.authorizer or "")
        needed = scope_names[served.scope] if served.scope else []
        operation["security"] = [{scheme: needed}] if scheme else []
        responses = operation["responses"]
        has_body = "requestBody" in operation
        # What the resolver really answers: validation errors become problem documents
        # (portal_accounts.api.problems), and a 204 has no body. Powertools declares a 422
        # on every operation; keep it only where input can be refused (a body, a
        # constrained parameter) or where the handler declares it itself.
        declared_422 = "HTTPValidationError" not in json.dumps(responses.get("422", {}))
        if "422" in responses:
            if declared_422 or has_body or any(map(_can_fail, operation.get("parameters", []))):
                responses["422"] = {"description": "Invalid input", "content": dict(problem)}
            else:
                del responses["422"]
        if "204" in responses:
            responses["204"].pop("content", None)
        # Path parameters the handlers take as text but look up in a fixed set (any other
        # value answers 404): the set, so that clients (and the fuzzer) see the real values.
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "path" and parameter["name"] in path_values:
                parameter["schema"]["enum"] = list(path_values[parameter["name"]])
                parameter["description"] = "Any other value answers 404."
        # What the handlers answer before their own code runs (portal_accounts.api.app):
        # any request body over its limit is refused, whatever the route.
        _declare(responses, 413, "Body too large", problem)
        # A fault of AWS's (throttling, a transaction conflict, a timeout) or of the session
        # authorizer's reads, on any route: retry after Retry-After.
        _declare(responses, 503, "Temporarily unavailable", problem)
        if served.scope:
            _declare(responses, 403, f"insufficient_scope: needs {' or '.join(needed)}", problem)
        if has_body:
            _declare(responses, 400, "Malformed request: the body is not JSON", problem)
            _declare(responses, 415, "Unsupported content type", problem)
        # What API Gateway answers itself, as {"message": "..."}: an authorizer's refusal,
        # its own payload limit, its route throttling.
        if route.authorizer:
            _declare(responses, 401, "Not authenticated", gateway)
        allowed = lambda_authorizers.get(route.authorizer or "", ())
        if route.authorizer in lambda_authorizers and (
            allowed is None or f"{route.method} {route.path}" not in allowed
        ):
            _declare(responses, 403, "Refused by the authorizer", gateway)
        _declare(responses, 413, "Body too large", gateway)
        _declare(responses, 429, "Too many requests", gateway)
    _link(document)
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        document["components"]["schemas"].pop(unused, None)
    document["components"]["schemas"][GATEWAY_ERROR] = {
        "title": GATEWAY_ERROR,
        "description": (
            "API Gateway's own answer, before or instead of a handler: "
            '{"message": "Unauthorized"} (401, an authorizer refused the credentials), '
            '{"message": "Forbidden"} (403, the session authorizer refused the route), '
            '{"message": "Request Entity Too Large"} (413, over 10 MiB), '
            '{"message": "Too Many Requests"} (429, route throttling; not emulated locally).'
        ),
        "type": "object",
        "properties": {"message": {"title": "Message", "type": "string"}},
        "required": ["message"],
    }
    return document


def _resolver(routers: list) -> APIGatewayHttpResolver:
    """Powertools' validating resolver with our routes, for its OpenAPI document only.

    The functions serve their routes with `portal_accounts.api.app`, which reads the same
    signatures and annotations; here each route is registered with its signature resolved
    for Powertools: query constraints as `Query(...)`, `Sent[X]` as X, our `Response[X]`
    as Powertools', and no operator or session parameter.
    """
    resolver = APIGatewayHttpResolver(enable_validation=True)
    for router in routers:
        for route in router.routes:
            register = resolver.route(
                route.path, route.method, summary=route.summary, responses=route.responses
            )
            register(_documented(route))
    return resolver


def _documented(route) -> Callable:
    """The route's function with the signature Powertools reads: what the dispatcher takes
    from the request (`parameters_of`), without the operator and the session (the
    authorizers', documented as the operation's security)."""
    from portal_accounts.api.app import parameters_of
    from portal_accounts.api.response import Response

    function = route.function
    signature = inspect.signature(function)
    parameters = []
    for parameter in parameters_of(route):
        if parameter.kind in ("operator", "session"):
            continue
        shown = signature.parameters[parameter.name]
        if parameter.kind == "query":
            shown = shown.replace(annotation=_query(parameter.hint))
        elif parameter.kind in ("body", "sent"):
            # Sent[X]: X's schema (`| None` when optional). Named "body" whatever the
            # function calls it: Powertools titles an optional body's schema after it.
            schema = parameter.schema if parameter.kind == "sent" else parameter.hint
            if parameter.kind == "sent" and not parameter.required:
                schema = schema | None
            shown = shown.replace(name="body", annotation=schema)
        else:
            shown = shown.replace(annotation=parameter.hint)
        parameters.append(shown)
    hints = typing.get_type_hints(function, include_extras=True)
    returns = hints.get("return", signature.return_annotation)
    if typing.get_origin(returns) is Response:
        returns = PowertoolsResponse[typing.get_args(returns)]  # type: ignore[misc]

    @functools.wraps(function)
    def documented(*args, **kwargs):  # never called: Powertools only reads it
        return function(*args, **kwargs)

    del documented.__wrapped__  # Powertools must read the signature below, not the original
    documented.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=returns
    )
    return documented


# Our constraints (portal_accounts.validation) -> Powertools' Query() arguments.
QUERY_CONSTRAINTS = {"MinLen": "min_length", "MaxLen": "max_length", "Ge": "ge", "Le": "le"}


def _query(hint: object) -> object:
    """A query parameter's annotation as Powertools reads it: Annotated[T, Query(...)]."""
    base, metadata = hint, ()
    if typing.get_origin(hint) is typing.Annotated:
        base, *metadata = typing.get_args(hint)
    constraints = {
        QUERY_CONSTRAINTS[type(m).__name__]: m.value
        for m in metadata
        if type(m).__name__ in QUERY_CONSTRAINTS
    }
    return typing.Annotated[base, Query(**constraints)]


# Answers that name a customer or an account, and where in their body: OpenAPI links from
# them to every operation with that path parameter, so that a client (or the fuzzer's
# stateful phase) can follow a created customer or account to what can be done with it.
LINK_SOURCES = {
    ("post", "/operator/customers", "201"): {"customer_id": "/customer_id"},
    ("get", "/operator/customers/{customer_id}", "200"): {"username": "/account/username"},
    ("post", "/operator/customers/{customer_id}/account", "201"): {
        "username": "/username",
        "customer_id": "/customers/0/customer_id",
    },
    ("put", "/operator/customers/{customer_id}/account", "200"): {
        "username": "/username",
        "customer_id": "/customers/0/customer_id",
    },
    ("get", "/operator/accounts", "200"): {
        "username": "/items/0/username",
        "customer_id": "/items/0/customers/0/customer_id",
    },
}


def _link(document: dict) -> None:
    for (method, path, status), pointers in LINK_SOURCES.items():
        response = document["paths"][path][method]["responses"][status]
        links = response.setdefault("links", {})
        for parameter, pointer in pointers.items():
            for target_path, operations in sorted(document["paths"].items()):
                if "{" + parameter + "}" not in target_path:
                    continue
                for target_method, operation in sorted(operations.items()):
                    links[operation["operationId"]] = {
                        "operationId": operation["operationId"],
                        "parameters": {parameter: f"$response.body#{pointer}"},
                        "description": f"{target_method.upper()} {target_path} with this "
                        f"{parameter}",
                    }


def _declare(responses: dict, status: int, description: str, content: dict) -> None:
    """Add a content type (and, when new, the status) to an operation's responses."""
    response = responses.setdefault(str(status), {"description": description})
    response.setdefault("content", {}).update(content)


def _can_fail(parameter: dict) -> bool:
    """Whether validation can refuse a value of this parameter (a bare string cannot)."""
    schema = {k: v for k, v in parameter.get("schema", {}).items() if k not in NOT_CONSTRAINTS}
    return parameter.get("in") != "path" or schema != {"type": "string"}


def _lambda_authorizer_allow_lists() -> dict[str, frozenset[str] | None]:
    """Lambda authorizer name -> the route keys it never refuses with 403 (None: unknown).

    A Lambda authorizer may answer {"isAuthorized": false}, and API Gateway then answers
    403. The session authorizer lists the routes it lets through whatever the session's
    state (ALLOWED_WHILE_CHANGE_REQUIRED); any other route can get that 403.
    """
    found: dict[str, frozenset[str] | None] = {}
    for api in template.resources("AWS::Serverless::HttpApi").values():
        authorizers = (api["Properties"].get("Auth") or {}).get("Authorizers") or {}
        for name, config in authorizers.items():
            arn = config.get("FunctionArn")
            if not (isinstance(arn, template.Tag) and arn.name == "GetAtt"):
                continue  # a JWT authorizer: it answers 401 only
            function = template.load()["Resources"][template.target(arn).removesuffix(".Arn")]
            module = importlib.import_module(template.module_of(function))
            allowed = getattr(module, "ALLOWED_WHILE_CHANGE_REQUIRED", None)
            found[name] = frozenset(allowed) if allowed is not None else None
    return found


def render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="write the document to this file")
    args = parser.parse_args()
    text = render(generate())
    if args.write:
        args.write.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
