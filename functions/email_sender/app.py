"""SQS → SES: the email sender (partial batch failures, at most once per request)."""

from portal_accounts import init_done
from portal_accounts.email.sender import handle_batch
from portal_accounts.observability import observed


@observed
def handler(event: dict, context: object) -> dict:
    return handle_batch(event, context)


init_done()  # the last step of init (see portal_accounts/__init__)
