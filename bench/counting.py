"""Count every AWS request this process makes, and the DynamoDB items each one read.

`BaseClient._make_api_call` is wrapped once, so every botocore client is seen: the one
behind each PynamoDB model, the separate Connection that portal_accounts.dynamodb uses for
transactions, any boto3 client (SQS, SES, Powertools Idempotency's DynamoDB client).

`RequestLog.requests` and `items_read` are DynamoDB only: items read are what DynamoDB
bills reads for: ScannedCount of a Query or Scan (items the key condition touched, before
any filter), the items a BatchGetItem or TransactGetItems returned, one per GetItem that
found its item. `RequestLog.calls` holds every request of every service, with the tables
(or queue) it touched and how many items it wrote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from botocore.client import BaseClient

READ_OPERATIONS = ("Query", "Scan", "GetItem", "BatchGetItem", "TransactGetItems")
# How services are named in the printed breakdowns.
SERVICE_LABELS = {"dynamodb": "DynamoDB", "sqs": "SQS", "sesv2": "SES", "ses": "SES"}


def _tables(operation: str, params: dict) -> tuple[str, ...]:
    """The tables (or the queue) one request touched, in request order."""
    if "TableName" in params:
        return (params["TableName"],)
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return tuple(params.get("RequestItems", {}))
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return tuple(
            part["TableName"]
            for item in params.get("TransactItems", [])
            for part in item.values()
            if isinstance(part, dict) and "TableName" in part
        )
    if "QueueUrl" in params:
        return (params["QueueUrl"].rsplit("/", 1)[-1],)
    return ()


def _items_written(operation: str, params: dict) -> int:
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params.get("RequestItems", {}).values())
    if operation == "TransactWriteItems":
        return len(params.get("TransactItems", []))
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 1
    return 0


@dataclass(frozen=True)
class Call:
    """One request: which service and operation, and what it touched."""

    service: str  # botocore's service name: dynamodb, sqs, sesv2
    operation: str
    tables: tuple[str, ...]
    items_written: int

    @property
    def service_label(self) -> str:
        return SERVICE_LABELS.get(self.service, self.service)


@dataclass
class RequestLog:
    requests: Counter = field(default_factory=Counter)  # DynamoDB operation -> requests
    items_read: Counter = field(default_factory=Counter)  # DynamoDB operation -> items read
    calls: list[Call] = field(default_factory=list)  # every request, every service

    def record(self, service: str, operation: str, params: dict, response: dict | None) -> None:
        self.calls.append(
            Call(service, operation, _tables(operation, params), _items_written(operation, params))
        )
        if service != "dynamodb":
            return
        self.requests[operation] += 1
        if response is None:
            return
        if operation in ("Query", "Scan"):
            self.items_read[operation] += response.get("ScannedCount", 0)
        elif operation == "BatchGetItem":
            self.items_read[operation] += sum(
                len(items) for items in response.get("Responses", {}).values()
            )
        elif operation == "TransactGetItems":
            self.items_read[operation] += sum(1 for r in response.get("Responses", []) if r)
        elif operation == "GetItem":
            self.items_read[operation] += 1 if response.get("Item") else 0

    @property
    def total_requests(self) -> int:
        """DynamoDB requests."""
        return sum(self.requests.values())

    @property
    def total_items_read(self) -> int:
        return sum(self.items_read.values())

    @property
    def total_calls(self) -> int:
        """Requests of every service."""
        return len(self.calls)

    def describe_requests(self) -> str:
        """DynamoDB requests by operation, e.g. "1 BatchGetItem + 1 Query"."""
        return " + ".join(f"{n} {op}" for op, n in sorted(self.requests.items())) or "none"

    def operations(self) -> Counter:
        """(service label, operation) -> requests, every service."""
        return Counter((call.service_label, call.operation) for call in self.calls)

    def describe_calls(self) -> str:
        """Every request in call order, grouped by operation, e.g.
        "1 BatchGetItem + 1 UpdateItem + 1 TransactWriteItems (DynamoDB), 1 SendMessage (SQS)"."""
        by_service: dict[str, Counter] = {}
        for call in self.calls:
            by_service.setdefault(call.service_label, Counter())[call.operation] += 1
        return (
            ", ".join(
                " + ".join(f"{n} {op}" for op, n in ops.items()) + f" ({service})"
                for service, ops in by_service.items()
            )
            or "none"
        )

    def by_table(self, service: str = "dynamodb") -> Counter:
        """(table, operation) -> requests that touched the table (a batch or transaction
        counts once for each table it touched)."""
        return Counter(
            (table, call.operation)
            for call in self.calls
            if call.service == service
            for table in dict.fromkeys(call.tables)
        )


# Called before a request with (client, service, operation, params); the callable it
# returns gets the response after it (None if the request raised).
Observer = Callable[[BaseClient, str, str, dict], Callable[[dict | None], None]]

_active: list[RequestLog] = []
_observers: list[Observer] = []
# The unwrapped call: requests made through it are neither counted nor observed.
_original = BaseClient._make_api_call


def _counting_call(self: BaseClient, operation_name: str, api_params: dict) -> dict:
    service = self.meta.service_model.service_name if _active or _observers else ""
    after = [observe(self, service, operation_name, api_params) for observe in _observers]
    response = None
    try:
        response = _original(self, operation_name, api_params)
        return response
    finally:
        if service:
            for log in _active:
                log.record(service, operation_name, api_params, response)
        for done in after:
            done(response)


def _install() -> None:
    if BaseClient._make_api_call is not _counting_call:
        BaseClient._make_api_call = _counting_call


def uncounted_call(client: BaseClient, operation: str, params: dict) -> dict:
    """A request that no RequestLog counts and no observer sees (an observer's own reads)."""
    return _original(client, operation, params)


@contextmanager
def observing(observer: Observer) -> Iterator[None]:
    """Show every AWS request made inside the block, from any client, to `observer`,
    before it is made and after (bench/write_units.py reads the items around each write)."""
    _install()
    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


@contextmanager
def counting() -> Iterator[RequestLog]:
    """Every AWS request made inside the block, from any client."""
    _install()
    log = RequestLog()
    _active.append(log)
    try:
        yield log
    finally:
        _active.remove(log)
