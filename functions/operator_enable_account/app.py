"""POST /operator/accounts/{username}/enable (F7): enable an account."""

from portal_accounts import accounts
from portal_accounts.api.app import Router, lambda_handler, operator_actor, path_value
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AccountOut

router = Router()


@router.post(
    "/operator/accounts/<username>/enable",
    summary="Enable an account",
    responses={200: {"description": "The account"}, **problem_responses(401, 404)},
)
def enable_account(username: str) -> AccountOut:
    return AccountOut.of(accounts.enable(path_value(username), actor=operator_actor(router)))


handler = lambda_handler(router)
