"""Bulk imports (issue 10, F6): logins for many customers, queued, row by row.

Through the real handlers: POST /operator/accounts/import, the account_import function
draining the import queue (as Lambda's event source would), GET /operator/accounts/
import/{id}. What an operator sees: each customer's result, the counts, no account or
email twice however the call or its messages are retried.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import boto3
import pytest

from functions.account_import.app import handler as import_worker
from functions.operator_get_import.app import handler as get_import_handler
from functions.operator_import_accounts.app import handler as import_handler
from portal_accounts.accounts import imports
from portal_accounts.models import AccountModel, AuditEventModel, CustomerModel, ImportModel
from tests import faults
from tests.helpers import FakeContext, call
from tests.unit.clients import GOOD_PASSWORD, Desk, link_in, sqs_event, sqs_record


class Imports:
    """The operator's import routes, and the import queue drained into the worker."""

    def __init__(self, names: dict[str, str]) -> None:
        self.url = names["ImportQueue"]
        self.sqs = boto3.client("sqs")
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def start(self, customer_ids: list, **body) -> dict:
        return call(
            import_handler,
            "POST",
            "/operator/accounts/import",
            body={"customer_ids": customer_ids, **body},
        )

    def get(self, import_id: str) -> dict:
        return call(
            get_import_handler,
            "GET",
            f"/operator/accounts/import/{quote(import_id, safe='')}",
        )

    def receive(self) -> list[dict]:
        return self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])

    def deliver(self, messages: list[dict], *, receive_count: int | None = None) -> set[str]:
        """One batch through the worker, the successes deleted; the ids it failed."""
        records = [sqs_record(m, self.arn) for m in messages]
        if receive_count is not None:
            for record in records:
                record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        response = import_worker(sqs_event(records), FakeContext())
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return failed

    def drain(self) -> None:
        for _ in range(200):
            messages = self.receive()
            if not messages:
                return
            assert self.deliver(messages) == set()
        raise AssertionError("the import queue never emptied")


@pytest.fixture
def importer(clean_aws) -> Imports:
    return Imports(clean_aws)


def new_customers(desk: Desk, count: int, *, domain: str = "example.com") -> list[str]:
    ids = []
    for n in range(count):
        response = desk.create_customer(
            first_name=f"Nome{n}", last_name=f"Cognome{n}", email=f"socio.{n}@{domain}"
        )
        assert response["statusCode"] == 201, response
        ids.append(response["json"]["customer_id"])
    return ids


def rows_by_customer(body: dict) -> dict[str, dict]:
    return {row["customer_id"]: row for row in body["rows"]}


def bulk_requests(postman) -> list[dict]:
    return [
        json.loads(m["Body"])
        for m in boto3.client("sqs")
        .receive_message(QueueUrl=postman.bulk_queue_url, MaxNumberOfMessages=10)
        .get("Messages", [])
    ]


def all_bulk_requests(postman) -> list[dict]:
    found: list[dict] = []
    while batch := bulk_requests(postman):
        found += batch
    return found


# ---- the whole path -------------------------------------------------------------------------


def test_an_import_gives_each_customer_a_login_and_queues_its_credentials_email(
    desk, importer, postman
):
    ids = new_customers(desk, 30)  # two queue messages: 25 rows, then 5
    started = importer.start(ids)
    assert started["statusCode"] == 202, started
    body = started["json"]
    assert started["headers"]["Location"] == f"/operator/accounts/import/{body['import_id']}"
    assert (body["status"], body["total"], body["done"]) == ("running", 30, 0)
    assert {row["result"] for row in body["rows"]} == {"pending"}

    importer.drain()

    done = importer.get(body["import_id"])
    assert done["statusCode"] == 200, done
    assert (done["json"]["status"], done["json"]["done"]) == ("done", 30)
    assert done["json"]["counts"] == {"created": 30}
    assert [row["customer_id"] for row in done["json"]["rows"]] == ids  # in the order given
    for n, customer_id in enumerate(ids):
        row = rows_by_customer(done["json"])[customer_id]
        assert row["username"] == f"socio.{n}@example.com"
        assert row["credentials_email"] == "queued"
        customer = desk.get_customer(customer_id)["json"]
        assert customer["account"]["username"] == f"socio.{n}@example.com"
    # Each login is found by the operator's search, as one made by hand would be.
    found = desk.list_accounts(q="socio.7@example.com")["json"]["items"]
    assert found[0]["username"] == "socio.7@example.com"
    # One credentials email each, on the bulk queue (paced there, behind no reset link).
    queued = all_bulk_requests(postman)
    assert sorted(r["to"] for r in queued) == sorted(f"socio.{n}@example.com" for n in range(30))
    assert {r["template_id"] for r in queued} == {"account_credentials"}


