"""POST /operator/accounts/import (F6): logins for up to 1,000 customers, queued."""

from urllib.parse import quote

from portal_accounts.accounts import imports
from portal_accounts.api.app import Response, Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import ImportIn, ImportOut
from portal_accounts.audit import Actor

router = Router()


@router.post(
    "/operator/accounts/import",
    summary="Import logins for many customers",
    responses={
        202: {"description": "The import, queued: follow it at its Location"},
        **problem_responses(400, 401, 413, 415, 422),
    },
)
def import_accounts(request: ImportIn, operator: Actor) -> Response[ImportOut]:
    header = imports.start(
        request.customer_ids,
        send_credentials_email=request.send_credentials_email,
        actor=operator,
    )
    progress = imports.Progress(
        header, [imports.Row(c, imports.PENDING) for c in header.customer_ids]
    )
    location = f"/operator/accounts/import/{quote(header.import_id, safe='')}"
    return Response(202, "application/json", ImportOut.of(progress), headers={"Location": location})


# 1,000 customer ids of 36 characters, quoted and separated: about 40 KB.
handler = lambda_handler(router, max_body_bytes=64 * 1024)
