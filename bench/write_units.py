"""DynamoDB write and read units per operation, as on-demand DynamoDB bills them.

Each operation is one call of the real handler (as in bench/round_trips.py) under moto in
this process. Every DynamoDB request it makes is observed (bench/counting.py): before a
write, the items it names are read from moto with an uncounted GetItem, and again after
it; after a read, the items it read are fetched the same way (a Query or Scan is run
again without its filter and projection: DynamoDB bills what the key condition read, not
what the filter kept). The units come from those item sizes, by these rules (AWS,
"DynamoDB item sizes and formats" and "Read/write capacity mode"):

Item size: the sum, over the attributes, of the UTF-8 length of the name plus the value's
size. A string: its UTF-8 bytes; a number: 1 byte per 2 significant digits (leading and
trailing zeros trimmed) + 1; binary: its raw bytes; a boolean or null: 1; a list or map:
3 bytes + for each element 1 byte + its size (a map's element counts its name too); a
set: the sum of its elements. AWS calls the number rule approximate; nothing here is
near a 1 KB or 4 KB boundary that it could move.

Writes (1 KB = 1,024 bytes):
- PutItem, UpdateItem, DeleteItem, and each item of a BatchWriteItem: 1 unit per KB,
  rounded up, of the larger of the item before and after the write; at least 1 (a delete
  of a missing item, a failed condition: DynamoDB bills a failed conditional write too).
- TransactWriteItems: twice that for each Put, Update, Delete and ConditionCheck.
- Every global secondary index (read from template.yaml, so this stays true when the
  template changes) whose entry for the item changes: the entry is the projected view of
  the item (the table's and the index's keys, plus the projected attributes), present
  only when the item has every index key attribute. An entry that appears or disappears
  is one write of its size, one whose key changes is two (delete the old + put the new),
  one whose projected attributes change is one write of the larger; 1 unit per KB
  rounded up, at the standard rate even inside a transaction (the transaction's double
  rate is the base table's). An unchanged entry costs nothing.

Reads (4 KB = 4,096 bytes; eventually consistent reads cost half):
- GetItem and each key of a BatchGetItem: 1 unit per 4 KB of the item, rounded up,
  halved when eventually consistent; a missing item costs the minimum (0.5 or 1).
- TransactGetItems: 2 units per 4 KB of each item.
- Query and Scan: the sizes of every item the key condition read (an index's entries
  on an index), filter or not, added up and rounded up to 4 KB once for the whole
  request, then halved when eventually consistent; at least one 4 KB block.

The goals are issue 10's (finding 3); operations without one are printed for the record.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from math import ceil

from botocore.client import BaseClient

from bench import world
from bench.counting import RequestLog, counting, observing, uncounted_call
from bench.world import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, enc, expect
from functions.auth_forgot_password.app import handler as forgot_handler
from functions.auth_login.app import handler as login_handler
from functions.auth_logout.app import handler as logout_handler
from functions.email_sender.app import handler as sender_handler
from functions.me_change_password.app import handler as change_password_handler
from functions.operator_associate_account.app import handler as associate_handler
from functions.operator_create_account.app import handler as create_account_handler
from functions.operator_create_customer.app import handler as create_customer_handler
from functions.operator_disable_account.app import handler as disable_handler
from functions.operator_dissociate_account.app import handler as dissociate_handler
from functions.operator_enable_account.app import handler as enable_handler
from functions.operator_list_accounts.app import handler as list_accounts_handler
from functions.operator_send_credentials.app import handler as send_credentials_handler
from functions.operator_set_password.app import handler as set_password_handler
from functions.session_authorizer.app import handler as authorizer_handler
from local import template
from tests.helpers import FakeContext, call, http_event

WRITE_BLOCK = 1024  # bytes per write unit
READ_BLOCK = 4096  # bytes per (strongly consistent) read unit


# ---- item sizes and unit arithmetic ---------------------------------------------------------


def _number_size(text: str) -> int:
    digits = format(abs(Decimal(text)), "f").replace(".", "").strip("0")
    return ceil(len(digits) / 2) + 1


def value_size(value: dict) -> int:
    """Bytes of one attribute value, in botocore's form ({"S": "text"}, {"N": "12"}...)."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(_number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(v) for name, v in data.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(item: dict | None) -> int:
    """Bytes of an item (attribute name -> value); 0 for no item."""
    return sum(len(name.encode()) + value_size(v) for name, v in (item or {}).items())


