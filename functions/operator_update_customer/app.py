"""PATCH /operator/customers/{customer_id} (F14): change name, email or language."""

from portal_accounts.accounts import customers
from portal_accounts.api.app import Router, Sent, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import CustomerOut, CustomerPatch
from portal_accounts.audit import Actor

router = Router()


@router.patch(
    "/operator/customers/<customer_id>",
    summary="Update a customer",
    responses={
        200: {"description": "The updated customer"},
        **problem_responses(400, 401, 404, 413, 415, 422),
    },
)
def update_customer(customer_id: str, changes: Sent[CustomerPatch], operator: Actor) -> CustomerOut:
    # Only the fields sent change; an explicit null clears the email, and changes nothing
    # of the fields a customer must have.
    for required in ("first_name", "last_name", "locale"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    customer = customers.update_customer(customer_id, changes, actor=operator)
    return CustomerOut.of(customer)


handler = lambda_handler(router)
