"""The storefront's Lambda REQUEST authorizer (payload 2.0, simple responses).

It passes the account and its linked customers to the handler. No result caching, so
revocation is immediate. Only for this API's routes: see below.

When AWS fails the check (DynamoDB throttling, a timeout), the session is neither valid
nor ended, and an authorizer can only allow, deny (401, 403) or fail (API Gateway's 500).
It allows with UNAVAILABLE_CONTEXT and no principal: the handler's dispatcher
(portal_accounts.api.app) answers that with a 503 problem and Retry-After before any route
runs, so the client retries instead of logging its customer out. Every function behind
this authorizer must be served by that dispatcher (a test checks each route of the
template); another API that wants these sessions needs an authorizer of its own that
fails closed.
"""

import time

from portal_accounts import init_done
from portal_accounts.credentials.sessions import UNAVAILABLE_CONTEXT, authenticate
from portal_accounts.dynamodb import system_fault
from portal_accounts.errors import AuthenticationFailed, TemporarilyUnavailable
from portal_accounts.observability import count, elapsed_ms, logger, observed

# While the password must be changed, a session may do only this.
ALLOWED_WHILE_CHANGE_REQUIRED = {"GET /me", "PUT /me/password", "POST /auth/logout"}

# The decisions of the "authorizer" line; "error" is a bug (API Gateway answers 500).
ALLOW, DENY, UNAVAILABLE, ERROR = "allow", "deny", "unavailable", "error"
# Why a request was denied: no valid session (API Gateway's 401), or one that may only
# change its password (403).
NO_SESSION, CHANGE_REQUIRED = "no_session", "password_change_required"


def _bearer(headers: dict) -> str | None:
    value = (headers or {}).get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _unavailable(code: str) -> dict:
    logger.warning("AWS is unavailable: the session was not checked", extra={"error_code": code})
    return {"isAuthorized": True, "context": UNAVAILABLE_CONTEXT}


@observed
def handler(event: dict, context: object) -> dict:
    """Allow, deny or "unavailable"; one "authorizer" line each (the route, the decision,
    why a denial, the latency: never the token), and AuthorizerDenied counted on denials."""
    started = time.perf_counter()
    decision, reason = ERROR, None
    try:
        decision, reason, answer = _decide(event)
        return answer
    except AuthenticationFailed:
        decision, reason = DENY, NO_SESSION
        # API Gateway answers 401 when an authorizer fails with exactly this message.
        raise Exception("Unauthorized") from None
    finally:
        if decision == DENY:
            count("AuthorizerDenied")
        logger.info(
            "authorizer",
            extra={
                "route": event.get("routeKey"),
                "decision": decision,
                "reason": reason,
                "latency_ms": elapsed_ms(started),
            },
        )


def _decide(event: dict) -> tuple[str, str | None, dict]:
    try:
        principal = authenticate(_bearer(event.get("headers") or {}))
    except AuthenticationFailed:
        raise  # no valid session: the 401 (above), not a fault below
    except TemporarilyUnavailable as error:  # DynamoDB kept keys unprocessed
        return UNAVAILABLE, error.type, _unavailable(error.type)
    except Exception as error:
        code = system_fault(error)
        if code is None:
            raise  # a bug: API Gateway answers 500
        return UNAVAILABLE, code, _unavailable(code)
    if (
        principal.password_change_required
        and event.get("routeKey") not in ALLOWED_WHILE_CHANGE_REQUIRED
    ):
        return DENY, CHANGE_REQUIRED, {"isAuthorized": False}
    return ALLOW, None, {"isAuthorized": True, "context": principal.context()}


init_done()  # the last step of init (see portal_accounts/__init__)
