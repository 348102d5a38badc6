"""POST /auth/login (F12): a storefront session for a username and password.

Counts each login's outcome: LoginSucceeded, LoginFailed (401), LoginThrottled (a 429
while the username waits after LOGIN_MAX_FAILURES), LoginLocked (a 429 because
LOGIN_LOCKOUT_FAILURES locked it until a reset or an unlock). A 503 counts none of them:
it was not the customer's attempt.
"""

from portal_accounts import clock
from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import LinkedCustomer, LoginIn, LoginOut
from portal_accounts.errors import AuthenticationFailed, LockedOut, Throttled
from portal_accounts.observability import count
from portal_accounts.signin import auth

router = Router()


@router.post(
    "/auth/login",
    summary="Log in",
    responses={
        200: {"description": "A new session"},
        **problem_responses(400, 401, 413, 415, 422, 429, 503),
    },
)
def login(credentials: LoginIn) -> LoginOut:
    try:
        result = auth.login(credentials.username, credentials.password)
    except AuthenticationFailed:
        count("LoginFailed")
        raise
    except LockedOut:
        count("LoginLocked")
        raise
    except Throttled:
        count("LoginThrottled")
        raise
    count("LoginSucceeded")
    return LoginOut(
        token=result.token,
        expires_at=clock.iso(result.session.absolute_expires_at),
        password_change_required=bool(result.account.password_temporary),
        customers=[LinkedCustomer(**c) for c in result.customers],
    )


handler = lambda_handler(router)
