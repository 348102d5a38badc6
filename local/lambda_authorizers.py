"""HTTP API Lambda REQUEST authorizers (payload 2.0), read from template.yaml.

As API Gateway does it: a request without the identity sources gets 401 and the authorizer
is not called; an authorizer raising an error whose message is "Unauthorized" gives 401;
`{"isAuthorized": false}` (simple responses) or a Deny policy gives 403; an authorizer
that raises anything else or answers nonsense gives 500. When it allows,
its `context` reaches the route's handler as requestContext.authorizer.lambda. No caching
(the template's ReauthorizeEvery is 0: a revoked session is refused at once).
"""

from __future__ import annotations

import sys
import traceback

from local import lambdas, template
from local.gateway import Authorizer, Denied
from local.lambdas import ACCOUNT_ID, Function


def _function_of(arn: object) -> str | None:
    """The logical id behind `FunctionArn: !GetAtt <Function>.Arn`."""
    if isinstance(arn, template.Tag) and arn.name == "GetAtt":
        return template.target(arn).removesuffix(".Arn")
    return None


def _allowed(result: object, simple: bool) -> tuple[bool, dict]:
    if not isinstance(result, dict):
        raise TypeError("the authorizer answered something that is not an object")
    if simple:
        if not isinstance(result.get("isAuthorized"), bool):
            raise TypeError("isAuthorized must be a boolean")
        return result["isAuthorized"], dict(result.get("context") or {})
    statements = (result.get("policyDocument") or {}).get("Statement") or []
    effects = {str(s.get("Effect", "")).lower() for s in statements if isinstance(s, dict)}
    return ("allow" in effects and "deny" not in effects), dict(result.get("context") or {})


def _request_event(event: dict, identity: list[str]) -> dict:
    context = event["requestContext"]
    region = lambdas.region()
    method, _, route_path = event["routeKey"].partition(" ")
    request = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": (
            f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{context['apiId']}/$default/"
            f"{method}{route_path}"
        ),
        "identitySource": identity,
        "routeKey": event["routeKey"],
        "rawPath": event["rawPath"],
        "rawQueryString": event["rawQueryString"],
        "headers": event["headers"],
        "requestContext": context,
    }
    for optional in ("cookies", "queryStringParameters", "pathParameters"):
        if optional in event:
            request[optional] = event[optional]
    return request


def lambda_authorizer(function: Function, config: dict) -> Authorizer:
    identity = config.get("Identity") or {}
    headers = [h.lower() for h in identity.get("Headers") or []]
    query_strings = list(identity.get("QueryStrings") or [])
    simple = bool(config.get("EnableSimpleResponses"))
    if str(config.get("AuthorizerPayloadFormatVersion", "2.0")) != "2.0":
        raise ValueError(f"{function.logical_id}: only payload format 2.0 is emulated")

    def authorize(event: dict) -> dict:
        values = [event["headers"].get(h) for h in headers]
        query = event.get("queryStringParameters") or {}
        values += [query.get(q) for q in query_strings]
        if not values or any(not v for v in values):
            raise Denied(401, "Unauthorized")
        try:
            result = function.invoke(_request_event(event, values))
            allowed, context = _allowed(result, simple)
        except Exception as error:
            if str(error) == "Unauthorized":
                # Lambda authorizers' convention: raising "Unauthorized" means 401.
                raise Denied(401, "Unauthorized") from None
            print(
                f"local gateway: authorizer {function.logical_id} failed:\n"
                f"{traceback.format_exc()}",
                file=sys.stderr,
                flush=True,
            )
            raise Denied(500, "Internal Server Error") from None
        if not allowed:
            raise Denied(403, "Forbidden")
        return {"lambda": context}

    return authorize


def from_template(functions: dict[str, Function]) -> dict[str, Authorizer]:
    """Every Lambda authorizer of every HttpApi in template.yaml, by name."""
    found: dict[str, Authorizer] = {}
    for api in template.resources("AWS::Serverless::HttpApi").values():
        authorizers = (api["Properties"].get("Auth") or {}).get("Authorizers") or {}
        for name, config in authorizers.items():
            logical_id = _function_of(config.get("FunctionArn"))
            if logical_id in functions:
                found[name] = lambda_authorizer(functions[logical_id], config)
    return found
