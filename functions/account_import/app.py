"""SQS → the rows of bulk imports: a login per customer (imports.handle)."""

from portal_accounts import init_done
from portal_accounts.accounts.imports import handle
from portal_accounts.observability import observed


@observed
def handler(event: dict, context: object) -> dict:
    return handle(event)


init_done()  # the last step of init (see portal_accounts/__init__)
