"""The sender: drain the queue, render in the customer's language, send with SES (v2).

- At most once per request even when SQS redelivers: Powertools Idempotency keyed on the
  request's idempotency key (a DynamoDB record per request, deleted again if sending
  failed, so a retry can go ahead). And a request whose log entry says sent is not sent
  again: Powertools runs a request again when it could not complete its record after the
  send (its in-progress record expires with the invocation), and for a temporary
  password that would be a second, different one.
- A transient SES error fails only that record (partial batch response): SQS retries it,
  and on its last allowed receive the log says failed before it moves to the DLQ.
- A permanent error (rejected or malformed address, unverified sender) is logged as
  failed and the message consumed: it never blocks its batch, nor comes back.
- Templates are read at most once per template and language per batch.
- Secrets (a temporary password, a link) are created here, just before sending, from the
  request's references: none travels on the queue (email/issuing.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import lru_cache

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from botocore.exceptions import ClientError

from portal_accounts import clock
from portal_accounts.config import get_settings
from portal_accounts.email import outbox
from portal_accounts.email.outbox import EmailRequest
from portal_accounts.email.templates import (
    Rendered,
    Template,
    render_template,
    template_for_sending,
)
from portal_accounts.models import EmailLogModel
from portal_accounts.observability import logger

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

idempotency_config = IdempotencyConfig(
    event_key_jmespath="idempotency_key",
    # A request is never sent twice within this window: longer than SQS keeps messages.
    expires_after_seconds=15 * 24 * 3600,
)


@lru_cache(maxsize=1)
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)


@lru_cache(maxsize=1)
def _ses():
    import boto3

    return boto3.client("sesv2")


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


def _already_sent(request: EmailRequest) -> bool:
    try:
        entry = EmailLogModel.get(request.username, request.email_id, consistent_read=True)
    except EmailLogModel.DoesNotExist:
        return False
    return entry.status == outbox.SENT


def _send(request: EmailRequest, rendered: Rendered) -> str:
    response = _ses().send_email(
        FromEmailAddress=get_settings().sender_email_address,
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
            logger.info("email superseded", extra={"email_id": email.email_id, "why": str(why)})
            return {"status": outbox.FAILED}
    rendered = render_template(template, variables)
    try:
        message_id = _send(email, rendered)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in PERMANENT_ERRORS:
            _mark(email, status=outbox.FAILED, error=f"rejected by SES: {code}")
            logger.warning("email rejected", extra={"email_id": email.email_id, "code": code})
            return {"status": outbox.FAILED}
        raise
    try:
        _mark(email, status=outbox.SENT, sent_at=clock.now(), error=None)
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
        persistence_store=_persistence(),
        config=idempotency_config,
    )(deliver)

    def handle(record: dict) -> None:
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
        except Exception as error:
            receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            last_try = receives >= get_settings().email_max_receive_count
            reason = f"{type(error).__name__} on attempt {receives}"
            logger.warning(
                "email send failed", extra={"email_id": request.email_id, "reason": reason}
            )
            if last_try:
                _mark(request, status=outbox.FAILED, error=f"gave up: {reason}")
            else:
                _mark(request, error=reason)
            raise

    return handle


def _forgot(payload: dict) -> None:
    """A forgot-password request from the storefront: the link email, if one is due."""
    from portal_accounts.recovery import ForgotRequest, process_forgot

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
