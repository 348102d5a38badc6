"""GET /operator/accounts/{username}/events (F2): the audit trail, newest first."""

from portal_accounts import audit
from portal_accounts.accounts.lifecycle import get_account
from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AuditEventOut, Cursor, EventPage, Limit

router = Router()


@router.get(
    "/operator/accounts/<username>/events",
    summary="An account's audit trail",
    responses={
        200: {"description": "A page of audit events, newest first"},
        **problem_responses(401, 404, 422),
    },
)
def list_events(
    username: str,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> EventPage:
    account = get_account(username)
    page = audit.list_events(audit.account_subject(account.username), limit=limit, cursor=cursor)
    return EventPage(
        items=[AuditEventOut(**event) for event in page.items], next_cursor=page.next_cursor
    )


handler = lambda_handler(router)
