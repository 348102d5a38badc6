"""POST /auth/password/reset/verify (F5): is this link still good? Does not consume it."""

from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import LinkIn, LinkValid
from portal_accounts.signin import recovery

router = Router()


@router.post(
    "/auth/password/reset/verify",
    summary="Check a reset or set-password link",
    responses={
        200: {"description": "The link is valid"},
        **problem_responses(400, 410, 413, 415, 422),
    },
)
def verify_link(link: LinkIn) -> LinkValid:
    recovery.verify_link(link.token)
    return LinkValid()


handler = lambda_handler(router)
