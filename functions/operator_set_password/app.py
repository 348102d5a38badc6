"""PUT /operator/accounts/{username}/password (F3): set a password typed twice."""

from portal_accounts.accounts import lifecycle as accounts
from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import PasswordSet
from portal_accounts.audit import Actor
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
def set_password(username: str, new: PasswordSet, operator: Actor) -> Response[None]:
    accounts.set_password(
        username,
        password=new.password,
        confirmation=new.password_confirmation,
        temporary=new.temporary,
        actor=operator,
    )
    count("PasswordChanged")
    return Response(204)


handler = lambda_handler(router)
