"""GET /operator/accounts (F1): list by status, or search by a few letters."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from portal_accounts.api.app import Router, lambda_handler
from portal_accounts.api.problems import problem_responses
from portal_accounts.api.schemas import AccountPage, AccountSummary
from portal_accounts.listing import list_accounts

router = Router()


@router.get(
    "/operator/accounts",
    summary="List or search accounts",
    responses={200: {"description": "A page of accounts"}, **problem_responses(401, 422)},
)
def list_or_search(
    q: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[Literal["active", "disabled", "all"], Query()] = "active",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> AccountPage:
    page = list_accounts(q=q, status=status, limit=limit, cursor=cursor)
    return AccountPage(
        items=[AccountSummary.of(account) for account in page.items],
        next_cursor=page.next_cursor,
    )


handler = lambda_handler(router)