def test_the_emailed_link_lets_an_imported_customer_choose_a_password_and_log_in(
    desk, importer, postman, shop
):
    [customer_id] = new_customers(desk, 1)
    importer.start([customer_id])
    importer.drain()
    # Nobody knows the login's password until the customer chooses one.
    assert shop.login("socio.0@example.com", GOOD_PASSWORD)["statusCode"] == 401
    postman.drain()
    [email] = postman.sent_to("socio.0@example.com")
    _link, token = link_in(email)
    assert shop.reset(token, GOOD_PASSWORD)["statusCode"] == 204
    assert shop.login("socio.0@example.com", GOOD_PASSWORD)["statusCode"] == 200


def test_without_the_email_the_logins_are_made_and_nothing_is_queued(desk, importer, postman):
    ids = new_customers(desk, 3)
    body = importer.start(ids, send_credentials_email=False)["json"]
    importer.drain()
    done = importer.get(body["import_id"])["json"]
    assert done["counts"] == {"created": 3}
    assert {row["credentials_email"] for row in done["rows"]} == {"none"}
    assert all_bulk_requests(postman) == []


def test_each_row_says_why_a_customer_got_no_login(desk, importer):
    ready, linked, taken_by = new_customers(desk, 3)
    assert desk.create_account(linked)["statusCode"] == 201
    no_email = desk.create_customer(first_name="Senza", last_name="Email")["json"]["customer_id"]
    # A customer whose email is already another login's username (its own customer has
    # since moved to another address): associate it, do not import it.
    same_email = desk.create_customer(
        first_name="Omonimo", last_name="Cognome2", email="socio.2@example.com"
    )["json"]["customer_id"]
    assert desk.create_account(taken_by)["statusCode"] == 201
    unknown = str(uuid.uuid4())
    malformed = "not-a-customer-id"

    body = importer.start([ready, linked, no_email, same_email, unknown, malformed])["json"]
    importer.drain()
    done = importer.get(body["import_id"])["json"]
    rows = rows_by_customer(done)
    assert rows[ready]["result"] == "created"
    assert (rows[linked]["result"], rows[linked]["username"]) == (
        "customer_already_linked",
        "socio.1@example.com",
    )
    assert rows[no_email]["result"] == "customer_email_missing"
    assert (rows[same_email]["result"], rows[same_email]["username"]) == (
        "username_taken",
        "socio.2@example.com",
    )
    assert rows[unknown]["result"] == rows[malformed]["result"] == "not_found"
    for refused in (linked, no_email, same_email, unknown, malformed):
        assert rows[refused]["detail"], rows[refused]  # a sentence the operator can act on
        assert rows[refused]["credentials_email"] is None
    assert done["counts"] == {
        "created": 1,
        "customer_already_linked": 1,
        "customer_email_missing": 1,
        "username_taken": 1,
        "not_found": 2,
    }
    # The refused rows changed nothing: no login for the customer without an email, and
    # the customer with the taken address is still unlinked.
    assert desk.get_customer(same_email)["json"]["account"] is None
    assert AccountModel.count() == 3  # linked's, taken_by's and ready's


