"""The storefront's Lambda REQUEST authorizer (payload 2.0, simple responses).

Reusable by any storefront API (bookings, purchases): it passes the account and its
linked customers to the handler. No result caching, so revocation is immediate.
"""

from portal_accounts import init_done
from portal_accounts.errors import AuthenticationFailed
from portal_accounts.observability import logger
from portal_accounts.sessions import authenticate

# While the password must be changed, a session may do only this.
ALLOWED_WHILE_CHANGE_REQUIRED = {"GET /me", "PUT /me/password", "POST /auth/logout"}


def _bearer(headers: dict) -> str | None:
    value = (headers or {}).get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: object) -> dict:
    try:
        principal = authenticate(_bearer(event.get("headers") or {}))
    except AuthenticationFailed:
        # API Gateway answers 401 when an authorizer fails with exactly this message.
        raise Exception("Unauthorized") from None
    if (
        principal.password_change_required
        and event.get("routeKey") not in ALLOWED_WHILE_CHANGE_REQUIRED
    ):
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": principal.context()}


init_done()  # the last step of init (see portal_accounts/__init__)
