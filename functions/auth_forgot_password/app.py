"""POST /auth/password/forgot (F5): email a reset link, if the account exists."""

from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import Accepted, ForgotIn
from portal_accounts.signin import recovery

router = Router()


@router.post(
    "/auth/password/forgot",
    summary="Ask for a password reset link",
    responses={
        202: {"description": "The same answer whether or not the account exists"},
        **problem_responses(400, 413, 415, 422),
    },
)
def forgot_password(request: ForgotIn) -> Response[Accepted]:
    recovery.request_reset(request.email)
    return Response(202, "application/json", Accepted())


handler = lambda_handler(router)
