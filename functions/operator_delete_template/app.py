"""DELETE /operator/templates/{template_id}/{locale} (F6): back to the shipped default."""

from portal_accounts.api.app import ADMIN, Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.audit import Actor
from portal_accounts.email.templates import reset_template

router = Router()


@router.delete(
    "/operator/templates/<template_id>/<locale>",
    summary="Revert an email template to the shipped default",
    responses={204: {"description": "Reverted"}, **problem_responses(401, 404)},
    scope=ADMIN,
)
def delete_template(template_id: str, locale: str, operator: Actor) -> Response[None]:
    reset_template(template_id, locale, operator)
    return Response(204)


handler = lambda_handler(router)
