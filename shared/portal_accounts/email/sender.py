"""The sender: drain the queues, render in the customer's language, send with SES (v2).

- At most once per request even when SQS redelivers: Powertools Idempotency keyed on the
  request's idempotency key (a DynamoDB record per request, deleted again if sending
  failed, so a retry can go ahead). And a request whose log entry says sent is not sent
  again: Powertools runs a request again when it could not complete its record after the
  send (its in-progress record expires with the invocation), and for a temporary
  password that would be a second, different one.
- A transient SES error fails only that record (partial batch response): SQS retries it,
  and on its last allowed receive the log says failed before it moves to the DLQ.
- SES's throttling (its sending rate or daily quota used up) says nothing about the email:
  the record goes back for a retry, the sender pauses, and the log never says failed. On
  the last allowed receive the request is queued again as a new message instead, so
  throttling never dead-letters an email.
- Each sender paces its SES calls to SES_MAX_SEND_RATE / EMAIL_SENDERS a second: the
  EMAIL_SENDERS that may run at once (template.yaml SendRates) stay within SES's rate.
- A permanent error (rejected or malformed address, unverified sender) is logged as
  failed and the message consumed: it never blocks its batch, nor comes back.
- Templates are read at most once per template and language per batch.
- Secrets (a temporary password, a link) are created here, just before sending, from the
  request's references: none travels on the queue (email/issuing.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta

from aws_lambda_powertools.utilities.idempotency import (
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from botocore.exceptions import ClientError
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from portal_accounts import clients, clock
from portal_accounts.config import get_settings
from portal_accounts.dynamodb import condition_failed
from portal_accounts.email import delivery, outbox
from portal_accounts.email.outbox import EmailRequest
from portal_accounts.email.templates import (
    Rendered,
    Template,
    render_template,
    template_for_sending,
)
from portal_accounts.models import EmailLogModel
from portal_accounts.observability import count, logger

# SES answers that no retry will fix.
PERMANENT_ERRORS = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "BadRequestException",
    "InvalidParameterValue",
    "AccountSuspendedException",
    "SendingPausedException",
    "NotFoundException",
}

# SES answers meaning "not now": the account's sending rate or daily quota is used up (the
# Query API says Throttling, SDKs ThrottlingException; SES v2 also TooManyRequestsException
# and LimitExceededException).
THROTTLING_ERRORS = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "LimitExceededException",
}
# SES counts its rate per second: after a throttle this sender waits that long.
THROTTLE_PAUSE_SECONDS = 1.0
# A request throttled on its last allowed receive comes back this much later, as a new message.
REQUEUE_DELAY_SECONDS = 60

idempotency_config = IdempotencyConfig(
    event_key_jmespath="idempotency_key",
    # A request is never sent twice within this window: longer than SQS keeps messages.
    expires_after_seconds=15 * 24 * 3600,
)


class Throttled(Exception):
    """SES refused the send for its rate or quota (THROTTLING_ERRORS), not for the email."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Pace:
    """At most one SES call per interval in this process, which is one sender: Lambda runs
    one invocation at a time per execution environment, and the pace carries over from
    one batch to the next."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    def wait(self, interval: float) -> None:
        """Return when the next call may go; the one after may go `interval` later."""
        now = self._clock()
        if self._next > now:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + interval

    def hold(self, seconds: float) -> None:
        """No call for `seconds` from now."""
        self._next = max(self._next, self._clock() + seconds)


_pace = Pace()


def _send_interval() -> float | None:
    """Seconds between this sender's SES calls; None: unpaced (no rate set, as for the
    tests' emulated SES), and no pause after a throttle either."""
    settings = get_settings()
    if not settings.ses_max_send_rate:
        return None
    return settings.email_senders / settings.ses_max_send_rate


class TemplateCache:
    """One read (and, for a customised copy, one check) per template and language per batch."""

    def __init__(self) -> None:
        self._templates: dict[tuple[str, str], Template] = {}

    def get(self, template_id: str, locale: str) -> Template:
        key = (template_id, locale)
        if key not in self._templates:
            self._templates[key] = template_for_sending(template_id, locale)
        return self._templates[key]


