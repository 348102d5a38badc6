"""POST /auth/logout (F12): end this session."""

from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.credentials.sessions import Principal
from portal_accounts.signin import auth

router = Router()


@router.post(
    "/auth/logout",
    summary="Log out",
    responses={204: {"description": "Logged out"}, **problem_responses(401)},
)
def logout(session: Principal) -> Response[None]:
    auth.logout(session)
    return Response(204)


handler = lambda_handler(router)
