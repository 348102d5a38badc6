"""Transactions and batches across tables, and reading which of their conditions failed."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import botocore.exceptions
from pynamodb.exceptions import PynamoDBException, TransactWriteError, VerboseClientError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from portal_accounts import clients
from portal_accounts.errors import TemporarilyUnavailable

BUSY = "The service is busy: try again in a moment."

# Answers that blame the system, not the request: throttling, a server error, another
# transaction on the same items. The same call may well succeed a moment later.
_SYSTEM_CODES = frozenset(
    {
        # DynamoDB
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "TransactionInProgressException",
        "TransactionConflictException",
        "ReplicatedWriteConflictException",
        # any AWS service (SQS, SES): the common errors
        "Throttling",
        "RequestThrottled",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalFailure",
    }
)
# A transaction's cancellation reasons that are the system's (TransactWriteItems' docs).
_SYSTEM_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
# No answer at all: a read or connect timeout, an endpoint out of reach, a dropped connection.
_NETWORK_ERRORS = (botocore.exceptions.HTTPClientError, botocore.exceptions.ConnectionError)


def system_fault(error: BaseException) -> str | None:
    """The AWS error code (or botocore's exception name) when `error` is the system's
    fault, such as DynamoDB throttling or a timeout; None for anything else.

    Looks through PynamoDB's wrappers (PutError, TransactWriteError...) to their cause.
    """
    if isinstance(error, PynamoDBException) and error.cause is not None:
        error = error.cause
    if isinstance(error, _NETWORK_ERRORS):
        return type(error).__name__
    if not isinstance(error, botocore.exceptions.ClientError):
        return None
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code in _SYSTEM_CODES:
        return code
    if code == "TransactionCanceledException":
        reasons = _reasons_of(error)
        system = reasons & _SYSTEM_REASONS
        # A failed condition is the request's answer (409, 410...), even beside a conflict.
        if system and "ConditionalCheckFailed" not in reasons:
            return sorted(system)[0]
        return None
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code if int(status) >= 500 else None


def condition_failed(error: PynamoDBException) -> bool:
    """Whether a single-item write failed its condition (not AWS's fault: after a timeout
    there is no response to read a code from)."""
    response = getattr(error.cause, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _reasons_of(error: botocore.exceptions.ClientError) -> set[str]:
    """The codes of a cancelled transaction's reasons ("None" for the parts that passed)."""
    if isinstance(error, VerboseClientError):  # PynamoDB keeps them apart from `response`
        return {reason.code if reason else "None" for reason in error.cancellation_reasons}
    return {str(reason.get("Code")) for reason in error.response.get("CancellationReasons") or []}


class TransactionCancelled(Exception):
    """A condition of the transaction failed; `failed` holds the indexes of the failing parts."""

    def __init__(self, failed: set[int]) -> None:
        super().__init__(f"transaction cancelled by conditions {sorted(failed)}")
        self.failed = failed


@contextmanager
def transaction() -> Iterator[TransactWrite]:
    """A TransactWriteItems; TransactionCancelled when one of its conditions failed,
    TemporarilyUnavailable (503) when DynamoDB throttled it or another transaction on the
    same items was in the way (TransactionConflict).

    A conflict is not a failed condition: nobody has shown that the condition is false,
    only that someone else was writing. Callers turn a failed condition into the client's
    error (409 username taken, 410 link used); the retry that the 503 asks for re-reads
    and gets the right answer, a 2xx or that same 409.
    """
    try:
        with TransactWrite(connection=clients.dynamodb()) as tx:
            yield tx
    except TransactWriteError as error:
        reasons = error.cancellation_reasons or []
        failed = {
            index
            for index, reason in enumerate(reasons)
            if reason is not None and reason.code == "ConditionalCheckFailed"
        }
        if failed:
            raise TransactionCancelled(failed) from None
        if system_fault(error):
            raise TemporarilyUnavailable(BUSY) from error
        raise


# BatchGetItem may leave keys unprocessed (throttling, size): ask again for those, with a
# growing pause (25, 50, 100, 200 ms), then give up with a 503 rather than report an item
# that exists as missing (a valid login refused, a live session ended).
BATCH_GET_ATTEMPTS = 5
BATCH_GET_FIRST_PAUSE_SECONDS = 0.025
_pause = time.sleep  # tests replace it


def batch_get(*keys: tuple[type[Model], str]) -> dict[type[Model], Model | None]:
    """Several items of several tables (one hash key each) in one strongly consistent
    round trip: BatchGetItem, retried for any keys DynamoDB left unprocessed."""
    request: dict = {}
    for model, hash_key in keys:
        key_name = model._hash_keyname  # attribute names equal the Python names here
        request[model.Meta.table_name] = {
            "Keys": [{key_name: {"S": hash_key}}],
            "ConsistentRead": True,
        }
    found: dict[str, dict] = {}
    for attempt in range(BATCH_GET_ATTEMPTS):
        if attempt:
            _pause(BATCH_GET_FIRST_PAUSE_SECONDS * 2 ** (attempt - 1))
        response = clients.dynamodb().client.batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            if items:
                found[table] = items[0]
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
    else:
        raise TemporarilyUnavailable(BUSY)
    return {
        model: model.from_raw_data(found[model.Meta.table_name])
        if model.Meta.table_name in found
        else None
        for model, _ in keys
    }


def _key_of(item: Model) -> dict:
    values = item.serialize(null_check=False)
    names = [type(item)._hash_keyname, type(item)._range_keyname]
    return {name: values[name] for name in names if name}


def batch_write(*, puts: Sequence[Model] = (), deletes: Sequence[Model] = ()) -> None:
    """Items of several tables put or deleted in one BatchWriteItem: one round trip at one
    write unit per KB of each item, half what a transaction charges, but with no condition
    and no atomicity (each item lands or not on its own). Retried for the items DynamoDB
    left unprocessed, as batch_get does; TemporarilyUnavailable (503) if some are still
    unprocessed after the last attempt (they may or may not have landed by then: callers
    write only items whose landing alone harms nothing)."""
    request: dict[str, list[dict]] = {}
    for item in puts:
        request.setdefault(item.Meta.table_name, []).append(
            {"PutRequest": {"Item": item.serialize()}}
        )
    for item in deletes:
        request.setdefault(item.Meta.table_name, []).append(
            {"DeleteRequest": {"Key": _key_of(item)}}
        )
    for attempt in range(BATCH_GET_ATTEMPTS):
        if not request:
            return
        if attempt:
            _pause(BATCH_GET_FIRST_PAUSE_SECONDS * 2 ** (attempt - 1))
        response = clients.dynamodb().client.batch_write_item(RequestItems=request)
        request = response.get("UnprocessedItems") or {}
    if request:
        raise TemporarilyUnavailable(BUSY)
