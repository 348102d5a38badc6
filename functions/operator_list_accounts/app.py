"""GET /operator/accounts (F1): list by status, or search by a few letters."""

from typing import Literal

from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AccountPage, AccountSummary, Cursor, Limit, Search
from portal_accounts.search.listing import list_accounts

router = Router()


@router.get(
    "/operator/accounts",
    summary="List or search accounts",
    responses={200: {"description": "A page of accounts"}, **problem_responses(401, 422)},
)
def list_or_search(
    q: Search = None,
    status: Literal["active", "disabled", "all"] = "active",
    limit: Limit = 25,
    cursor: Cursor = None,
) -> AccountPage:
    page = list_accounts(q=q, status=status, limit=limit, cursor=cursor)
    return AccountPage(
        items=[AccountSummary.of(account) for account in page.items],
        next_cursor=page.next_cursor,
        partial=page.partial,
    )


handler = lambda_handler(router)