def write_units(before: int, after: int, *, transactional: bool = False) -> int:
    """Units of one item's write that changed it from `before` bytes to `after`."""
    units = max(1, ceil(max(before, after) / WRITE_BLOCK))
    return 2 * units if transactional else units


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    """Units of one read of `size` bytes: one item, or all that a Query or Scan read."""
    blocks = max(1, ceil(size / READ_BLOCK))
    if transactional:
        return 2.0 * blocks
    return float(blocks) if consistent else blocks / 2


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    attributes: tuple[str, ...] = ()  # INCLUDE's NonKeyAttributes

    def entry(self, item: dict | None, table_keys: tuple[str, ...]) -> dict | None:
        """The item's entry in the index; None when the item is not in it (sparse)."""
        if item is None or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        kept = (*table_keys, *self.keys, *(self.attributes if self.projection == "INCLUDE" else ()))
        return {name: item[name] for name in kept if name in item}

    def write_units(
        self, before: dict | None, after: dict | None, table_keys: tuple[str, ...]
    ) -> int:
        """Units the index spends on an item's write that changed it from before to after."""
        old, new = self.entry(before, table_keys), self.entry(after, table_keys)
        if old == new:
            return 0
        if old is None or new is None:
            return write_units(item_size(old), item_size(new))
        if any(old[key] != new[key] for key in self.keys):  # moves: delete + put
            return write_units(item_size(old), 0) + write_units(0, item_size(new))
        return write_units(item_size(old), item_size(new))


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()

    def key_of(self, item: dict) -> dict:
        return {name: item[name] for name in self.keys}


def tables_of_template() -> dict[str, Table]:
    """Every table of template.yaml by name (the logical id, as the bench names them)."""

    def keys(schema: list[dict]) -> tuple[str, ...]:
        order = {"HASH": 0, "RANGE": 1}
        return tuple(k["AttributeName"] for k in sorted(schema, key=lambda k: order[k["KeyType"]]))

    tables = {}
    for name, resource in template.resources("AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        indexes = tuple(
            Index(
                index["IndexName"],
                keys(index["KeySchema"]),
                index["Projection"]["ProjectionType"],
                tuple(index["Projection"].get("NonKeyAttributes", ())),
            )
            for index in props.get("GlobalSecondaryIndexes", ())
        )
        tables[name] = Table(name, keys(props["KeySchema"]), indexes)
    return tables


# ---- observing the requests -----------------------------------------------------------------


@dataclass
class Units:
    """Units spent, by table ("Accounts") or index ("Accounts/by-status")."""

    writes: Counter[str] = field(default_factory=Counter)
    reads: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def write_total(self) -> int:
        return sum(self.writes.values())

    @property
    def read_total(self) -> float:
        return sum(self.reads.values())


def _label(table: str, index: str | None = None) -> str:
    short = table.removesuffix("Table")
    return f"{short}/{index}" if index else short


@dataclass(frozen=True)
class _Write:
    table: Table
    key: dict
    transactional: bool


_TRANSACT_WRITES = ("Put", "Update", "Delete", "ConditionCheck")
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
READ_OPERATIONS = ("GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan")
# What a Query or Scan is run again without: what it read is what the key condition read.
_NOT_RERUN = ("FilterExpression", "ProjectionExpression", "Select", "AttributesToGet")
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")


