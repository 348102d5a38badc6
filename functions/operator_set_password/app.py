"""PUT /operator/accounts/{username}/password (F3): set a password typed twice."""

from portal_accounts import accounts
from portal_accounts.api.app import Response, Router, lambda_handler, operator_actor, path_value
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import PasswordSet
from portal_accounts.observability import count

router = Router()


@router.put(
    "/operator/accounts/<username>/password",
    summary="Set an account's password",
    responses={
        204: {"description": "Password set"},
        **problem_responses(400, 401, 404, 413, 415, 422),
    },
)
def set_password(username: str, body: PasswordSet) -> Response[None]:
    accounts.set_password(
        path_value(username),
        password=body.password,
        confirmation=body.password_confirmation,
        temporary=body.temporary,
        actor=operator_actor(router),
    )
    count("PasswordChanged")
    return Response(204)


handler = lambda_handler(router)
