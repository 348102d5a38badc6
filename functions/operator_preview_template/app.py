"""POST /operator/templates/{template_id}/{locale}/preview (F6): render an unsaved draft.

Served with a Content-Security-Policy that allows no script, for any client that opens
the answer as a document; the rendered HTML carries the same policy in a meta tag, for a
dashboard that shows it in a frame of its own.
"""

from portal_accounts.api.app import Response, Router, Sent, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import RenderedOut, TemplateDraft
from portal_accounts.email.templates import preview, preview_policy

router = Router()


@router.post(
    "/operator/templates/<template_id>/<locale>/preview",
    summary="Preview a template draft with sample values",
    responses={
        200: {"description": "The rendered draft"},
        **problem_responses(400, 401, 404, 413, 415, 422),
    },
)
def preview_template(
    template_id: str, locale: str, draft: Sent[TemplateDraft] | None = None
) -> Response[RenderedOut]:
    # Every part of a draft is optional, the body too: without one, the current template.
    rendered = preview(template_id, locale, draft or {})
    # Headers only: a document may not be framed, and runs sandboxed (no same origin).
    policy = f"{preview_policy()}; frame-ancestors 'none'; sandbox"
    return Response(
        200,
        "application/json",
        RenderedOut(subject=rendered.subject, text=rendered.text, html=rendered.html),
        headers={"Content-Security-Policy": policy},
    )


handler = lambda_handler(router)
