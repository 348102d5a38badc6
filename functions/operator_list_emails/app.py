"""GET /operator/accounts/{username}/emails (F15): what was emailed and how it went."""

from portal_accounts.accounts.lifecycle import get_account
from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import Cursor, EmailLogEntry, EmailLogPage, Limit
from portal_accounts.email.outbox import list_log

router = Router()


@router.get(
    "/operator/accounts/<username>/emails",
    summary="An account's email log, newest first (never the bodies)",
    responses={200: {"description": "A page of the email log"}, **problem_responses(401, 404, 422)},
)
def list_emails(
    username: str,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> EmailLogPage:
    account = get_account(username)
    page = list_log(account.username, limit=limit, cursor=cursor)
    return EmailLogPage(
        items=[EmailLogEntry(**item) for item in page.items], next_cursor=page.next_cursor
    )


handler = lambda_handler(router)