class Meter:
    """An observer for bench.counting.observing that adds up the units of each request."""

    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables
        self.units = Units()

    def __call__(self, client: BaseClient, service: str, operation: str, params: dict):
        if service != "dynamodb":
            return _ignore
        if operation in WRITE_OPERATIONS:
            writes = list(self._writes(operation, params))
            before = [self._item(client, write.table.name, write.key) for write in writes]
            return lambda response: self._bill_writes(client, writes, before)
        if operation in READ_OPERATIONS:

            def bill_read(response: dict | None) -> None:
                if response is not None:  # a read that failed read nothing
                    self._bill_read(client, operation, params, response)

            return bill_read
        return _ignore

    def _writes(self, operation: str, params: dict) -> Iterator[_Write]:
        if operation == "PutItem":
            table = self.tables[params["TableName"]]
            yield _Write(table, table.key_of(params["Item"]), False)
        elif operation in ("UpdateItem", "DeleteItem"):
            yield _Write(self.tables[params["TableName"]], params["Key"], False)
        elif operation == "BatchWriteItem":
            for name, requests in params["RequestItems"].items():
                table = self.tables[name]
                for request in requests:
                    if "PutRequest" in request:
                        yield _Write(table, table.key_of(request["PutRequest"]["Item"]), False)
                    else:
                        yield _Write(table, request["DeleteRequest"]["Key"], False)
        else:  # TransactWriteItems
            for part in params["TransactItems"]:
                kind = next(k for k in _TRANSACT_WRITES if k in part)
                table = self.tables[part[kind]["TableName"]]
                key = table.key_of(part[kind]["Item"]) if kind == "Put" else part[kind]["Key"]
                yield _Write(table, key, True)

    @staticmethod
    def _item(client: BaseClient, table: str, key: dict) -> dict | None:
        request = {"TableName": table, "Key": key, "ConsistentRead": True}
        return uncounted_call(client, "GetItem", request).get("Item")

    def _bill_writes(self, client: BaseClient, writes: list[_Write], before: list) -> None:
        # Every write is billed, succeeded or not: a failed condition still costs the item.
        for write, old in zip(writes, before, strict=True):
            new = self._item(client, write.table.name, write.key)
            self.units.writes[_label(write.table.name)] += write_units(
                item_size(old), item_size(new), transactional=write.transactional
            )
            for index in write.table.indexes:
                units = index.write_units(old, new, write.table.keys)
                if units:
                    self.units.writes[_label(write.table.name, index.name)] += units

    def _bill_read(self, client: BaseClient, operation: str, params: dict, response: dict):
        reads = self.units.reads
        if operation == "GetItem":
            size = item_size(self._item(client, params["TableName"], params["Key"]))
            consistent = bool(params.get("ConsistentRead"))
            reads[_label(params["TableName"])] += read_units(size, consistent=consistent)
        elif operation == "BatchGetItem":
            for table, spec in params["RequestItems"].items():
                consistent = bool(spec.get("ConsistentRead"))
                for key in spec["Keys"]:
                    size = item_size(self._item(client, table, key))
                    reads[_label(table)] += read_units(size, consistent=consistent)
        elif operation == "TransactGetItems":
            for part in params["TransactItems"]:
                get = part["Get"]
                size = item_size(self._item(client, get["TableName"], get["Key"]))
                reads[_label(get["TableName"])] += read_units(
                    size, consistent=True, transactional=True
                )
        else:  # Query, Scan
            items = self._read_by(client, operation, params, response)
            consistent = bool(params.get("ConsistentRead"))
            label = _label(params["TableName"], params.get("IndexName"))
            reads[label] += read_units(sum(map(item_size, items)), consistent=consistent)

    @staticmethod
    def _read_by(client: BaseClient, operation: str, params: dict, response: dict) -> list:
        """The items (or index entries) a Query or Scan read: the same request again
        without its filter and projection, keeping only the placeholders the key
        condition uses (DynamoDB refuses unused ones)."""
        rerun = {k: v for k, v in params.items() if k not in _NOT_RERUN}
        used = set(_PLACEHOLDER.findall(params.get("KeyConditionExpression", "")))
        for names in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {k: v for k, v in params.get(names, {}).items() if k in used}
            rerun.pop(names, None)
            if kept:
                rerun[names] = kept
        items = uncounted_call(client, operation, rerun).get("Items", [])
        if len(items) != response.get("ScannedCount", 0):
            raise AssertionError(
                f"{operation} read {response.get('ScannedCount')} items, the rerun {len(items)}"
            )
        return items


def _ignore(response: dict | None) -> None:
    del response


# ---- the operations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    kind: str  # "write" or "read"
    limit: float

    def met(self, units: Units) -> bool:
        return self.measured(units) <= self.limit

    def measured(self, units: Units) -> float:
        return units.write_total if self.kind == "write" else units.read_total

    def __str__(self) -> str:
        return f"<= {self.limit:g} {self.kind}"


