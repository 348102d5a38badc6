"""EventBridge → the email log: SES's delivery events (email/delivery.py).

One event per invocation. An event that changes nothing (a duplicate, an older state, an
unknown message) succeeds; AWS's faults raise, and Lambda retries the event (then its
on-failure queue, EmailEventsDeadLetterQueue).
"""

from portal_accounts import init_done
from portal_accounts.email.delivery import apply
from portal_accounts.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: object) -> dict:
    logger.set_correlation_id(str(event.get("id") or "") or None)
    return {"outcome": apply(event)}


init_done()  # the last step of init (see portal_accounts/__init__)
