"""Transactions across tables, and reading which of their conditions failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from portal_accounts.errors import TemporarilyUnavailable
from portal_accounts.models import AccountModel


@lru_cache(maxsize=1)
def _connection() -> Connection:
    return Connection(region=AccountModel.Meta.region)


class TransactionCancelled(Exception):
    """A condition of the transaction failed; `failed` holds the indexes of the failing parts."""

    def __init__(self, failed: set[int]) -> None:
        super().__init__(f"transaction cancelled by conditions {sorted(failed)}")
        self.failed = failed


@contextmanager
def transaction() -> Iterator[TransactWrite]:
    try:
        with TransactWrite(connection=_connection()) as tx:
            yield tx
    except TransactWriteError as error:
        reasons = error.cancellation_reasons or []
        failed = {
            index
            for index, reason in enumerate(reasons)
            # A concurrent transaction on the same item loses like a failed condition.
            if reason is not None
            and reason.code in ("ConditionalCheckFailed", "TransactionConflict")
        }
        if not failed:
            raise
        raise TransactionCancelled(failed) from None


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
        response = _connection().client.batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            if items:
                found[table] = items[0]
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
    else:
        raise TemporarilyUnavailable("The service is busy: try again in a moment.")
    return {
        model: model.from_raw_data(found[model.Meta.table_name])
        if model.Meta.table_name in found
        else None
        for model, _ in keys
    }
