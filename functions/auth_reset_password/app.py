"""POST /auth/password/reset (F5): choose a new password with an emailed link.

A password set with a link counts ResetLinkUsed and PasswordChanged: reset links and the
credentials email's set-password links alike (the route cannot tell them apart without
reading the link again)."""

from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import ResetIn
from portal_accounts.observability import count
from portal_accounts.signin import recovery

router = Router()


@router.post(
    "/auth/password/reset",
    summary="Set a new password with a reset or set-password link",
    responses={204: {"description": "Password set"}, **problem_responses(400, 410, 413, 415, 422)},
)
def reset_password(reset: ResetIn) -> Response[None]:
    recovery.reset_password(
        reset.token, password=reset.password, confirmation=reset.password_confirmation
    )
    count("ResetLinkUsed")
    count("PasswordChanged")
    return Response(204)


handler = lambda_handler(router)
