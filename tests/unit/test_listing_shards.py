"""The by-status index is write-sharded; the listing merges its shards (issue 10, finding 2).

Each account's index entry is keyed "<status>#<n>", n a stable hash of the username mod
STATUS_SHARDS, so no status is one hot partition key. GET /operator/accounts without `q`
merges the shards of the status in username order: whatever the page size, and with
accounts added between pages, the pages concatenate to the username order with no
duplicate and no gap. A forged cursor is a 422.
"""

from __future__ import annotations

import base64
import json
from collections import Counter

import boto3
import pytest
from botocore.client import BaseClient

from portal_accounts.config import get_settings
from portal_accounts.models import STATUS_SHARDS, AccountModel, status_shard
from portal_accounts.search import backfill, listing
from tests.unit.clients import seed_account

INDEX = "by-status-shard"


def forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def name(n: int) -> str:
    return f"acct{n:03d}@example.com"


def seed(numbers, status: str = "active") -> list[str]:
    return [seed_account(name(n), [("Anna", "Neri")], status=status).username for n in numbers]


def index_keys() -> Counter:
    """How many entries each partition key of the by-status index holds."""
    client = boto3.client("dynamodb")
    pages = client.get_paginator("scan").paginate(
        TableName=get_settings().accounts_table, IndexName=INDEX
    )
    return Counter(item["status_shard"]["S"] for page in pages for item in page["Items"])


@pytest.fixture
def queries(monkeypatch) -> list[dict]:
    """The Query requests made, with DynamoDB's answer's Count."""
    seen: list[dict] = []
    original = BaseClient._make_api_call

    def recording(self, operation, params):
        response = original(self, operation, params)
        if operation == "Query":
            seen.append({"key": params.get("IndexName"), "count": response.get("Count", 0)})
        return response

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return seen


# ---- the keys -------------------------------------------------------------------------------


def test_the_shard_is_a_stable_hash_of_the_username():
    # Fixed values: a shard that moved between releases or processes would hide accounts.
    assert STATUS_SHARDS == 32
    assert status_shard("mario.rossi@example.com", "active") == "active#4"
    assert status_shard("mario.rossi@example.com", "disabled") == "disabled#4"
    assert {status_shard(name(n), "active") for n in range(1000)} == {
        f"active#{n}" for n in range(STATUS_SHARDS)
    }


def test_accounts_spread_over_the_shards_of_their_status(desk):
    seed(range(64))
    seed(range(100, 132), status="disabled")
    keys = index_keys()
    assert sum(keys.values()) == 96
    assert {key.split("#")[0] for key in keys} == {"active", "disabled"}
    assert len([key for key in keys if key.startswith("active#")]) >= STATUS_SHARDS // 2
    assert max(keys.values()) <= 8  # 64 accounts on one key would be the hot key


def test_every_write_that_sets_the_status_moves_the_entry_to_that_statuss_shard(desk):
    _, username = desk.account_for("Mario", "Rossi", "mario.rossi@example.com")
    assert index_keys() == {status_shard(username, "active"): 1}
    assert desk.disable(username)["statusCode"] == 200
    assert index_keys() == {status_shard(username, "disabled"): 1}
    assert desk.enable(username)["statusCode"] == 200
    assert index_keys() == {status_shard(username, "active"): 1}
    assert desk.usernames() == [username]


# ---- the merged order -----------------------------------------------------------------------


def test_pages_of_every_size_concatenate_to_the_username_order(desk):
    active = seed(range(0, 80, 2))  # 40 accounts over the 32 shards
    for limit in (1, 3, 31, 32, 33, 100):
        assert desk.all_pages(limit=limit) == sorted(active), limit


def test_a_shard_holding_most_of_the_page_is_read_on(desk):
    """Pages read a few entries of each shard at a time: one shard with most of the
    accounts is read again as the merge needs it, still in order."""
    crowded = [n for n in range(2000) if status_shard(name(n), "active") == "active#0"][:20]
    others = seed(range(2000, 2006))
    accounts = seed(crowded) + others
    for limit in (1, 4, 10, 26, 100):
        assert desk.all_pages(limit=limit) == sorted(accounts), limit


def test_the_status_filters_and_all(desk):
    active = seed(range(0, 40, 2))
    disabled = seed(range(1, 30, 2), status="disabled")
    for limit in (2, 15, 20, 21, 100):
        assert desk.all_pages(status="disabled", limit=limit) == sorted(disabled), limit
        assert desk.all_pages(status="active", limit=limit) == sorted(active), limit
        assert desk.all_pages(status="all", limit=limit) == sorted(active) + sorted(disabled)


