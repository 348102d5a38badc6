"""GET /operator/templates/{template_id}/{locale} (F6)."""

from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import TemplateOut
from portal_accounts.email.templates import get_template

router = Router()


@router.get(
    "/operator/templates/<template_id>/<locale>",
    summary="Read an email template",
    responses={200: {"description": "The template"}, **problem_responses(401, 404)},
)
def read_template(template_id: str, locale: str) -> TemplateOut:
    return TemplateOut.of(get_template(template_id, locale))


handler = lambda_handler(router)
