"""POST /auth/logout (F12): end this session."""

from portal_accounts import auth
from portal_accounts.api.app import Response, Router, lambda_handler, session_principal
from portal_accounts.api.problems import problem_responses

router = Router()


@router.post(
    "/auth/logout",
    summary="Log out",
    responses={204: {"description": "Logged out"}, **problem_responses(401)},
)
def logout() -> Response[None]:
    auth.logout(session_principal(router))
    return Response(204)


handler = lambda_handler(router)
