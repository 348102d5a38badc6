"""Fault injection: the emulated AWS answers system errors on chosen DynamoDB calls.

    from tests import faults

    with faults.failing("TransactWriteItems", code="TransactionConflict"):
        ...  # the next TransactWriteItems is cancelled by a conflict
    with faults.failing(faults.WRITES, code="ThrottlingException", skip=1) as fault:
        ...  # the second write of any kind is throttled
    assert fault.injected == 1

Where: botocore's `BaseClient._make_api_call` is wrapped once (as tests/iam_audit.py does),
so every client sees the faults: each model's PynamoDB connection, `clients.dynamodb()`,
clients made later or in other threads (the `moto_server` tests), in-process moto and the
moto server alike. A faulted call never reaches AWS: nothing of it is written.

What a fault means: the error the application gets once botocore and PynamoDB have given
up. The hook sits above botocore's retry loop, and PynamoDB's retries
(`Meta.max_retry_attempts = 3`) are that same loop (botocore's standard mode), so one
injected fault is one failed call as the code sees it, as if every retry had been throttled
too: `times=1` fails one call, `times=None` every matching call until the block ends (a
persistent outage), and no test waits for retry back-offs.

The codes (`code=`):
- `ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`,
  `InternalServerError`, `TransactionInProgressException`: that error, raised as the
  client's own exception class (a `ClientError`, as botocore raises it);
- `TransactionConflict`, `ThrottlingError`: on TransactWriteItems/TransactGetItems a
  `TransactionCanceledException` whose cancellation reasons carry this code for the first
  part of the transaction and "None" for the others (as DynamoDB reports the item that
  conflicted); on any other operation `TransactionConflictException` and
  `ThrottlingException`, what DynamoDB answers a single-item call;
- `ReadTimeout`, `ConnectTimeout`, `EndpointConnectionError`: botocore's exceptions for a
  network that does not answer (no ClientError: no response at all).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import botocore.client
import botocore.exceptions

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
READS = frozenset({"GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan", "DescribeTable"})

THROTTLING = (
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
)
SERVER = ("InternalServerError", "TransactionInProgressException")
TRANSACTION_REASONS = ("TransactionConflict", "ThrottlingError")
TIMEOUTS = ("ReadTimeout", "ConnectTimeout", "EndpointConnectionError")
CODES = (*THROTTLING, *SERVER, *TRANSACTION_REASONS, *TIMEOUTS)

_TRANSACTIONS = ("TransactWriteItems", "TransactGetItems")
_SINGLE_ITEM_CODE = {
    "TransactionConflict": "TransactionConflictException",
    "ThrottlingError": "ThrottlingException",
}
_ENDPOINT = "https://dynamodb.eu-south-1.amazonaws.com"


@dataclass
class Fault:
    """One `failing(...)` block: what it matches, and what it did so far."""

    operations: frozenset[str]
    code: str
    times: int | None
    skip: int
    table: str | None
    service: str
    seen: int = 0  # matching calls, failed or let through
    injected: int = 0  # calls that failed
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def matches(self, service: str, operation: str, params: dict) -> bool:
        if service != self.service or operation not in self.operations:
            return False
        return self.table is None or self.table in _tables_of(params)

    def strikes(self) -> bool:
        """Count one matching call; True when this one must fail."""
        with self._lock:
            self.seen += 1
            if self.seen <= self.skip:
                return False
            if self.times is not None and self.injected >= self.times:
                return False
            self.injected += 1
            return True


_active: list[Fault] = []
_active_lock = threading.Lock()


@contextmanager
def failing(
    operations: str | Collection[str] = WRITES,
    code: str = "ProvisionedThroughputExceededException",
    *,
    times: int | None = 1,
    skip: int = 0,
    table: str | None = None,
    service: str = "dynamodb",
) -> Iterator[Fault]:
    """Within the block, matching calls fail with `code` (see the module's docstring).

    operations: an operation name ("UpdateItem"), or a set of them (WRITES, READS).
    times: how many matching calls fail; None for every one (a persistent fault).
    skip: how many matching calls succeed first: "fail the N-th write" is skip=N-1.
    table: only calls that touch this table (the tests name tables by logical id).
    """
    if code not in CODES:
        raise ValueError(f"unknown fault {code!r}: one of {CODES}")
    names = frozenset({operations} if isinstance(operations, str) else operations)
    fault = Fault(names, code, times, skip, table, service)
    _install()
    with _active_lock:
        _active.append(fault)
    try:
        yield fault
    finally:
        with _active_lock:
            _active.remove(fault)


def error_for(client: botocore.client.BaseClient, operation: str, params: dict, code: str):
    """The exception botocore would raise for this fault on this call."""
    if code in TIMEOUTS:
        endpoint = getattr(client.meta, "endpoint_url", None) or _ENDPOINT
        if code == "ReadTimeout":
            return botocore.exceptions.ReadTimeoutError(endpoint_url=endpoint)
        if code == "ConnectTimeout":
            return botocore.exceptions.ConnectTimeoutError(endpoint_url=endpoint)
        return botocore.exceptions.EndpointConnectionError(endpoint_url=endpoint)
    response: dict = {"ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}}}
    if code in TRANSACTION_REASONS and operation in _TRANSACTIONS:
        parts = len(params.get("TransactItems") or []) or 1
        reasons = [{"Code": code, "Message": f"injected {code}"}]
        reasons += [{"Code": "None"}] * (parts - 1)
        listed = ", ".join(reason["Code"] for reason in reasons)
        error_code = "TransactionCanceledException"
        response["CancellationReasons"] = reasons
        message = f"Transaction cancelled, please refer cancellation reasons [{listed}]"
    else:
        error_code = _SINGLE_ITEM_CODE.get(code, code)
        message = f"injected {error_code}"
        if error_code == "InternalServerError":
            response["ResponseMetadata"]["HTTPStatusCode"] = 500
    response["Error"] = {"Code": error_code, "Message": message}
    return client.exceptions.from_code(error_code)(response, operation)


def _tables_of(params: dict) -> set[str]:
    if "TransactItems" in params:
        return {body.get("TableName") for item in params["TransactItems"] for body in item.values()}
    if "RequestItems" in params:
        return set(params["RequestItems"])
    return {params.get("TableName")}


def _install() -> None:
    """Wrap botocore's `_make_api_call` once; with no fault active it only passes through."""
    make_api_call = botocore.client.BaseClient._make_api_call
    if getattr(make_api_call, "_faults", False):
        return

    def faulty(self, operation_name, api_params):
        if _active:
            service = self.meta.service_model.service_name
            with _active_lock:
                candidates = [f for f in _active if f.matches(service, operation_name, api_params)]
            for fault in candidates:
                if fault.strikes():
                    raise error_for(self, operation_name, api_params, fault.code)
        return make_api_call(self, operation_name, api_params)

    faulty._faults = True  # type: ignore[attr-defined]
    botocore.client.BaseClient._make_api_call = faulty  # type: ignore[method-assign]
