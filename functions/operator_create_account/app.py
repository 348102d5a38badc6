"""POST /operator/customers/{customer_id}/account (F9): a new login for the customer."""

from portal_accounts.accounts import lifecycle as accounts
from portal_accounts.accounts import notifications
from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AccountCreate, AccountOut
from portal_accounts.audit import Actor

router = Router()


@router.post(
    "/operator/customers/<customer_id>/account",
    summary="Create an account for a customer",
    responses={
        201: {"description": "The account, linked to the customer"},
        **problem_responses(400, 401, 404, 409, 413, 415, 422),
    },
)
def create_account(customer_id: str, login: AccountCreate, operator: Actor) -> Response[AccountOut]:
    account = accounts.create_account(
        customer_id, password=login.password, temporary=login.temporary, actor=operator
    )
    if login.send_credentials_email:
        notifications.send_credentials(customer_id, actor=operator)
    return Response(201, "application/json", AccountOut.of(account))


handler = lambda_handler(router)