def test_a_customer_listed_twice_is_imported_once(desk, importer):
    [customer_id] = new_customers(desk, 1)
    body = importer.start([customer_id, customer_id])["json"]
    assert body["total"] == 1
    importer.drain()
    assert importer.get(body["import_id"])["json"]["counts"] == {"created": 1}


# ---- retries --------------------------------------------------------------------------------


def test_a_message_delivered_twice_creates_one_login_and_one_email(desk, importer, postman):
    ids = new_customers(desk, 3)
    body = importer.start(ids)["json"]
    [message] = importer.receive()
    assert importer.deliver([message]) == set()
    first = importer.get(body["import_id"])["json"]
    # SQS delivers it again (a visibility timeout passed before the delete, say).
    assert importer.deliver([message]) == set()
    again = importer.get(body["import_id"])["json"]
    assert again == first
    assert len(all_bulk_requests(postman)) == 3
    events = [e.action for e in AuditEventModel.query("account#socio.0@example.com")]
    assert events.count("account.created") == 1
    assert events.count("account.credentials_email_queued") == 1


def test_an_import_sent_again_reports_the_logins_already_made_and_emails_no_one_twice(
    desk, importer, postman
):
    ids = new_customers(desk, 4)
    importer.start(ids)  # the operator's call timed out, but it landed
    importer.drain()
    again = importer.start(ids)["json"]
    importer.drain()
    done = importer.get(again["import_id"])["json"]
    assert done["counts"] == {"customer_already_linked": 4}
    assert len(all_bulk_requests(postman)) == 4  # the first import's, once each


def test_a_fault_midway_keeps_the_rows_done_and_the_retry_does_the_rest(desk, importer):
    ids = new_customers(desk, 5)
    body = importer.start(ids)["json"]
    [message] = importer.receive()
    # The third row's transaction is throttled (after every retry of botocore's).
    with faults.failing("TransactWriteItems", "ThrottlingException", skip=2):
        assert importer.deliver([message]) == {message["MessageId"]}
    partway = importer.get(body["import_id"])["json"]
    assert partway["status"] == "running"
    assert [row["result"] for row in partway["rows"]] == ["created"] * 2 + ["pending"] * 3
    # SQS delivers the message again: the rows done are skipped, the others done.
    assert importer.deliver([message]) == set()
    done = importer.get(body["import_id"])["json"]
    assert done["counts"] == {"created": 5}
    assert CustomerModel.get(ids[0]).account_username == "socio.0@example.com"


def test_on_its_last_delivery_the_rows_aws_refuses_are_failed_not_pending(desk, importer):
    ids = new_customers(desk, 3)
    body = importer.start(ids)["json"]
    [message] = importer.receive()
    with faults.failing("TransactWriteItems", "ThrottlingException", skip=1, times=None):
        failed = importer.deliver(
            [message], receive_count=imports.get_settings().import_max_receive_count
        )
    assert failed == set()  # nothing left for SQS: the rows say what happened
    done = importer.get(body["import_id"])["json"]
    assert done["status"] == "done"
    assert [row["result"] for row in done["rows"]] == ["created", "failed", "failed"]
    assert "again" in done["rows"][1]["detail"]
    # Imported again, they get their logins.
    again = importer.start(ids[1:])["json"]
    importer.drain()
    assert importer.get(again["import_id"])["json"]["counts"] == {"created": 2}


def test_a_queue_that_refuses_the_rows_is_a_503_and_leaves_no_import(desk, importer):
    ids = new_customers(desk, 2)
    with faults.failing("SendMessageBatch", "ThrottlingException", service="sqs", times=None):
        response = importer.start(ids)
    assert response["statusCode"] == 503, response
    assert response["headers"]["Retry-After"]
    assert list(ImportModel.scan()) == []
    assert importer.receive() == []


