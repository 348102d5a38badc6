"""POST /operator/customers/{customer_id}/account/password-reset (F4)."""

from portal_accounts.accounts import notifications
from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import PasswordReset, Queued
from portal_accounts.audit import Actor

router = Router()


@router.post(
    "/operator/customers/<customer_id>/account/password-reset",
    summary="Email the customer a new temporary password, or a reset link",
    responses={
        202: {"description": "Queued: delivery can take minutes"},
        **problem_responses(400, 401, 404, 413, 415, 422),
    },
)
def reset_password(
    customer_id: str, operator: Actor, reset: PasswordReset | None = None
) -> Response[Queued]:
    mode = reset.mode if reset else "temporary_password"
    notifications.reset_password(customer_id, mode=mode, actor=operator)
    return Response(202, "application/json", Queued())


handler = lambda_handler(router)
