"""POST /operator/customers/{customer_id}/account (F9): a new login for the customer."""

from portal_accounts import accounts, notifications
from portal_accounts.api.app import Response, Router, lambda_handler, operator_actor, path_value
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AccountCreate, AccountOut

router = Router()


@router.post(
    "/operator/customers/<customer_id>/account",
    summary="Create an account for a customer",
    responses={
        201: {"description": "The account, linked to the customer"},
        **problem_responses(400, 401, 404, 409, 413, 415, 422),
    },
)
def create_account(customer_id: str, body: AccountCreate) -> Response[AccountOut]:
    account = accounts.create_account(
        path_value(customer_id),
        password=body.password,
        temporary=body.temporary,
        actor=operator_actor(router),
    )
    if body.send_credentials_email:
        notifications.send_credentials(path_value(customer_id), actor=operator_actor(router))
    return Response(201, "application/json", AccountOut.of(account))


handler = lambda_handler(router)
