"""PUT /operator/customers/{customer_id}/account (F10): link an existing login."""

from portal_accounts.accounts import lifecycle as accounts
from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AccountAssociate, AccountOut
from portal_accounts.audit import Actor

router = Router()


@router.put(
    "/operator/customers/<customer_id>/account",
    summary="Associate an existing account with a customer",
    responses={
        200: {"description": "The account, now also linked to the customer"},
        **problem_responses(400, 401, 404, 409, 413, 415, 422, 503),
    },
)
def associate_account(
    customer_id: str, association: AccountAssociate, operator: Actor
) -> AccountOut:
    account = accounts.associate(customer_id, username=association.username, actor=operator)
    return AccountOut.of(account)


handler = lambda_handler(router)
