"""PUT /operator/templates/{template_id}/{locale} (F6): save a customised template."""

from portal_accounts.api.app import ADMIN, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import TemplateIn, TemplateOut
from portal_accounts.audit import Actor
from portal_accounts.email.templates import save_template
from portal_accounts.validation import as_dict

router = Router()


@router.put(
    "/operator/templates/<template_id>/<locale>",
    summary="Save an email template",
    responses={
        200: {"description": "The saved template"},
        **problem_responses(400, 401, 404, 413, 415, 422),
    },
    scope=ADMIN,  # what every customer receives from the business
)
def put_template(
    template_id: str, locale: str, template: TemplateIn, operator: Actor
) -> TemplateOut:
    return TemplateOut.of(save_template(template_id, locale, as_dict(template), operator))


handler = lambda_handler(router)
