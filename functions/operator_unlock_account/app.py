"""POST /operator/accounts/{username}/unlock: end an account's login lockout (admin scope)."""

from portal_accounts import auth
from portal_accounts.api.app import ADMIN, Router, lambda_handler, operator_actor, path_value
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AccountOut

router = Router()


@router.post(
    "/operator/accounts/<username>/unlock",
    summary="Unlock an account locked out by failed logins",
    responses={200: {"description": "The account"}, **problem_responses(401, 404)},
    scope=ADMIN,  # it lifts the protection against password guessing
)
def unlock_account(username: str) -> AccountOut:
    return AccountOut.of(auth.unlock(path_value(username), actor=operator_actor(router)))


handler = lambda_handler(router)
