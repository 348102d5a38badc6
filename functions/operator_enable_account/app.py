"""POST /operator/accounts/{username}/enable (F7): enable an account."""

from portal_accounts.accounts import lifecycle as accounts
from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AccountOut
from portal_accounts.audit import Actor

router = Router()


@router.post(
    "/operator/accounts/<username>/enable",
    summary="Enable an account",
    responses={200: {"description": "The account"}, **problem_responses(401, 404)},
)
def enable_account(username: str, operator: Actor) -> AccountOut:
    return AccountOut.of(accounts.enable(username, actor=operator))


handler = lambda_handler(router)
