"""EventBridge → the email log: SES's delivery events (email/delivery.py).

One event per invocation, its id the correlation id. An event that changes nothing (a
duplicate, an older state, an unknown message) succeeds; AWS's faults raise, and Lambda
retries the event (then its dead-letter queue, EmailEventsDeadLetterQueue).
"""

from portal_accounts import init_done
from portal_accounts.email.delivery import apply
from portal_accounts.observability import observed


@observed
def handler(event: dict, context: object) -> dict:
    return {"outcome": apply(event)}


init_done()  # the last step of init (see portal_accounts/__init__)