# Issue 10, finding 3.
GOALS: dict[str, Goal] = {
    "login": Goal("write", 5),
    "authorizer (common path)": Goal("read", 1),
    "create account": Goal("write", 15),
    "disable": Goal("write", 4),
    "enable": Goal("write", 4),
    "search: one word, page of 25": Goal("read", 3),
}
SEARCH_WORD = "bianchi"
SEARCH_MATCHES = 30  # accounts seeded with the surname, more than a page
PAGE = 25
FIRST_NAMES = (
    "Marco", "Sara", "Paolo", "Elena", "Davide", "Anna", "Pietro", "Chiara", "Matteo", "Laura",
    "Andrea", "Marta", "Simone", "Alessia", "Stefano", "Silvia", "Franco", "Irene", "Carlo",
    "Lucia", "Fabio", "Noemi", "Enrico", "Greta", "Dario", "Ilaria", "Bruno", "Sofia",
    "Giorgio", "Valeria",
)  # fmt: skip


@dataclass
class Measured:
    label: str
    units: Units
    log: RequestLog

    @property
    def goal(self) -> Goal | None:
        return GOALS.get(self.label)

    @property
    def ok(self) -> bool:
        return self.goal is None or self.goal.met(self.units)


class Session:
    """Runs operations one by one, metering only the handler call itself."""

    def __init__(self) -> None:
        self.tables = tables_of_template()
        self.results: list[Measured] = []

    def measure(self, label: str, action: Callable[[], dict]) -> dict:
        meter = Meter(self.tables)
        with counting() as log, observing(meter):
            outcome = action()
        self.results.append(Measured(label, meter.units, log))
        return outcome


def _operator(handler, method: str, path: str, status: int, body: dict | None = None):

    return lambda: expect(call(handler, method, path, body=body), status, f"{method} {path}")


def _storefront(handler, method: str, path: str, status: int, body: dict | None = None):

    return lambda: expect(
        call(handler, method, path, body=body, claims=None), status, f"{method} {path}"
    )


def _behind_authorizer(handler, method: str, path: str, token: str, status: int, body=None):
    """A session route as API Gateway serves it; the authorizer runs first, unmetered
    (it is its own row), and only the handler is measured."""

    answer = authorizer_handler(world.authorizer_event(token, f"{method} {path}"), FakeContext())
    if answer.get("isAuthorized") is not True:
        raise AssertionError(f"the authorizer refused a valid session: {answer}")
    event = http_event(method, path, body=body, claims=None)
    event["requestContext"]["authorizer"] = {"lambda": answer["context"]}
    return lambda: expect(handler(event, FakeContext()), status, f"{method} {path}")


def _send(bodies: list[str], queue_arn: str) -> Callable[[], dict]:

    def send() -> dict:
        result = sender_handler(world.sqs_event(bodies, queue_arn), FakeContext())
        if result != {"batchItemFailures": []} or not bodies:
            raise AssertionError(f"the sender failed records: {result} of {len(bodies)}")
        return result

    return send


def _bodies(queue_url: str) -> list[str]:
    return [message["Body"] for message in world.drain(queue_url)]


