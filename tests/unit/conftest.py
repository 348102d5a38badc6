"""Fixtures for the operator-side unit tests: emulated AWS, a frozen clock, an operator.

Everything goes through the real handlers (functions.<op>.app.handler) against moto; the
`desk` fixture only saves typing, it never bypasses the API. `seed_account` is the one
shortcut: it writes accounts straight through the models (with a precomputed hash) so that
pagination tests need not pay argon2 for dozens of accounts.

`clean_aws` is tests/conftest.py's `aws` (every table and queue of the template in moto)
started once per module and emptied before each test: a fresh mock per test costs about
0.3 s of setup, which over a hundred tests is most of the suite's time.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

import pytest
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.moto_api._internal import moto_api_backend
from moto.sqs.models import sqs_backends

from functions.operator_associate_account.app import handler as associate_handler
from functions.operator_create_account.app import handler as create_account_handler
from functions.operator_create_customer.app import handler as create_customer_handler
from functions.operator_disable_account.app import handler as disable_handler
from functions.operator_dissociate_account.app import handler as dissociate_handler
from functions.operator_enable_account.app import handler as enable_handler
from functions.operator_get_account.app import handler as get_account_handler
from functions.operator_get_customer.app import handler as get_customer_handler
from functions.operator_list_accounts.app import handler as list_accounts_handler
from functions.operator_list_events.app import handler as list_events_handler
from functions.operator_set_password.app import handler as set_password_handler
from functions.operator_update_customer.app import handler as update_customer_handler
from local import aws as local_aws
from local import resources
from portal_accounts import clock, imports, recovery, search, store
from portal_accounts.config import get_settings
from portal_accounts.email import outbox, sender
from portal_accounts.models import ALL_MODELS, AccountModel, CustomerModel
from portal_accounts.passwords import hash_password
from tests.helpers import call
from tests.unit.storefront_helpers import Operator, Postman, Shop, open_mailbox

# A passphrase that passes the policy for every customer used in these tests.
GOOD_PASSWORD = "lanterna verde sul molo antico"
OTHER_GOOD_PASSWORD = "tramonto viola dietro le colline"


def enc(username: str) -> str:
    """A path parameter as API Gateway delivers it: URL-encoded (@ as %40)."""
    return quote(username, safe="")


@lru_cache(maxsize=1)
def precomputed_hash() -> str:
    return hash_password(GOOD_PASSWORD)


class Desk:
    """The operator dashboard: one method per operator route, each a real handler call."""

    def __init__(self, claims: dict | None = None) -> None:
        self.kwargs = {} if claims is None else {"claims": claims}

    def create_customer(self, first_name="Mario", last_name="Rossi", email=None, **extra):
        body = {"first_name": first_name, "last_name": last_name, **extra}
        if email is not None:
            body["email"] = email
        return call(
            create_customer_handler, "POST", "/operator/customers", body=body, **self.kwargs
        )

    def customer(self, first_name="Mario", last_name="Rossi", email=None, **extra) -> str:
        """Create a customer and return its id (the creation must succeed)."""
        response = self.create_customer(first_name, last_name, email, **extra)
        assert response["statusCode"] == 201, response
        return response["json"]["customer_id"]

    def get_customer(self, customer_id):
        return call(
            get_customer_handler, "GET", f"/operator/customers/{customer_id}", **self.kwargs
        )

    def update_customer(self, customer_id, body):
        return call(
            update_customer_handler,
            "PATCH",
            f"/operator/customers/{customer_id}",
            body=body,
            **self.kwargs,
        )

    def create_account(self, customer_id, password=GOOD_PASSWORD, **extra):
        return call(
            create_account_handler,
            "POST",
            f"/operator/customers/{customer_id}/account",
            body={"password": password, **extra},
            **self.kwargs,
        )

    def account_for(self, first_name, last_name, email, **extra) -> tuple[str, str]:
        """A customer with a new account; returns (customer_id, username)."""
        customer_id = self.customer(first_name, last_name, email)
        response = self.create_account(customer_id, **extra)
        assert response["statusCode"] == 201, response
        return customer_id, response["json"]["username"]

    def associate(self, customer_id, username):
        return call(
            associate_handler,
            "PUT",
            f"/operator/customers/{customer_id}/account",
            body={"username": username},
            **self.kwargs,
        )

    def dissociate(self, customer_id):
        return call(
            dissociate_handler,
            "DELETE",
            f"/operator/customers/{customer_id}/account",
            **self.kwargs,
        )

    def get_account(self, username):
        return call(
            get_account_handler, "GET", f"/operator/accounts/{enc(username)}", **self.kwargs
        )

    def set_password(self, username, password, confirmation=None, **extra):
        body = {
            "password": password,
            "password_confirmation": password if confirmation is None else confirmation,
            **extra,
        }
        return call(
            set_password_handler,
            "PUT",
            f"/operator/accounts/{enc(username)}/password",
            body=body,
            **self.kwargs,
        )

    def disable(self, username):
        return call(
            disable_handler, "POST", f"/operator/accounts/{enc(username)}/disable", **self.kwargs
        )

    def enable(self, username):
        return call(
            enable_handler, "POST", f"/operator/accounts/{enc(username)}/enable", **self.kwargs
        )

    def list_accounts(self, **query):
        query = {k: str(v) for k, v in query.items() if v is not None}
        return call(list_accounts_handler, "GET", "/operator/accounts", query=query, **self.kwargs)

    def usernames(self, **query) -> list[str]:
        response = self.list_accounts(**query)
        assert response["statusCode"] == 200, response
        return [item["username"] for item in response["json"]["items"]]

    def all_pages(self, **query) -> list[str]:
        """Follow next_cursor to the end; returns every username in page order."""
        seen: list[str] = []
        cursor = None
        for _ in range(200):
            response = self.list_accounts(**query, cursor=cursor)
            assert response["statusCode"] == 200, response
            assert len(response["json"]["items"]) <= int(query.get("limit", 25))
            seen += [item["username"] for item in response["json"]["items"]]
            cursor = response["json"]["next_cursor"]
            if cursor is None:
                return seen
        raise AssertionError("pagination never ended")

    def events(self, username, **query):
        query = {k: str(v) for k, v in query.items() if v is not None}
        return call(
            list_events_handler,
            "GET",
            f"/operator/accounts/{enc(username)}/events",
            query=query,
            **self.kwargs,
        )


@pytest.fixture(scope="module")
def _module_aws():
    from local import resources

    with mock_aws():
        names = resources.create_all()
        os.environ["EMAIL_QUEUE_URL"] = names["EmailQueue"]
        os.environ["EMAIL_BULK_QUEUE_URL"] = names["BulkEmailQueue"]
        os.environ["EMAIL_DEAD_LETTER_QUEUE_URL"] = names["EmailDeadLetterQueue"]
        os.environ["INDEX_REPAIR_QUEUE_URL"] = names["IndexRepairQueue"]
        os.environ["IMPORT_QUEUE_URL"] = names["ImportQueue"]
        get_settings.cache_clear()
        yield names
    get_settings.cache_clear()


def _empty_every_table_and_queue() -> None:
    """Every table and queue emptied straight in moto's backends: through the API (a Scan
    and batch deletes per table, a drain per queue) it cost about 0.1 s a test, a fifth of
    the suite and of every mutant's run (`make mutation`). The tables, their indexes and
    the queues stay as the template made them."""
    for regions in dynamodb_backends.values():
        for backend in regions.values():
            for table in backend.tables.values():
                table.items.clear()
    for regions in sqs_backends.values():
        for backend in regions.values():
            for queue in backend.queues.values():
                with queue._messages_lock:
                    queue._messages = []
                    queue._pending_messages = set()


@pytest.fixture
def clean_aws(_module_aws):
    """The template's tables and queues in moto, empty at the start of the test."""
    _empty_every_table_and_queue()
    get_settings.cache_clear()
    yield _module_aws
    get_settings.cache_clear()


