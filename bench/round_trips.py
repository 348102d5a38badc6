"""Round trips per operation, against the budget of docs/performance.md ("Round-trip budget").

Each operation is one call of the real handler (an API Gateway event, the authorizer's
REQUEST event, or an SQS batch for the sender) under moto in this process; every AWS
request it makes is counted by operation (bench/counting.py wraps botocore, so DynamoDB,
SQS and SES are all seen), and the total is compared with BUDGET. Set-up (customers,
accounts, the queue's messages) happens before counting starts.

A budget is what the design needs, in requests (each one a network round trip on AWS).
Operations that change search-index entries need one BatchWriteItem per 25 entries to put
or delete; the bench computes how many the change needs from the account before and after
(search.key_words, search.entry_keys), not from what the code happened to write, and
adds those batches to the fixed part.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import timedelta
from math import ceil

from bench import world
from bench.counting import RequestLog, counting
from bench.world import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, enc, expect
from functions.auth_forgot_password.app import handler as forgot_handler
from functions.auth_login.app import handler as login_handler
from functions.auth_reset_password.app import handler as reset_handler
from functions.email_sender.app import handler as sender_handler
from functions.operator_associate_account.app import handler as associate_handler
from functions.operator_disable_account.app import handler as disable_handler
from functions.operator_dissociate_account.app import handler as dissociate_handler
from functions.operator_list_accounts.app import handler as list_accounts_handler
from functions.session_authorizer.app import handler as authorizer_handler
from local import mailbox
from portal_accounts import clock
from portal_accounts.models import AccountModel
from portal_accounts.search import index as search
from tests.helpers import FakeContext, call

BATCH_WRITE_LIMIT = 25  # DynamoDB's BatchWriteItem takes at most 25 puts/deletes


@dataclass(frozen=True)
class Budget:
    """Requests (DynamoDB + SQS + SES) one call may make; mirrors docs/performance.md."""

    fixed: int
    needs: str
    # + one BatchWriteItem per 25 search-index entries the change moves
    index_batches: bool = False


# The table "Round-trip budget" of docs/performance.md: keep the two in step.
BUDGET: dict[str, Budget] = {
    # The day's first login (what this bench makes): its last_login_at is a conditional
    # UpdateItem of its own, on the credentials as read, before the batch (a BatchWriteItem
    # takes no condition); the day's later logins skip it: 3 (docs/decisions.md,
    # 2026-12-02, "a login without a transaction": half the write units for one request).
    "login (success)": Budget(
        4,
        "BatchGetItem account+throttle; UpdateItem reserving the attempt; UpdateItem "
        "last login (the day's first, on the credentials as read); BatchWriteItem "
        "session+audit+throttle cleared",
    ),
    "login (wrong password)": Budget(
        3,
        "BatchGetItem account+throttle; UpdateItem reserving the attempt; "
        "TransactWriteItems failure+audit",
    ),
    "authorizer (valid session)": Budget(1, "BatchGetItem session+account"),
    "authorizer (touch due)": Budget(
        2, "BatchGetItem session+account; UpdateItem last_seen_at (once a minute per session)"
    ),
    "forgot (API)": Budget(3, "SendMessage: the request is queued, the sender does the rest"),
    "forgot (sender, queued request)": Budget(
        3, "GetItem account; TransactWriteItems account+audit+email log; SendMessage email"
    ),
    "reset": Budget(
        4,
        "GetItem link token; GetItem account (its username is in the token item); "
        "TransactWriteItems; SendMessage 'password changed' email",
    ),
    "search (one page)": Budget(2, "Query on the search index; BatchGetItem of the page"),
    "create account": Budget(
        3,
        "GetItem customer; TransactWriteItems account+customer+audit; "
        "UpdateItem indexed state; + index entries",
        index_batches=True,
    ),
    "associate": Budget(
        3,
        "BatchGetItem customer+account (both keys known); TransactWriteItems; "
        "UpdateItem indexed state; + index entries",
        index_batches=True,
    ),
    "dissociate": Budget(
        4,
        "GetItem customer; GetItem account (named by the customer); TransactWriteItems; "
        "UpdateItem indexed state; + index entries",
        index_batches=True,
    ),
    "disable": Budget(
        3,
        "GetItem account; TransactWriteItems account+audit; UpdateItem indexed state; "
        "+ index entries (all of them move to disabled#)",
        index_batches=True,
    ),
}


@dataclass
class Measured:
    label: str
    log: RequestLog
    index_changes: int = 0  # search entries the change needs to write or delete

    @property
    def budget(self) -> int:
        budget = BUDGET[self.label]
        batches = ceil(self.index_changes / BATCH_WRITE_LIMIT) if budget.index_batches else 0
        return budget.fixed + batches

    @property
    def index_written(self) -> int:
        return sum(
            call.items_written
            for call in self.log.calls
            if call.operation == "BatchWriteItem" and "SearchTable" in call.tables
        )

    @property
    def ok(self) -> bool:
        return self.log.total_calls <= self.budget


def _index_state(username: str) -> set[tuple[str, str]]:
    """The entries the account should have in the index (a set-up read)."""
    try:
        account = AccountModel.get(username, consistent_read=True)
    except AccountModel.DoesNotExist:
        return set()
    return search.entry_keys(username, account.status, search.key_words(account))


def _index_changes(before: set[tuple[str, str]], after: set[tuple[str, str]]) -> int:
    """Entries to put or delete: one per word of the account. Every entry carries the
    account's whole word set (a multi-word search filters on it), so when the words
    change every entry is rewritten, and those of words that went away are deleted; the
    status is part of the key, so when it changes every entry moves (deleted under the
    old status, put under the new one)."""
    if before == after:
        return 0
    return len(after) + len(before - after)


class Session:
    """Runs operations one by one, counting only the handler call itself."""

    def __init__(self) -> None:
        self.results: list[Measured] = []

    def measure(self, label: str, action, *, index_of: str | None = None):
        before = _index_state(index_of) if index_of else None
        with counting() as log:
            outcome = action()
        measured = Measured(label, log)
        if index_of:
            measured.index_changes = _index_changes(before, _index_state(index_of))
        self.results.append(measured)
        return outcome


def _authorize(token: str) -> dict:
    result = authorizer_handler(world.authorizer_event(token), FakeContext())
    if result.get("isAuthorized") is not True:
        raise AssertionError(f"the authorizer refused a valid session: {result}")
    return result


def _send_batch(bodies: list[str], queue_arn: str) -> dict:
    result = sender_handler(world.sqs_event(bodies, queue_arn), FakeContext())
    if result != {"batchItemFailures": []}:
        raise AssertionError(f"the sender failed records: {result}")
    return result


def run_operations() -> list[Measured]:
    """Every budgeted operation, in an order where each sets up the next."""
    ops = Session()
    with world.emulated_aws() as names:
        queue_url, queue_arn = names["EmailQueue"], names["EmailQueue.Arn"]
        # Other accounts, so the search has more than one answer to page.
        world.new_account("Marco", "Bianchini", "marco.bianchini@libero.it")
        world.new_account("Anna", "Rossi", "anna.rossi@gmail.com")
        username = "giulia.bianchi@gmail.com"
        customer_id = world.new_customer("Giulia", "Bianchi", username)

        ops.measure(
            "create account",
            lambda: expect(world.create_account(customer_id), 201, "create account"),
            index_of=username,
        )
        login_body = {"username": username, "password": GOOD_PASSWORD}
        token = ops.measure(
            "login (success)",
            lambda: expect(
                call(login_handler, "POST", "/auth/login", body=login_body, claims=None),
                200,
                "login",
            ),
        )["json"]["token"]
        ops.measure("authorizer (valid session)", lambda: _authorize(token))
        later = clock.FrozenClock(clock.now() + timedelta(seconds=61))
        with clock.frozen(later):
            ops.measure("authorizer (touch due)", lambda: _authorize(token))
        wrong = {"username": username, "password": OTHER_GOOD_PASSWORD}
        ops.measure(
            "login (wrong password)",
            lambda: expect(
                call(login_handler, "POST", "/auth/login", body=wrong, claims=None),
                401,
                "login with a wrong password",
            ),
        )

        forgot = {"email": username}
        ops.measure(
            "forgot (API)",
            lambda: expect(
                call(forgot_handler, "POST", "/auth/password/forgot", body=forgot, claims=None),
                202,
                "forgot",
            ),
        )
        requests = [m["Body"] for m in world.drain(queue_url)]
        ops.measure("forgot (sender, queued request)", lambda: _send_batch(requests, queue_arn))
        # The link email: the sender issues the link as it sends it (none on the queue).
        _send_batch([m["Body"] for m in world.drain(queue_url)], queue_arn)
        email = mailbox.sent_emails()[-1]
        link_token = re.findall(r"token=([A-Za-z0-9_\-]+)", email["html"] or "")[0]
        reset = {
            "token": link_token,
            "password": OTHER_GOOD_PASSWORD,
            "password_confirmation": OTHER_GOOD_PASSWORD,
        }
        ops.measure(
            "reset",
            lambda: expect(
                call(reset_handler, "POST", "/auth/password/reset", body=reset, claims=None),
                204,
                "reset",
            ),
        )
        world.drain(queue_url)

        found = ops.measure(
            "search (one page)",
            lambda: expect(
                call(list_accounts_handler, "GET", "/operator/accounts", query={"q": "bianchi"}),
                200,
                "search",
            ),
        )
        if len(found["json"]["items"]) != 2:
            raise AssertionError(f"q=bianchi should find 2 accounts: {found['json']}")

        # A child served by Giulia's login: same surname, no email of its own.
        child = world.new_customer("Luca", "Bianchi", None)
        ops.measure(
            "associate",
            lambda: expect(
                call(
                    associate_handler,
                    "PUT",
                    f"/operator/customers/{child}/account",
                    body={"username": username},
                ),
                200,
                "associate",
            ),
            index_of=username,
        )
        ops.measure(
            "dissociate",
            lambda: expect(
                call(dissociate_handler, "DELETE", f"/operator/customers/{child}/account"),
                204,
                "dissociate",
            ),
            index_of=username,
        )
        ops.measure(
            "disable",
            lambda: expect(
                call(disable_handler, "POST", f"/operator/accounts/{enc(username)}/disable"),
                200,
                "disable",
            ),
            index_of=username,
        )
    return ops.results


def _sequence(log: RequestLog) -> str:
    def short(table: str) -> str:
        return table.removesuffix("Table")

    return " -> ".join(
        f"{call.operation}[{','.join(short(t) for t in dict.fromkeys(call.tables))}]"
        if call.tables
        else call.operation
        for call in log.calls
    )


def run(args: argparse.Namespace) -> bool:
    del args
    results = run_operations()
    width = max(len(m.label) for m in results)
    print(f"    {'operation':<{width}}  requests  budget  verdict  what was called")
    for m in results:
        index = ""
        if BUDGET[m.label].index_batches:
            index = (
                f"; index: {m.index_changes} entries to change, {m.index_written} written "
                f"(budget {BUDGET[m.label].fixed} + {m.budget - BUDGET[m.label].fixed} "
                "BatchWriteItem)"
            )
        print(
            f"    {m.label:<{width}}  {m.log.total_calls:>8}  {m.budget:>6}  "
            f"{'OK' if m.ok else 'OVER':<7}  {m.log.describe_calls()}{index}"
        )
        print(f"    {'':<{width}}  {'':>8}  {'':>6}  {'':<7}  {_sequence(m.log)}")
    over = [m for m in results if not m.ok]
    for m in over:
        print(
            f"  OVER: {m.label}: {m.log.total_calls} requests for a budget of {m.budget} "
            f"(the design needs: {BUDGET[m.label].needs})"
        )
    print(
        f"  verdict: {'PASS' if not over else 'FAIL'}: "
        f"{len(results) - len(over)}/{len(results)} operations within their round-trip budget"
    )
    return not over
