"""GET /me (F12): who is logged in, and the customers they can act for."""

from portal_accounts.api.app import Router, lambda_handler, session_principal
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import LinkedCustomer, MeOut

router = Router()


@router.get(
    "/me",
    summary="The session's account and customers",
    responses={200: {"description": "The account"}, **problem_responses(401)},
)
def me() -> MeOut:
    principal = session_principal(router)
    return MeOut(
        username=principal.username,
        customers=[LinkedCustomer(**c) for c in principal.customers],
        password_change_required=principal.password_change_required,
    )


handler = lambda_handler(router)