@pytest.fixture
def desk(clean_aws) -> Desk:
    return Desk()


@pytest.fixture
def operator(clean_aws) -> Operator:
    """The operator's email and template routes (tests/unit/storefront_helpers.Operator)."""
    return Operator()


@pytest.fixture
def shop(clean_aws) -> Shop:
    """The storefront's routes, as a customer's client calls them."""
    return Shop()


@pytest.fixture
def postman(clean_aws) -> Postman:
    """The email queue, the sender function and SES's outbox, with the sender verified."""
    open_mailbox()
    return Postman(clean_aws)


@pytest.fixture
def lockout_after(monkeypatch):
    """LOGIN_LOCKOUT_FAILURES set for one test (the default, 100, is slow to reach)."""

    def configure(failures: int) -> None:
        monkeypatch.setenv("LOGIN_LOCKOUT_FAILURES", str(failures))
        get_settings.cache_clear()

    yield configure
    monkeypatch.delenv("LOGIN_LOCKOUT_FAILURES", raising=False)
    get_settings.cache_clear()


@pytest.fixture
def frozen_clock():
    with clock.frozen() as frozen:
        yield frozen


def seed_account(
    username: str,
    customers: list[tuple[str, str]],
    *,
    status: str = "active",
) -> AccountModel:
    """An account with linked customers written through the models, then indexed."""
    now = clock.now()
    entries = {}
    for first_name, last_name in customers:
        customer_id = str(uuid.uuid4())
        CustomerModel(
            customer_id=customer_id,
            first_name=first_name,
            last_name=last_name,
            email=username,
            locale="it",
            account_username=username,
            created_at=now,
            updated_at=now,
        ).save()
        entries[customer_id] = {
            "first_name": first_name,
            "last_name": last_name,
            "linked_at": clock.iso(now),
        }
    account = AccountModel(
        username=username,
        status=status,
        password_hash=precomputed_hash(),
        password_temporary=False,
        password_changed_at=now,
        credential_version=1,
        created_at=now,
        customers=entries,
    )
    account.save()
    search.sync(account)
    return account