def _mark(request: EmailRequest, **changes) -> None:
    actions = [getattr(EmailLogModel, name).set(value) for name, value in changes.items()]
    actions.append(EmailLogModel.attempts.add(1))
    EmailLogModel(request.username, request.email_id).update(actions=actions)


# The statuses a send may still be marked "sent" from: a delivery event (delivery.py) that
# landed first is a later state, never overwritten.
SENDABLE = (outbox.QUEUED, outbox.FAILED)
# Statuses that say SES took the email (sent and every state after it): never sent again.
ACCEPTED = delivery.ORDER[delivery.ORDER.index(outbox.SENT) :]


def _mark_sent(request: EmailRequest) -> None:
    """The log says sent, unless a delivery event already says more (then only the time)."""
    done: list[Action] = [EmailLogModel.sent_at.set(clock.now()), EmailLogModel.attempts.add(1)]
    entry = EmailLogModel(request.username, request.email_id)
    try:
        entry.update(
            actions=[*done, EmailLogModel.status.set(outbox.SENT), EmailLogModel.error.remove()],
            condition=EmailLogModel.status.does_not_exist() | EmailLogModel.status.is_in(*SENDABLE),
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        entry.update(actions=done)


def _already_sent(request: EmailRequest) -> bool:
    try:
        entry = EmailLogModel.get(request.username, request.email_id, consistent_read=True)
    except EmailLogModel.DoesNotExist:
        return False
    return entry.status in ACCEPTED


def _send(request: EmailRequest, rendered: Rendered) -> str:
    """SES v2 SendEmail, with the configuration set whose events tell how it went, and
    the tag naming its log entry (delivery.py), written first so no event precedes it."""
    settings = get_settings()
    extra: dict = {}
    if settings.ses_configuration_set:
        ref = delivery.remember(
            request.username,
            request.email_id,
            clock.now() + timedelta(days=settings.email_log_retention_days),
        )
        extra = {
            "ConfigurationSetName": settings.ses_configuration_set,
            "EmailTags": delivery.tags(ref),
        }
    response = clients.ses().send_email(
        FromEmailAddress=settings.sender_email_address,
        Destination={"ToAddresses": [request.to]},
        Content={
            "Simple": {
                "Subject": {"Data": rendered.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": rendered.text, "Charset": "UTF-8"},
                    "Html": {"Data": rendered.html, "Charset": "UTF-8"},
                },
            }
        },
        **extra,
    )
    return response.get("MessageId", "")


def deliver(request: dict, templates: TemplateCache) -> dict:
    """Render and send one request; the log entry says how it went.

    A request with a secret has it created first (email/issuing.py): a retry after a
    failed send creates a new one, which replaces the one nobody received. Once SES has
    accepted the email nothing may fail the request, or a redelivery would send it again
    (with a different password): a log entry that cannot be written is only a warning.

    What stays open: SES has no idempotency key, so between its acceptance and the log
    entry saying sent nothing records it. If the invocation dies there, or DynamoDB
    refuses both that write and Powertools' completion, a redelivery sends the email
    again (a second password, which replaces the first). Refusing a request that might
    have gone would instead leave a customer, whose old password ended at queue time,
    with none.
    """
    email = EmailRequest.from_payload(request)
    if _already_sent(email):
        logger.info("email already sent", extra={"email_id": email.email_id})
        return {"status": outbox.SENT}
    template = templates.get(email.template_id, email.locale)
    variables = email.variables
    if email.secret:
        from portal_accounts.email.issuing import Superseded, issue

        try:
            variables = {**variables, **issue(email)}
        except Superseded as why:
            _mark(email, status=outbox.FAILED, error=f"not sent: {why}")
            count("EmailFailed")
            logger.info("email superseded", extra={"email_id": email.email_id, "why": str(why)})
            return {"status": outbox.FAILED}
    rendered = render_template(template, variables)
    interval = _send_interval()
    if interval is not None:
        _pace.wait(interval)
    try:
        message_id = _send(email, rendered)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in THROTTLING_ERRORS:
            if interval is not None:
                _pace.hold(THROTTLE_PAUSE_SECONDS)
            raise Throttled(code) from error
        if code in PERMANENT_ERRORS:
            _mark(email, status=outbox.FAILED, error=f"rejected by SES: {code}")
            count("EmailFailed")
            logger.warning("email rejected", extra={"email_id": email.email_id, "code": code})
            return {"status": outbox.FAILED}
        raise
    count("EmailSent")
    try:
        _mark_sent(email)
    except Exception as error:  # sent all the same: never again
        logger.warning(
            "email sent, its log entry not updated",
            extra={"email_id": email.email_id, "error": type(error).__name__},
        )
    logger.info("email sent", extra={"email_id": email.email_id, "message_id": message_id})
    return {"status": outbox.SENT}


def _record_handler(templates: TemplateCache):
    once = idempotent_function(
        data_keyword_argument="request",
        persistence_store=clients.idempotency_store(),
        config=idempotency_config,
    )(deliver)

    def handle(record: dict) -> None:
        logger.set_correlation_id(record.get("messageId"))
        try:
            payload = json.loads(record["body"])
            if isinstance(payload, dict) and payload.get("kind") == "forgot_password":
                _forgot(payload)
                return
            request = EmailRequest.from_payload(payload)
        except ValueError:  # not JSON, or not a request (validation.Invalid)
            # Unreadable: no retry can fix it, and it must not block the batch.
            logger.error("unreadable message dropped", extra={"message_id": record["messageId"]})
            return
        try:
            once(request=asdict(request), templates=templates)
        except IdempotencyAlreadyInProgressError:
            raise  # another delivery of the same request is sending it right now
        except Throttled as throttled:
            receives = _receives(record)
            reason = f"throttled by SES ({throttled.code}) on attempt {receives}"
            logger.info("email throttled", extra={"email_id": request.email_id, "reason": reason})
            if receives < get_settings().email_max_receive_count:
                _mark(request, error=reason)
                count("EmailRetried")
                raise
            # Its receives are used up, through no fault of its own: a new message, whose
            # count starts again (consumed here, so never dead-lettered).
            outbox.send_request(request, delay_seconds=REQUEUE_DELAY_SECONDS)
            _mark(request, error=f"{reason}: queued again")
            count("EmailRetried")
        except Exception as error:
            receives = _receives(record)
            last_try = receives >= get_settings().email_max_receive_count
            reason = f"{type(error).__name__} on attempt {receives}"
            logger.warning(
                "email send failed", extra={"email_id": request.email_id, "reason": reason}
            )
            if last_try:
                _mark(request, status=outbox.FAILED, error=f"gave up: {reason}")
                count("EmailFailed")
            else:
                _mark(request, error=reason)
                count("EmailRetried")
            raise

    return handle


def _receives(record: dict) -> int:
    return int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)


def _forgot(payload: dict) -> None:
    """A forgot-password request from the storefront: the link email, if one is due."""
    from portal_accounts.signin.recovery import ForgotRequest, process_forgot

    request = ForgotRequest.from_payload(payload)
    outgoing = process_forgot(request.username)
    if outgoing is not None:
        outbox.dispatch(outgoing)


def handle_batch(event: dict, context) -> dict:
    """Every record of the batch, each on its own; the failed ones are reported back.

    Always a partial batch response (ReportBatchItemFailures), even when every record
    failed: SQS retries just those, and one bad record never blocks the others.
    """
    idempotency_config.register_lambda_context(context)
    handle = _record_handler(TemplateCache())
    failures = []
    for record in event.get("Records") or []:
        try:
            handle(record)
        except Exception as error:  # this record only: SQS retries it
            logger.warning(
                "record left for retry",
                extra={"message_id": record.get("messageId"), "error": type(error).__name__},
            )
            failures.append({"itemIdentifier": record.get("messageId", "")})
    return {"batchItemFailures": failures}
