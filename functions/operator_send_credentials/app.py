"""POST /operator/customers/{customer_id}/account/credentials-email (F11)."""

from portal_accounts.accounts import notifications
from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import Queued
from portal_accounts.audit import Actor

router = Router()


@router.post(
    "/operator/customers/<customer_id>/account/credentials-email",
    summary="Email the customer its username, the portal link and a set-password link",
    responses={
        202: {"description": "Queued: delivery can take minutes"},
        **problem_responses(401, 404, 422),
    },
)
def send_credentials(customer_id: str, operator: Actor) -> Response[Queued]:
    notifications.send_credentials(customer_id, actor=operator)
    return Response(202, "application/json", Queued())


handler = lambda_handler(router)
