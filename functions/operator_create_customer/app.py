"""POST /operator/customers (F14): add a customer to the registry."""

from portal_accounts.accounts import customers
from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import CustomerCreate, CustomerOut
from portal_accounts.audit import Actor
from portal_accounts.validation import as_dict

router = Router()


@router.post(
    "/operator/customers",
    summary="Create a customer",
    responses={201: {"description": "The customer"}, **problem_responses(400, 401, 413, 415, 422)},
)
def create_customer(new: CustomerCreate, operator: Actor) -> Response[CustomerOut]:
    customer = customers.create_customer(**as_dict(new), actor=operator)
    return Response(201, "application/json", CustomerOut.of(customer))


handler = lambda_handler(router)
