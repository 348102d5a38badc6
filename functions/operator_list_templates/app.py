"""GET /operator/templates (F6): every template id x language, customised or not."""

from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import TemplateListing
from portal_accounts.email.templates import list_templates

router = Router()


@router.get(
    "/operator/templates",
    summary="List the email templates",
    responses={200: {"description": "Template ids x languages"}, **problem_responses(401)},
)
def templates() -> list[TemplateListing]:
    return [TemplateListing(**item) for item in list_templates()]


handler = lambda_handler(router)
