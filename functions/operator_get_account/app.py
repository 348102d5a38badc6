"""GET /operator/accounts/{username} (F2): the account's detail with its recent events."""

from portal_accounts import clock
from portal_accounts.accounts import lifecycle as accounts
from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import (
    AccountDetail,
    AccountOut,
    AuditEventOut,
    UndeliverableEmail,
)

router = Router()
RECENT_EVENTS = 10


@router.get(
    "/operator/accounts/<username>",
    summary="Read an account",
    responses={200: {"description": "The account's detail"}, **problem_responses(401, 404)},
)
def account_detail(username: str) -> AccountDetail:
    found = accounts.detail(username, recent=RECENT_EVENTS)
    return AccountDetail(
        **vars(AccountOut.of(found.account, found.locked_until, found.locked_out)),
        recent_events=[AuditEventOut(**event) for event in found.recent_events],
        undeliverable_emails=[
            UndeliverableEmail(**{**vars(bounced), "bounced_at": clock.iso(bounced.bounced_at)})
            for bounced in found.undeliverable
        ],
    )


handler = lambda_handler(router)