# ---- the moto server, for tests with real threads ------------------------------------------


@dataclass
class MotoServer:
    endpoint_url: str
    names: dict[str, str]  # logical id -> table name or queue URL


def _forget_clients() -> None:
    """Every cached client connects again, where the environment now says."""
    for model in ALL_MODELS:
        model._connection = None
    store._connection.cache_clear()
    outbox._sqs.cache_clear()
    recovery._sqs.cache_clear()
    search._sqs.cache_clear()
    imports._sqs.cache_clear()
    sender._ses.cache_clear()
    sender._persistence.cache_clear()


@pytest.fixture
def moto_server():
    """The local stack's moto server, empty, with the template's tables and queues.

    moto in-process (mock_aws) does not make a conditional write or a transaction atomic
    against other threads; the server serialises requests the way DynamoDB makes each of
    them atomic, so racing threads exercise our conditions, not moto's.
    """
    keys = (
        "AWS_ENDPOINT_URL",
        "EMAIL_QUEUE_URL",
        "EMAIL_BULK_QUEUE_URL",
        "EMAIL_DEAD_LETTER_QUEUE_URL",
        "INDEX_REPAIR_QUEUE_URL",
        "IMPORT_QUEUE_URL",
    )
    saved = {key: os.environ.get(key) for key in keys}
    _forget_clients()
    server = local_aws.start()
    try:
        moto_api_backend.reset()  # the server serves moto's process-wide state
        names = resources.create_all()
        os.environ["EMAIL_QUEUE_URL"] = names["EmailQueue"]
        os.environ["EMAIL_BULK_QUEUE_URL"] = names["BulkEmailQueue"]
        os.environ["EMAIL_DEAD_LETTER_QUEUE_URL"] = names["EmailDeadLetterQueue"]
        os.environ["INDEX_REPAIR_QUEUE_URL"] = names["IndexRepairQueue"]
        os.environ["IMPORT_QUEUE_URL"] = names["ImportQueue"]
        get_settings.cache_clear()
        yield MotoServer(server.endpoint_url, names)
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        _forget_clients()
