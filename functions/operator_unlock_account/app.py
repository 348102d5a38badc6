"""POST /operator/accounts/{username}/unlock: end an account's login lockout (admin scope)."""

from portal_accounts.api.app import ADMIN, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AccountOut
from portal_accounts.audit import Actor
from portal_accounts.signin import auth

router = Router()


@router.post(
    "/operator/accounts/<username>/unlock",
    summary="Unlock an account locked out by failed logins",
    responses={200: {"description": "The account"}, **problem_responses(401, 404)},
    scope=ADMIN,  # it lifts the protection against password guessing
)
def unlock_account(username: str, operator: Actor) -> AccountOut:
    return AccountOut.of(auth.unlock(username, actor=operator))


handler = lambda_handler(router)