# ---- the request ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer_ids", "reason"),
    [
        ([], "must have at least 1 item"),
        ([str(uuid.uuid4()) for _ in range(1001)], "must have at most 1000 items"),
        ([7], "item 0: must be a string"),
        (["x" * 65], "item 0: must have at most 64 characters"),
        ("one-id", "must be an array"),
    ],
)
def test_a_bad_list_is_refused_naming_the_field(importer, customer_ids, reason):
    response = importer.start(customer_ids)
    assert response["statusCode"] in (400, 422), response
    assert {"field": "customer_ids", "reason": reason} in response["json"]["errors"]
    assert list(ImportModel.scan()) == []


def test_an_unknown_import_is_a_404(importer):
    for import_id in ("20260101T090000Z-000000000000", "x" * 65):
        response = importer.get(import_id)
        assert response["statusCode"] == 404, response
        assert response["json"]["type"] == "not_found"


def test_an_unreadable_message_is_dropped(importer):
    response = import_worker(
        sqs_event([{"messageId": "m1", "body": "{not json", "attributes": {}}]), FakeContext()
    )
    assert response == {"batchItemFailures": []}


def test_the_import_queue_gives_up_where_the_worker_records_failures():
    from local import template

    queue = template.resources("AWS::SQS::Queue")["ImportQueue"]["Properties"]
    assert (
        queue["RedrivePolicy"]["maxReceiveCount"] == imports.get_settings().import_max_receive_count
    )


def test_two_deliveries_racing_make_each_login_and_email_once(moto_server):
    """SQS may hand the same message to two workers at once (a visibility timeout that
    passed mid-run): against the serialising moto server, both run every row."""
    desk = Desk()
    importer = Imports(moto_server.names)
    ids = new_customers(desk, 6)
    body = importer.start(ids)["json"]
    [message] = importer.receive()
    start = threading.Barrier(2)

    def deliver(_):
        start.wait()
        record = sqs_record(message, importer.arn)
        return import_worker(sqs_event([record]), FakeContext())

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(deliver, range(2)))
    assert answers == [{"batchItemFailures": []}] * 2
    done = importer.get(body["import_id"])["json"]
    assert done["counts"] == {"created": 6}
    sqs = boto3.client("sqs")
    queued = []
    while batch := sqs.receive_message(
        QueueUrl=moto_server.names["BulkEmailQueue"], MaxNumberOfMessages=10
    ).get("Messages", []):
        queued += [json.loads(m["Body"])["to"] for m in batch]
    assert sorted(queued) == sorted(f"socio.{n}@example.com" for n in range(6))
    for n in range(6):
        actions = [e.action for e in AuditEventModel.query(f"account#socio.{n}@example.com")]
        assert actions.count("account.created") == 1


def test_a_credentials_email_the_queue_refuses_shows_as_failed_on_its_row(desk, importer, operator):
    [customer_id] = new_customers(desk, 1)
    body = importer.start([customer_id])["json"]
    [message] = importer.receive()
    with faults.failing("SendMessage", "ThrottlingException", service="sqs", times=None):
        assert importer.deliver([message]) == set()
    [row] = importer.get(body["import_id"])["json"]["rows"]
    # The login is made; the operator sees the email did not go, and can send it again.
    assert (row["result"], row["credentials_email"]) == ("created", "failed")
    [entry] = operator.emails("socio.0@example.com")["json"]["items"]
    assert entry["status"] == "failed"


def test_a_login_whose_index_write_is_refused_is_queued_for_repair(desk, importer, clean_aws):
    [customer_id] = new_customers(desk, 1)
    importer.start([customer_id])
    [message] = importer.receive()
    with faults.failing("BatchWriteItem", "ThrottlingException", times=None):
        assert importer.deliver([message]) == set()
    repairs = boto3.client("sqs").receive_message(QueueUrl=clean_aws["IndexRepairQueue"])
    [repair] = repairs["Messages"]
    assert json.loads(repair["Body"]) == {"username": "socio.0@example.com"}
