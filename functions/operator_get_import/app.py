"""GET /operator/accounts/import/{import_id} (F6): an import's progress, row by row."""

from portal_accounts.accounts import imports
from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import ImportOut

router = Router()


@router.get(
    "/operator/accounts/import/<import_id>",
    summary="Follow an import",
    responses={
        200: {"description": "The import and each row's result"},
        **problem_responses(401, 404),
    },
)
def get_import(import_id: str) -> ImportOut:
    return ImportOut.of(imports.progress(import_id))


handler = lambda_handler(router)