def run_operations() -> list[Measured]:
    """Every operation, in an order where each sets up the next."""

    ops = Session()
    with world.emulated_aws() as names:
        queue_url, queue_arn = names["EmailQueue"], names["EmailQueue.Arn"]
        for n, first in enumerate(FIRST_NAMES[:SEARCH_MATCHES]):
            world.new_account(first, "Bianchi", f"{first.lower()}.bianchi{n}@example.it")
        username = "giulia.rossi@gmail.com"
        customer = {"first_name": "Giulia", "last_name": "Rossi", "locale": "it", "email": username}
        customer_id = ops.measure(
            "create customer",
            _operator(create_customer_handler, "POST", "/operator/customers", 201, customer),
        )["json"]["customer_id"]
        account = f"/operator/customers/{customer_id}/account"
        ops.measure(
            "create account",
            _operator(
                create_account_handler,
                "POST",
                account,
                201,
                {"password": GOOD_PASSWORD, "temporary": False},
            ),
        )
        login = {"username": username, "password": GOOD_PASSWORD}
        token = ops.measure("login", _storefront(login_handler, "POST", "/auth/login", 200, login))[
            "json"
        ]["token"]

        def authorize() -> dict:
            answer = authorizer_handler(world.authorizer_event(token), FakeContext())
            if answer.get("isAuthorized") is not True:
                raise AssertionError(f"the authorizer refused a valid session: {answer}")
            return answer

        ops.measure("authorizer (common path)", authorize)
        change = {
            "current_password": GOOD_PASSWORD,
            "new_password": OTHER_GOOD_PASSWORD,
            "new_password_confirmation": OTHER_GOOD_PASSWORD,
        }
        ops.measure(
            "PUT /me/password",
            _behind_authorizer(change_password_handler, "PUT", "/me/password", token, 204, change),
        )
        world.drain(queue_url)  # the "password changed" email
        ops.measure(
            "logout", _behind_authorizer(logout_handler, "POST", "/auth/logout", token, 204)
        )

        forgot = {"email": username}
        ops.measure(
            "forgot (API)",
            _storefront(forgot_handler, "POST", "/auth/password/forgot", 202, forgot),
        )
        ops.measure("forgot (sender: the request)", _send(_bodies(queue_url), queue_arn))
        ops.measure("forgot (sender: the link email)", _send(_bodies(queue_url), queue_arn))

        ops.measure(
            "send credentials (API)",
            _operator(send_credentials_handler, "POST", f"{account}/credentials-email", 202),
        )
        bulk_url, bulk_arn = names["BulkEmailQueue"], names["BulkEmailQueue.Arn"]
        ops.measure("credentials email (sender)", _send(_bodies(bulk_url), bulk_arn))
        world.drain(queue_url)

        password = {
            "password": GOOD_PASSWORD,
            "password_confirmation": GOOD_PASSWORD,
            "temporary": False,
        }
        ops.measure(
            "set password (operator)",
            _operator(
                set_password_handler,
                "PUT",
                f"/operator/accounts/{enc(username)}/password",
                204,
                password,
            ),
        )
        world.drain(queue_url)

        # A child served by Giulia's login: same surname, no email of its own.
        child = world.new_customer("Luca", "Rossi", None)
        child_account = f"/operator/customers/{child}/account"
        ops.measure(
            "associate a child",
            _operator(associate_handler, "PUT", child_account, 200, {"username": username}),
        )
        ops.measure("dissociate", _operator(dissociate_handler, "DELETE", child_account, 204))
        accounts = f"/operator/accounts/{enc(username)}"
        ops.measure("disable", _operator(disable_handler, "POST", f"{accounts}/disable", 200))
        ops.measure("enable", _operator(enable_handler, "POST", f"{accounts}/enable", 200))

        for label, query in (
            ("search: one word, page of 25", {"q": SEARCH_WORD, "limit": str(PAGE)}),
            ("list by status, page of 25", {"status": "active", "limit": str(PAGE)}),
        ):
            page = ops.measure(label, _list(list_accounts_handler, query))
            if len(page["json"]["items"]) != PAGE:
                raise AssertionError(f"{label}: {len(page['json']['items'])} items, not {PAGE}")
    return ops.results


def _list(handler, query: dict) -> Callable[[], dict]:

    return lambda: expect(call(handler, "GET", "/operator/accounts", query=query), 200, "list")


# ---- the report ------------------------------------------------------------------------------


def _breakdown(units: Mapping[str, float]) -> str:
    by_size = sorted(units.items(), key=lambda item: -item[1])
    return ", ".join(f"{label} {n:g}" for label, n in by_size) or "none"


def report(results: Iterable[Measured]) -> bool:
    results = list(results)
    width = max(len(m.label) for m in results)
    print(f"    {'operation':<{width}}  write  read  goal        verdict  requests (DynamoDB)")
    for m in results:
        goal, verdict = (str(m.goal), "PASS" if m.ok else "FAIL") if m.goal else ("", "")
        print(
            f"    {m.label:<{width}}  {m.units.write_total:>5}  {m.units.read_total:>4g}  "
            f"{goal:<10}  {verdict:<7}  {m.log.describe_requests()}"
        )
        print(
            f"    {'':<{width}}  writes: {_breakdown(m.units.writes)}; "
            f"reads: {_breakdown(m.units.reads)}"
        )
    failed = [m for m in results if not m.ok]
    for m in failed:
        assert m.goal is not None
        print(f"  FAIL: {m.label}: {m.goal.measured(m.units):g} {m.goal.kind} units, goal {m.goal}")
    print(
        f"  verdict: {'PASS' if not failed else 'FAIL'}: "
        f"{len(GOALS) - len(failed)}/{len(GOALS)} goals met"
    )
    return not failed


def run(args: argparse.Namespace) -> bool:
    del args
    return report(run_operations())
