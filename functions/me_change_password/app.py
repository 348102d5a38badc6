"""PUT /me/password (F13): change the password; the account's other sessions end."""

from portal_accounts import auth
from portal_accounts.api.app import Response, Router, lambda_handler, session_principal
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import ChangePasswordIn
from portal_accounts.observability import count

router = Router()


@router.put(
    "/me/password",
    summary="Change the password",
    responses={204: {"description": "Changed"}, **problem_responses(400, 401, 403, 413, 415, 422)},
)
def change_password(body: ChangePasswordIn) -> Response[None]:
    auth.change_password(
        session_principal(router),
        current=body.current_password,
        new=body.new_password,
        confirmation=body.new_password_confirmation,
    )
    count("PasswordChanged")
    return Response(204)


handler = lambda_handler(router)
