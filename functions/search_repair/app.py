"""SQS → the search index: accounts a sync left behind, indexed again (search.sync)."""

from portal_accounts import init_done
from portal_accounts.observability import observed
from portal_accounts.search.reindex import handle_repairs


@observed
def handler(event: dict, context: object) -> dict:
    return handle_repairs(event)


init_done()  # the last step of init (see portal_accounts/__init__)
