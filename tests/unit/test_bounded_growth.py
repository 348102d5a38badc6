"""Items and tables that would grow without bound (issue 10, finding 8): the customers one
login may serve, and how long the email log keeps an entry."""

from __future__ import annotations

import os

import pytest
from boto3 import client

from portal_accounts.config import get_settings
from portal_accounts.models import EmailLogModel
from tests.unit.clients import GOOD_PASSWORD


@pytest.fixture
def cap_of_three(monkeypatch):
    monkeypatch.setenv("MAX_CUSTOMERS_PER_ACCOUNT", "3")
    get_settings.cache_clear()
    yield 3
    os.environ.pop("MAX_CUSTOMERS_PER_ACCOUNT", None)
    get_settings.cache_clear()


def test_a_login_serves_at_most_the_configured_customers(desk, cap_of_three):
    parent, username = desk.account_for("Maria", "Rossi", "maria.rossi@example.com")
    for name in ("Luca", "Anna"):
        assert desk.associate(desk.customer(name, "Bianchi"), username)["statusCode"] == 200
    one_more = desk.customer("Piero", "Bianchi")
    refused = desk.associate(one_more, username)
    assert refused["statusCode"] == 409, refused
    assert refused["json"]["type"] == "too_many_customers"
    assert "3" in refused["json"]["detail"]
    assert desk.get_customer(one_more)["json"]["account"] is None
    # Room again after a dissociation.
    assert desk.dissociate(parent)["statusCode"] == 204
    assert desk.associate(one_more, username)["statusCode"] == 200


def test_the_cap_defaults_to_fifty(clean_aws):
    assert get_settings().max_customers_per_account == 50


def test_email_log_entries_expire_after_the_retention(desk, operator, frozen_clock):
    customer_id, username = desk.account_for(
        "Maria", "Rossi", "maria.rossi@example.com", password=GOOD_PASSWORD
    )
    assert operator.send_credentials(customer_id)["statusCode"] == 202
    [entry] = EmailLogModel.query(username)
    days = get_settings().email_log_retention_days
    assert days == 400
    assert (entry.expires_at - entry.queued_at).days == days
    # DynamoDB's TTL is on for the table, on that attribute.
    described = client("dynamodb").describe_time_to_live(TableName=EmailLogModel.Meta.table_name)
    assert described["TimeToLiveDescription"]["AttributeName"] == "expires_at"
