"""Fixtures for the unit tests: emulated AWS emptied per test, the clients, a frozen clock.

The clients themselves (`Desk`, `Shop`, `Operator`, `Postman`) and the data helpers
(`seed_account`, `GOOD_PASSWORD`, `link_in`...) are in tests/unit/clients.py; the `aws`
fixtures, in tests/conftest.py.

`clean_aws` is tests/conftest.py's `aws` (every table and queue of the template in moto)
started once per module (`_module_aws`) and emptied before each test: a fresh mock per test
costs about 0.3 s of setup, which over a hundred tests is most of the suite's time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from moto.moto_api._internal import moto_api_backend

from local import aws as local_aws
from local import resources, template
from portal_accounts import clients, clock
from portal_accounts.config import get_settings
from tests.helpers import empty_every_table_and_queue, use_queues
from tests.unit.clients import Desk, Operator, Postman, Shop, open_mailbox


@pytest.fixture
def clean_aws(_module_aws):
    """The template's tables and queues in moto, empty at the start of the test."""
    empty_every_table_and_queue()
    get_settings.cache_clear()
    yield _module_aws
    get_settings.cache_clear()


@pytest.fixture
def desk(clean_aws) -> Desk:
    """The operator dashboard's customer and account routes, with both operator scopes."""
    return Desk()


@pytest.fixture
def operator(clean_aws) -> Operator:
    """The operator's email and template routes (tests/unit/clients.Operator)."""
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


# ---- the moto server, for tests with real threads ------------------------------------------


@dataclass
class MotoServer:
    endpoint_url: str
    names: dict[str, str]  # logical id -> table name or queue URL


@pytest.fixture
def moto_server():
    """The local stack's moto server, empty, with the template's tables and queues.

    moto in-process (mock_aws) does not make a conditional write or a transaction atomic
    against other threads; the server serialises requests the way DynamoDB makes each of
    them atomic, so racing threads exercise our conditions, not moto's.
    """
    saved = {"AWS_ENDPOINT_URL": os.environ.get("AWS_ENDPOINT_URL")}
    clients.reset()  # every client connects again, where the environment says
    server = local_aws.start()
    try:
        moto_api_backend.reset()  # the server serves moto's process-wide state
        names = resources.create_all()
        saved |= {key: os.environ.get(key) for key in template.required_environment(names)}
        use_queues(names)
        yield MotoServer(server.endpoint_url, names)
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        clients.reset()  # every client connects again, where the environment says
