"""Bulk logins (F9 for many customers, issue 10): POST /operator/accounts/import, queued.

An onboarding gives logins to a whole registry: up to MAX_CUSTOMERS customer ids per call
(a 100,000-member chain is a hundred calls). The call only records the import and queues
its rows, so it answers at once (202) whatever its size; the account_import function
creates the logins, ROWS_PER_MESSAGE per queue message, and the operator follows along
with GET /operator/accounts/import/{import_id}.

Each row is what POST /operator/customers/{id}/account would do for that customer, with
the same refusals (`result` is the same problem type: `customer_already_linked`,
`username_taken`, `customer_email_missing`, `not_found`), except that no password is
chosen: the login gets the hash of a random one nobody knows, and the credentials email
(if asked for, on the bulk queue, sent at SES's pace: outbox.queue_url_for) carries the
set-password link. Without the email the customer has no way in until an operator sends
the credentials or sets a password.

Retries are safe. A row's result is written once, conditionally, in the transaction that
creates its account (and queues its email), so a message SQS delivers twice, or two
deliveries racing, create one account and one email; a row already done is skipped. A
whole import sent again (the operator's call timed out) finds the accounts made the first
time and reports them as `customer_already_linked`, sending no second email.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from portal_accounts import clients, clock, revision
from portal_accounts.accounts import lifecycle as accounts
from portal_accounts.accounts.customers import is_customer_id
from portal_accounts.accounts.notifications import credentials_email
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.credentials.passwords import hash_password
from portal_accounts.dynamodb import BUSY, system_fault
from portal_accounts.email import outbox
from portal_accounts.errors import (
    CustomerAlreadyLinked,
    InvalidInput,
    NotFound,
    NoValidEmail,
    TemporarilyUnavailable,
    UsernameTaken,
)
from portal_accounts.models import CustomerModel, ImportModel
from portal_accounts.observability import logger
from portal_accounts.search import index as search

MAX_CUSTOMERS = 1000
# Rows per queue message: each costs an argon2 hash (a password nobody knows) and a
# transaction, about 0.15 s on the function's CPU, so a message takes a few seconds.
ROWS_PER_MESSAGE = 25
RETENTION = timedelta(days=30)
HEADER_ROW = "#import"  # the header's sort key; a row's is its customer id (a UUID)

CREATED = "created"
FAILED = "failed"  # AWS kept refusing (SQS retried it, then it was given up): try again
PENDING = "pending"  # not done yet (no row item)
EMAIL_QUEUED, EMAIL_FAILED, EMAIL_NONE = "queued", "failed", "none"


def _new_id() -> str:
    """Sortable by time and safe in a URL path."""
    return f"{clock.now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}"


def _expiry():
    return clock.now() + RETENTION


def start(customer_ids: list[str], *, send_credentials_email: bool, actor: Actor) -> ImportModel:
    """Record an import and queue its rows; the header (202's body, with no row done)."""
    unique = list(dict.fromkeys(customer_ids))  # a list pasted twice: each customer once
    if not unique:
        raise InvalidInput(
            "Name at least one customer to import.",
            errors=[{"field": "customer_ids", "reason": "empty"}],
        )
    if len(unique) > MAX_CUSTOMERS:
        raise InvalidInput(
            f"At most {MAX_CUSTOMERS} customers per import: split the list.",
            errors=[{"field": "customer_ids", "reason": "too_many"}],
        )
    header = ImportModel(
        import_id=_new_id(),
        row=HEADER_ROW,
        at=clock.now(),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_email=actor.email,
        customer_ids=unique,
        send_credentials_email=send_credentials_email,
        expires_at=_expiry(),
    )
    try:
        header.save(condition=ImportModel.import_id.does_not_exist())
        _queue(header.import_id, unique)
    except Exception as error:
        if system_fault(error) is None and not isinstance(error, TemporarilyUnavailable):
            raise
        # Not all of it is queued: forget the import, so that none of it goes half-done.
        # Rows already queued find no header and are dropped (or were already done: a
        # retry of the call reports those customers as linked, with no second email).
        _forget(header)
        raise TemporarilyUnavailable(BUSY) from None
    return header


def _queue(import_id: str, customer_ids: list[str]) -> None:
    chunks = [
        customer_ids[i : i + ROWS_PER_MESSAGE]
        for i in range(0, len(customer_ids), ROWS_PER_MESSAGE)
    ]
    entries = [
        {"Id": str(n), "MessageBody": json.dumps({"import_id": import_id, "customer_ids": chunk})}
        for n, chunk in enumerate(chunks)
    ]
    url = get_settings().import_queue_url
    for i in range(0, len(entries), 10):  # SendMessageBatch takes ten
        batch = entries[i : i + 10]
        for _ in range(2):  # what SQS left out, asked once more
            answer = clients.sqs().send_message_batch(QueueUrl=url, Entries=batch)
            refused = {failure["Id"] for failure in answer.get("Failed") or []}
            batch = [entry for entry in batch if entry["Id"] in refused]
            if not batch:
                break
        if batch:
            raise TemporarilyUnavailable(BUSY)


def _forget(header: ImportModel) -> None:
    try:
        header.delete()
    except Exception as error:  # the header stays, with rows that never run: "pending"
        logger.error(
            "an import that could not be queued was not forgotten",
            extra={"import_id": header.import_id, "error_code": system_fault(error)},
        )


# ---- the operator's view ------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    customer_id: str
    result: str  # created | a problem type | failed | pending
    username: str | None = None
    detail: str | None = None
    email: str | None = None  # the credentials email: queued | failed | none


@dataclass(frozen=True)
class Progress:
    header: ImportModel
    rows: list[Row]

    def count(self, result: str) -> int:
        return sum(row.result == result for row in self.rows)


def progress(import_id: str) -> Progress:
    """The import and each of its rows, in the order they were given (one Query)."""
    missing = NotFound(f"There is no import {import_id[:64]}.")
    if not import_id or len(import_id) > 64:
        raise missing
    items = {item.row: item for item in ImportModel.query(import_id, consistent_read=True)}
    header = items.pop(HEADER_ROW, None)
    if header is None:
        raise missing
    rows = []
    for customer_id in map(str, header.customer_ids or []):
        done = items.get(customer_id)
        if done is None:
            rows.append(Row(customer_id, PENDING))
        else:
            rows.append(
                Row(customer_id, str(done.result), done.username, _detail(done), done.email)
            )
    return Progress(header, rows)


_DETAILS = {
    CREATED: None,
    "customer_already_linked": "The customer already has a login.",
    "username_taken": "Another login has this customer's email as its username: associate "
    "the customer with it instead.",
    "customer_email_missing": "The customer has no valid email: save one, then import again.",
    "not_found": "There is no such customer.",
    FAILED: "The service was too busy for this row: import this customer again.",
}


def _detail(row: ImportModel) -> str | None:
    return _DETAILS.get(str(row.result))


# ---- the account_import function ----------------------------------------------------------


def handle(event: dict) -> dict:
    """SQS → the rows of imports. A message whose rows AWS keeps refusing is reported back
    for SQS to retry; on its last receive, its rows still to do are recorded as `failed`
    (the operator sees them and imports them again) rather than left pending forever."""
    failures = []
    last_receive = get_settings().import_max_receive_count
    for record in event.get("Records") or []:
        message_id = record.get("messageId", "")
        try:
            body = json.loads(record["body"])
            import_id, customer_ids = body["import_id"], body["customer_ids"]
            if not isinstance(import_id, str) or not isinstance(customer_ids, list):
                raise TypeError("not an import message")
        except (KeyError, TypeError, ValueError):
            logger.error("unreadable import message dropped", extra={"message_id": message_id})
            continue
        receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
        try:
            run(import_id, [str(c) for c in customer_ids], give_up=receives >= last_receive)
        except Exception as error:  # this message only: SQS retries it
            code = system_fault(error)
            if code is None and not isinstance(error, TemporarilyUnavailable):
                logger.exception("import rows failed", extra={"message_id": message_id})
            else:
                logger.warning(
                    "import rows left for retry",
                    extra={"message_id": message_id, "error_code": code},
                )
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def run(import_id: str, customer_ids: list[str], *, give_up: bool = False) -> None:
    """Do the rows not done yet. A system fault stops at the row it hit (raised, for SQS
    to retry the message), unless `give_up`: then each row AWS refuses is `failed`."""
    try:
        header = ImportModel.get(import_id, HEADER_ROW, consistent_read=True)
    except ImportModel.DoesNotExist:
        logger.info("rows of an unknown import dropped", extra={"import_id": import_id})
        return
    done = {
        item.row
        for item in ImportModel.batch_get(
            [(import_id, customer_id) for customer_id in customer_ids], consistent_read=True
        )
    }
    actor = Actor(type=str(header.actor_type), id=header.actor_id, email=header.actor_email)
    for customer_id in customer_ids:
        if customer_id in done:
            continue
        try:
            _row(header, customer_id, actor)
        except Exception as error:
            if system_fault(error) is None and not isinstance(error, TemporarilyUnavailable):
                raise
            if not give_up:
                raise
            _record(header, customer_id, FAILED)


def _row_item(header: ImportModel, customer_id: str, result: str, **fields) -> ImportModel:
    return ImportModel(
        import_id=header.import_id,
        row=customer_id,
        at=clock.now(),
        result=result,
        expires_at=_expiry(),
        **fields,
    )


def _record(header: ImportModel, customer_id: str, result: str, **fields) -> None:
    """A row's result, once: a racing delivery that got there first keeps its own."""
    item = _row_item(header, customer_id, result, **fields)
    try:
        item.save(condition=ImportModel.row.does_not_exist())
    except Exception as error:
        if system_fault(error) is not None:
            raise
        # its condition: the row is done already


@revision.retried
def _row(header: ImportModel, customer_id: str, actor: Actor) -> None:
    """One customer: a login, its email, its row; or the row says why not."""
    customer = _customer(customer_id)
    if customer is None:
        _record(header, customer_id, "not_found")
        return
    try:
        username = accounts.new_username(customer)
    except (CustomerAlreadyLinked, NoValidEmail) as refused:
        _record(header, customer_id, refused.type, username=customer.account_username)
        return
    # A password nobody knows: the credentials email's link lets the customer choose one.
    account = accounts.new_account(
        customer, username, hash_password(secrets.token_urlsafe(32)), temporary=False
    )
    also: list[tuple[Model, Condition | None]] = []
    outgoing = None
    if header.send_credentials_email:
        outgoing, event = credentials_email(
            customer, account, str(customer.email).strip(), actor=actor, sequence=1
        )
        also += [(event, None), (outgoing.entry, None)]
    row = _row_item(
        header,
        customer_id,
        CREATED,
        username=username,
        email=EMAIL_QUEUED if outgoing else EMAIL_NONE,
    )
    also.append((row, ImportModel.row.does_not_exist()))
    try:
        accounts.commit_new_account(
            account,
            customer,
            actor,
            details={"temporary_password": False, "import_id": header.import_id},
            also=tuple(also),
        )
    except accounts.AlsoRefused:
        return  # only the row can be refused: a racing delivery did this row
    except UsernameTaken as refused:  # the username is another login's
        _record(header, customer_id, refused.type, username=username)
        return
    search.sync(account)
    if outgoing is not None:
        try:
            outbox.dispatch(outgoing)  # the log entry says "failed" if it could not go
        except Exception as error:
            logger.warning(
                "credentials email of an import not queued",
                extra={"import_id": header.import_id, "error_code": system_fault(error)},
            )
            row.update(actions=[ImportModel.email.set(EMAIL_FAILED)])


def _customer(customer_id: str) -> CustomerModel | None:
    if not is_customer_id(customer_id):
        return None
    try:
        return cast(CustomerModel, CustomerModel.get(customer_id, consistent_read=True))
    except CustomerModel.DoesNotExist:
        return None
