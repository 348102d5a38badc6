"""Issue 10, finding 6: the search index is convergent and repairable.

A sync AWS refuses is retried at once; refused twice, the operator's change still
succeeds, and the account is queued for the search_repair function, which indexes it as
it is when the repair runs. `make reindex` (portal_accounts.search.reindex) checks every account
against the index and repairs what is behind, resumable and in segments.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import pytest

from functions.search_repair.app import handler as repair_handler
from portal_accounts.models import AccountModel, SearchEntryModel
from portal_accounts.search import reindex
from tests import faults
from tests.helpers import FakeContext
from tests.unit.clients import Desk, seed_account

# Both tries of a sync refused: what it takes to leave the index behind.
REFUSED_TWICE = {"operations": "BatchWriteItem", "table": "SearchTable", "times": 2}


def quiet(line: str) -> None:
    pass


def drop_entries(username: str) -> None:
    """What a lost write leaves: the account says it is indexed, its entries are gone."""
    with SearchEntryModel.batch_write() as batch:
        for entry in SearchEntryModel.scan():
            if entry.entry.endswith(f"#{username}"):
                batch.delete(entry)


def behind(username: str) -> list[reindex.Behind]:
    return reindex.check([AccountModel.get(username, consistent_read=True)])


class RepairQueue:
    """The index repair queue, and the event source that drains it into search_repair."""

    def __init__(self, names: dict[str, str]) -> None:
        self.url = names["IndexRepairQueue"]
        self.sqs = boto3.client("sqs")

    def send(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def receive(self) -> list[dict]:
        return self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
            "Messages", []
        )

    def bodies(self) -> list[dict]:
        """What waits in the queue, taken out of it."""
        messages = self.receive()
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in messages]

    def deliver(self, messages: list[dict]) -> set[str]:
        """One batch through the function, the successes deleted; the failed ids."""
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "eventSource": "aws:sqs",
                }
                for m in messages
            ]
        }
        response = repair_handler(event, FakeContext())
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return failed

    def drain(self) -> None:
        while messages := self.receive():
            assert self.deliver(messages) == set()


@pytest.fixture
def repairs(clean_aws) -> RepairQueue:
    return RepairQueue(clean_aws)


# ---- make reindex --------------------------------------------------------------------------


def test_the_check_reports_an_account_whose_entries_were_dropped_and_the_reindex_repairs_it(
    desk,
):
    mario = seed_account("mario@example.com", [("Mario", "Rossi")]).username
    seed_account("luca@example.com", [("Luca", "Rossini")])
    drop_entries(mario)
    assert desk.usernames(q="mario") == []

    lines: list[str] = []
    counts = reindex.run(check_only=True, report=lines.append)
    assert counts == reindex.Counts(read=2, behind=1, repaired=0)
    assert f"behind: {mario}: 2 of 2 search entries missing or stale" in lines
    assert desk.usernames(q="mario") == []  # a check writes nothing
    assert reindex.main(["--check"]) == 1

    assert reindex.run(report=quiet) == reindex.Counts(read=2, behind=1, repaired=1)
    assert desk.usernames(q="mario") == [mario]
    assert desk.usernames(q="mario rossi") == [mario]
    assert reindex.run(check_only=True, report=quiet) == reindex.Counts(read=2)
    assert reindex.main(["--check"]) == 0


def test_the_check_reports_entries_with_other_words_and_a_missing_status_shard(desk):
    mario = seed_account("mario@example.com", [("Mario", "Rossi")])
    # An entry left from a name the account no longer has, and an account item from
    # before the status shards.
    entry = SearchEntryModel.get("ma", f"active#mario#{mario.username}")
    entry.update(actions=[SearchEntryModel.words.set({"mario", "bianchi"})])
    mario.update(actions=[AccountModel.status_shard.remove()])
    assert desk.usernames(q="mario rossi") == []
    assert desk.usernames(status="active") == []

    lines: list[str] = []
    reindex.run(check_only=True, report=lines.append)
    assert lines[0] == (
        f"behind: {mario.username}: 1 of 2 search entries missing or stale, "
        "status shard missing or wrong"
    )
    assert reindex.run(report=quiet).repaired == 1
    assert desk.usernames(q="mario rossi") == [mario.username]
    assert desk.usernames(status="active") == [mario.username]


def test_all_rebuilds_every_account_of_an_empty_index(desk):
    usernames = [seed_account(f"u{n}@example.com", [("Anna", "Neri")]).username for n in range(3)]
    for username in usernames:
        drop_entries(username)
    assert reindex.run(everything=True, report=quiet) == reindex.Counts(read=3, repaired=3)
    assert sorted(desk.usernames(q="anna")) == usernames


def test_the_reindex_resumes_after_the_last_username_it_printed(desk, monkeypatch):
    usernames = [seed_account(f"u{n}@example.com", [("Anna", "Neri")]).username for n in range(5)]
    for username in usernames:
        drop_entries(username)
    monkeypatch.setattr(reindex, "PAGE", 2)
    monkeypatch.setattr(reindex, "PROGRESS_EVERY", 2)
    lines: list[str] = []
    reindex.run(check_only=True, report=lines.append)
    progress = [line for line in lines if "resume with" in line]
    assert progress[0].startswith("2 read, 2 behind, 0 repaired; resume with --start-after ")
    resume = progress[0].rpartition("--start-after ")[2]
    counts = reindex.run(start_after=resume, report=quiet)
    assert counts == reindex.Counts(read=3, behind=3, repaired=3)
    assert len(desk.usernames(q="anna")) == 3


def test_segments_split_the_scan_in_threads_and_each_says_how_to_resume(desk, monkeypatch):
    usernames = [seed_account(f"u{n}@example.com", [("Anna", "Neri")]).username for n in range(8)]
    for username in usernames:
        drop_entries(username)
    monkeypatch.setattr(reindex, "PAGE", 1)
    monkeypatch.setattr(reindex, "PROGRESS_EVERY", 1)
    lines: list[str] = []
    counts = reindex.run(segments=3, report=lines.append)
    assert counts == reindex.Counts(read=8, behind=8, repaired=8)
    assert sorted(desk.usernames(q="anna")) == usernames
    assert lines[-1] == "all 3 segments done: 8 read, 8 behind, 8 repaired"
    assert any(
        line.startswith("segment 2/3: ")
        and "resume with --segment 2 --segments 3 --start-after" in line
        for line in lines
    )


def test_a_resume_of_a_run_in_segments_must_name_its_segment():
    with pytest.raises(SystemExit):
        reindex.main(["--segments", "3", "--start-after", "u1@example.com"])
    with pytest.raises(SystemExit):
        reindex.main(["--check", "--all"])


# ---- a sync AWS refuses ------------------------------------------------------------------


def test_a_sync_refused_once_is_retried_at_once(desk, repairs):
    customer_id = desk.customer("Mario", "Rossi", "mario@example.com")
    with faults.failing("BatchWriteItem", table="SearchTable") as fault:
        response = desk.create_account(customer_id)
    assert response["statusCode"] == 201
    assert fault.injected == 1
    assert desk.usernames(q="rossi") == ["mario@example.com"]
    assert repairs.bodies() == []


def _create(desk: Desk) -> tuple[Callable[[], dict], str, dict]:
    customer_id = desk.customer("Mario", "Rossi", "mario@example.com")
    return lambda: desk.create_account(customer_id), "mario@example.com", {"q": "rossi"}


def _rename(desk: Desk) -> tuple[Callable[[], dict], str, dict]:
    customer_id, username = desk.account_for("Mario", "Rossi", "mario@example.com")
    return (
        lambda: desk.update_customer(customer_id, {"last_name": "Bianchi"}),
        username,
        {"q": "bianchi"},
    )


def _associate(desk: Desk) -> tuple[Callable[[], dict], str, dict]:
    _, username = desk.account_for("Mario", "Rossi", "mario@example.com")
    anna = desk.customer("Anna", "Verdi", "mario@example.com")
    return lambda: desk.associate(anna, username), username, {"q": "verdi"}


def _dissociate(desk: Desk) -> tuple[Callable[[], dict], str, dict]:
    _, username = desk.account_for("Mario", "Rossi", "mario@example.com")
    anna = desk.customer("Anna", "Verdi", "mario@example.com")
    assert desk.associate(anna, username)["statusCode"] == 200
    return lambda: desk.dissociate(anna), username, {"q": "verdi"}


def _disable(desk: Desk) -> tuple[Callable[[], dict], str, dict]:
    _, username = desk.account_for("Mario", "Rossi", "mario@example.com")
    return lambda: desk.disable(username), username, {"q": "rossi", "status": "disabled"}


def _enable(desk: Desk) -> tuple[Callable[[], dict], str, dict]:
    _, username = desk.account_for("Mario", "Rossi", "mario@example.com")
    assert desk.disable(username)["statusCode"] == 200
    return lambda: desk.enable(username), username, {"q": "rossi", "status": "active"}


SYNCING_ROUTES = {
    "POST /operator/customers/{id}/account": _create,
    "PATCH /operator/customers/{id}": _rename,
    "PUT /operator/customers/{id}/account": _associate,
    "DELETE /operator/customers/{id}/account": _dissociate,
    "POST /operator/accounts/{username}/disable": _disable,
    "POST /operator/accounts/{username}/enable": _enable,
}


@pytest.mark.parametrize("route", SYNCING_ROUTES)
def test_a_sync_refused_twice_succeeds_queues_a_repair_and_the_repair_indexes_it(
    desk, repairs, route
):
    act, username, search = SYNCING_ROUTES[route](desk)
    with faults.failing(**REFUSED_TWICE) as fault:
        response = act()
    assert 200 <= response["statusCode"] < 300, response
    assert fault.injected == 2
    assert behind(username) != []  # detectably behind: its record is not what it should be
    messages = repairs.receive()
    assert [json.loads(m["Body"]) for m in messages] == [{"username": username}]

    assert repairs.deliver(messages) == set()
    assert behind(username) == []
    assert desk.usernames(**search) == ([] if route.startswith("DELETE") else [username])
    assert repairs.receive() == []


def test_when_the_queue_refuses_too_the_change_stands_and_the_reindex_finds_it(desk, repairs):
    customer_id = desk.customer("Mario", "Rossi", "mario@example.com")
    with (
        faults.failing(**REFUSED_TWICE),
        faults.failing("SendMessage", "ThrottlingException", service="sqs") as refused,
    ):
        response = desk.create_account(customer_id)
    assert response["statusCode"] == 201
    assert refused.injected == 1
    assert repairs.bodies() == []
    assert desk.usernames(q="rossi") == []

    lines: list[str] = []
    assert reindex.run(report=lines.append).repaired == 1
    assert lines[0] == (
        "behind: mario@example.com: 2 of 2 search entries missing or stale, "
        "indexed words or status not recorded"
    )
    assert desk.usernames(q="rossi") == ["mario@example.com"]


def test_the_repair_indexes_the_account_as_it_is_when_it_runs(desk, repairs):
    customer_id = desk.customer("Mario", "Rossi", "mario@example.com")
    with faults.failing(**REFUSED_TWICE):
        assert desk.create_account(customer_id)["statusCode"] == 201
    first = repairs.receive()
    # Renamed before the repair runs, and that sync refused too: a second message.
    with faults.failing(**REFUSED_TWICE):
        assert desk.update_customer(customer_id, {"last_name": "Bianchi"})["statusCode"] == 200

    assert repairs.deliver(first) == set()
    assert desk.usernames(q="bianchi") == ["mario@example.com"]
    assert desk.usernames(q="rossi") == []
    assert behind("mario@example.com") == []
    repairs.drain()  # the second: nothing left to do
    assert desk.usernames(q="bianchi") == ["mario@example.com"]


def test_a_repair_of_an_unknown_account_or_an_unreadable_message_is_dropped(desk, repairs):
    repairs.send(json.dumps({"username": "nobody@example.com"}))
    repairs.send("not json")
    repairs.send(json.dumps({"user": "mario@example.com"}))
    messages = repairs.receive()
    assert len(messages) == 3
    assert repairs.deliver(messages) == set()
    assert repairs.receive() == []
    assert list(SearchEntryModel.scan()) == []
    assert list(AccountModel.scan()) == []


def test_a_repair_aws_refuses_is_left_for_sqs_to_retry(desk, repairs):
    mario = seed_account("mario@example.com", [("Mario", "Rossi")]).username
    drop_entries(mario)
    repairs.send(json.dumps({"username": mario}))
    messages = repairs.receive()
    with faults.failing("BatchWriteItem", table="SearchTable", times=None):
        assert repairs.deliver(messages) == {messages[0]["MessageId"]}
    assert desk.usernames(q="rossi") == []
