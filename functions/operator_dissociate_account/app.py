"""DELETE /operator/customers/{customer_id}/account (F8): remove the customer's link."""

from portal_accounts.accounts import lifecycle as accounts
from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.audit import Actor

router = Router()


@router.delete(
    "/operator/customers/<customer_id>/account",
    summary="Dissociate a customer from its account",
    responses={204: {"description": "Dissociated"}, **problem_responses(401, 404)},
)
def dissociate_account(customer_id: str, operator: Actor) -> Response[None]:
    accounts.dissociate(customer_id, actor=operator)
    return Response(204)


handler = lambda_handler(router)
