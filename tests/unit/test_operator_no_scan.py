"""No operator request reads a whole table: every DynamoDB call is a key read or a Query."""

from __future__ import annotations

import botocore.client
import pytest

from tests.unit.clients import OTHER_GOOD_PASSWORD, seed_account


class ScanForbidden(AssertionError):
    pass


@pytest.fixture
def dynamodb_calls(monkeypatch):
    """Record every AWS API call; a DynamoDB Scan fails the request at once."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(client, operation_name, api_params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.append(operation_name)
            if operation_name == "Scan":
                raise ScanForbidden(f"Scan of {api_params.get('TableName')}")
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    return calls


def test_no_operator_handler_scans(frozen_clock, desk, dynamodb_calls):
    for n in range(30):  # enough rows that a Scan-and-filter would be tempting
        seed_account(f"seed{n:02d}@example.com", [("Anna", f"Neri{n}")])
    dynamodb_calls.clear()

    statuses = []
    customer_id = desk.customer("Mario", "Rossi", "mario.rossi@example.com")
    child_id = desk.customer("Luca", "Rossi")
    statuses.append(desk.get_customer(customer_id)["statusCode"])
    statuses.append(desk.update_customer(customer_id, {"locale": "en"})["statusCode"])
    statuses.append(desk.create_account(customer_id)["statusCode"])
    username = "mario.rossi@example.com"
    statuses.append(desk.associate(child_id, username)["statusCode"])
    statuses.append(desk.update_customer(child_id, {"first_name": "Luigi"})["statusCode"])
    statuses.append(desk.get_account(username)["statusCode"])
    for query in (
        {},
        {"status": "all"},
        {"status": "disabled"},
        {"q": "ross"},
        {"q": "mario ro", "status": "all"},
        {"q": "neri", "limit": 5},
    ):
        statuses.append(desk.list_accounts(**query)["statusCode"])
    statuses.append(len(desk.all_pages(q="neri", limit=7)) == 30 and 200)
    statuses.append(len(desk.all_pages(status="all", limit=7)) == 31 and 200)
    statuses.append(desk.events(username, limit=2)["statusCode"])
    statuses.append(desk.set_password(username, OTHER_GOOD_PASSWORD)["statusCode"])
    statuses.append(desk.disable(username)["statusCode"])
    statuses.append(desk.enable(username)["statusCode"])
    statuses.append(desk.dissociate(child_id)["statusCode"])
    statuses.append(desk.dissociate(customer_id)["statusCode"])

    assert all(status in (200, 201, 204) for status in statuses), statuses
    assert "Scan" not in dynamodb_calls
    # The spy did see the traffic, so the check above means something.
    assert {"Query", "GetItem", "TransactWriteItems"} <= set(dynamodb_calls)


def test_the_spy_catches_a_scan(desk, dynamodb_calls):
    from portal_accounts.models import AccountModel

    with pytest.raises(ScanForbidden):
        list(AccountModel.scan())
