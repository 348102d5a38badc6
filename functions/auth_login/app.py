"""POST /auth/login (F12): a storefront session for a username and password."""

from portal_accounts import auth, clock
from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import LinkedCustomer, LoginIn, LoginOut

router = Router()


@router.post(
    "/auth/login",
    summary="Log in",
    responses={
        200: {"description": "A new session"},
        **problem_responses(400, 401, 413, 415, 422, 429, 503),
    },
)
def login(body: LoginIn) -> LoginOut:
    result = auth.login(body.username, body.password)
    return LoginOut(
        token=result.token,
        expires_at=clock.iso(result.session.absolute_expires_at),
        password_change_required=bool(result.account.password_temporary),
        customers=[LinkedCustomer(**c) for c in result.customers],
    )


handler = lambda_handler(router)
