"""PUT /me/password (F13): change the password; the account's other sessions end."""

from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import ChangePasswordIn
from portal_accounts.credentials.sessions import Principal
from portal_accounts.observability import count
from portal_accounts.signin import auth

router = Router()


@router.put(
    "/me/password",
    summary="Change the password",
    responses={204: {"description": "Changed"}, **problem_responses(400, 401, 403, 413, 415, 422)},
)
def change_password(change: ChangePasswordIn, session: Principal) -> Response[None]:
    auth.change_password(
        session,
        current=change.current_password,
        new=change.new_password,
        confirmation=change.new_password_confirmation,
    )
    count("PasswordChanged")
    return Response(204)


handler = lambda_handler(router)
