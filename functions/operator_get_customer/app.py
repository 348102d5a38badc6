"""GET /operator/customers/{customer_id} (F14): a customer and its account, if any."""

from portal_accounts.accounts import customers
from portal_accounts.accounts.lifecycle import get_account
from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import CustomerOut

router = Router()


@router.get(
    "/operator/customers/<customer_id>",
    summary="Read a customer",
    responses={200: {"description": "The customer"}, **problem_responses(401, 404)},
)
def get_customer(customer_id: str) -> CustomerOut:
    customer = customers.get_customer(customer_id)
    account = get_account(customer.account_username) if customer.account_username else None
    return CustomerOut.of(customer, account)


handler = lambda_handler(router)