def test_accounts_added_between_pages_show_once_in_order_when_ahead(desk):
    """Each page is the next `limit` accounts after the last one shown: an account added
    behind it is not shown (as with one Query), one added ahead is, in its place."""
    expected = set(seed(range(0, 80, 4)))
    shown: list[str] = []
    cursor = None
    for _ in range(100):
        page = desk.list_accounts(limit=3, cursor=cursor)["json"]
        shown += [item["username"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        last = int(shown[-1][4:7])
        seed([last - 1])  # behind the page: not shown
        expected |= set(seed([last + 1, last + 2]))  # ahead of it: shown
    assert shown == sorted(shown) == sorted(expected)


def test_a_page_reads_a_bounded_number_of_entries(desk, queries):
    seed(range(60))
    for limit in (1, 5, 25, 100):
        queries.clear()
        response = desk.list_accounts(limit=limit)
        assert response["statusCode"] == 200
        most_items, most_queries = listing.status_page_bound(limit)
        assert len(queries) <= most_queries, (limit, len(queries))
        assert sum(q["count"] for q in queries) <= most_items, limit
        assert {q["key"] for q in queries} == {INDEX}


def test_the_last_page_has_no_cursor(desk):
    seed(range(10))
    page = desk.list_accounts(limit=10)["json"]
    assert len(page["items"]) == 10
    assert page["next_cursor"] is None


# ---- cursors --------------------------------------------------------------------------------

FORGED = [
    forge({"s": "active", "k": {"username": {"S": ""}}}),
    forge({"s": "active", "k": {"username": {"S": "x" * 1025}}}),
    forge({"s": "active", "k": {"username": {"N": "1"}}}),
    forge({"s": "active", "k": {"username": {"S": ["a"]}}}),
    forge({"s": "active", "k": {"username": "acct001@example.com"}}),
    forge({"s": "active", "k": {"username": {"S": "a"}, "status_shard": {"S": "active#1"}}}),
    forge({"s": "active", "k": {"status": {"S": "active"}, "username": {"S": "a"}}}),
    forge({"s": "active", "k": {"user": {"S": "a"}}}),
    forge({"s": "active", "k": ["a"]}),
    forge({"s": "deleted", "k": {"username": {"S": "a"}}}),
    forge({"s": ["active"], "k": {"username": {"S": "a"}}}),
    forge({"k": {"username": {"S": "a"}}}),
]


@pytest.mark.parametrize("cursor", FORGED)
def test_a_forged_cursor_is_422(desk, cursor):
    seed(range(4))
    for status in ("active", "disabled", "all"):
        response = desk.list_accounts(status=status, cursor=cursor, limit=2)
        assert response["statusCode"] == 422, (status, response)
        assert "cursor" in [e["field"] for e in response["json"]["errors"]]


def test_a_disabled_cursor_is_no_active_cursor(desk):
    seed(range(4), status="disabled")
    cursor = desk.list_accounts(status="disabled", limit=2)["json"]["next_cursor"]
    assert cursor
    response = desk.list_accounts(status="active", cursor=cursor, limit=2)
    assert response["statusCode"] == 422


# ---- accounts written before the shards ---------------------------------------------------


def without_shard(username: str) -> None:
    """The account as items were before the index was sharded: no status_shard."""
    AccountModel(username).update(actions=[AccountModel.status_shard.remove()])


def test_the_backfill_lists_accounts_written_before_the_shards(desk):
    old = seed(range(6))
    seed(range(6, 8), status="disabled")
    for username in old[:4]:
        without_shard(username)
    assert desk.all_pages(status="all") == [*sorted(old[4:]), name(6), name(7)]
    assert backfill.run(report=lambda line: None) == backfill.Counts(read=8, fixed=4)
    assert desk.all_pages(status="all") == [*sorted(old), name(6), name(7)]
    # Again: nothing left to do.
    assert backfill.run(report=lambda line: None) == backfill.Counts(read=8, fixed=0)


def test_the_backfill_leaves_a_status_changed_meanwhile_to_its_writer(desk, monkeypatch):
    [username] = seed([1])
    without_shard(username)
    original = backfill.fix

    def disabled_first(item):
        assert desk.disable(username)["statusCode"] == 200  # reads "active", then this
        return original(item)

    monkeypatch.setattr(backfill, "fix", disabled_first)
    assert backfill.run(report=lambda line: None) == backfill.Counts(read=1, fixed=0)
    assert desk.usernames(status="disabled") == [username]
    assert desk.usernames(status="active") == []
