"""POST /operator/customers (F14): add a customer to the registry."""

from aws_lambda_powertools.event_handler import Response

from portal_accounts import customers
from portal_accounts.api.app import Router, lambda_handler, operator_actor
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import CustomerCreate, CustomerOut

router = Router()


@router.post(
    "/operator/customers",
    summary="Create a customer",
    responses={201: {"description": "The customer"}, **problem_responses(400, 401, 413, 415, 422)},
)
def create_customer(body: CustomerCreate) -> Response[CustomerOut]:
    customer = customers.create_customer(**body.model_dump(), actor=operator_actor(router))
    return Response(201, "application/json", CustomerOut.of(customer))


handler = lambda_handler(router)
