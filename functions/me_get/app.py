"""GET /me (F12): who is logged in, and the customers they can act for."""

from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import LinkedCustomer, MeOut
from portal_accounts.credentials.sessions import Principal

router = Router()


@router.get(
    "/me",
    summary="The session's account and customers",
    responses={200: {"description": "The account"}, **problem_responses(401)},
)
def me(session: Principal) -> MeOut:
    return MeOut(
        username=session.username,
        customers=[LinkedCustomer(**c) for c in session.customers],
        password_change_required=session.password_change_required,
    )


handler = lambda_handler(router)
