"""The functions' IAM policies in template.yaml allow every AWS call they make, and no more.

Runs last (tests/conftest.py): it checks what tests/iam_audit.py recorded while the other
tests ran the handlers against moto, which does not enforce IAM. So it checks nothing alone:
with no call recorded the first test fails (run it with tests that call the handlers); the
three that compare every grant with the calls skip unless every unit test file is in the run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from local import template
from tests import iam_audit
from tests.iam_audit import Call, Grant, grants, refused, unused

# Grants no call of the suite uses, each with why it stays: (function, action, resource).
QUEUE_FAILURE = "outbox.dispatch marks the email log entry failed when SQS refuses the message"
UNUSED_ON_PURPOSE: dict[tuple[str, str, str], str] = {
    **{
        (function, "dynamodb:UpdateItem", "EmailLogTable"): QUEUE_FAILURE
        for function in (
            "AuthResetPasswordFunction",
            "OperatorCreateAccountFunction",
            "OperatorResetPasswordFunction",
        )
    },
    **{
        ("EmailEventsFunction", action, "DataKey"): (
            "Lambda sends the events the function failed on to its KMS-encrypted "
            "dead-letter queue with the function's role"
        )
        for action in ("kms:Decrypt", "kms:GenerateDataKey")
    },
    ("EmailSenderFunction", "dynamodb:GetItem", "IdempotencyTable"): (
        "Powertools Idempotency reads the record when a conditional put returns no old item"
    ),
    ("SearchRepairFunction", "kms:Decrypt", "DataKey"): (
        "Lambda's SQS poller receives the encrypted repair messages with the function's role"
    ),
}


UNIT_TESTS = Path(__file__).resolve().parent


@pytest.fixture
def whole_suite(request) -> None:
    """Skips the test unless every unit test file is in this run: a grant no call of the
    run used is unused only if every test had its chance to use it."""
    in_run = {Path(item.path).resolve() for item in request.session.items}
    missing = sorted(path.name for path in UNIT_TESTS.glob("test_*.py") if path not in in_run)
    if missing:
        pytest.skip(
            f"compares with the calls of the whole unit suite (`pytest tests/unit`); "
            f"{len(missing)} of its files are not in this run, e.g. {missing[0]}"
        )


def test_every_aws_call_a_function_made_is_allowed_by_its_policy():
    # Alone (or after tests that call no handler) there is nothing to check: not a pass.
    if not any(iam_audit.CALLS.values()):
        pytest.fail(
            "no AWS call of any function was recorded, so no policy was checked: run this "
            "file with tests that call the handlers, e.g. the whole unit suite "
            "(`pytest tests/unit`)",
            pytrace=False,
        )
    problems = {
        function: missing
        for function, calls in sorted(iam_audit.CALLS.items())
        if (missing := refused(function, calls))
    }
    assert problems == {}, "template.yaml policies miss these actions"


@pytest.mark.usefixtures("whole_suite")
def test_every_grant_is_used_by_some_call_of_the_suite():
    problems = {
        function: surplus
        for function in sorted(template.resources("AWS::Serverless::Function"))
        if (
            surplus := [
                grant
                for grant in unused(function, iam_audit.CALLS.get(function, set()))
                if (function, *grant.split(" on ")) not in UNUSED_ON_PURPOSE
            ]
        )
    }
    assert problems == {}, "template.yaml grants these and no call needs them"


@pytest.mark.usefixtures("whole_suite")
def test_grants_listed_as_unused_are_unused():
    used = [
        listed
        for listed in UNUSED_ON_PURPOSE
        if f"{listed[1]} on {listed[2]}" not in unused(listed[0], iam_audit.CALLS[listed[0]])
    ]
    assert used == [], "a call uses these now: take them off UNUSED_ON_PURPOSE"


@pytest.mark.usefixtures("whole_suite")
def test_the_suite_exercised_every_function_that_calls_aws():
    functions = set(template.resources("AWS::Serverless::Function"))
    # GET /me answers from the authorizer's context alone, and the pages' stylesheet and
    # script are text of the layer's: no AWS call of their own.
    assert functions - set(iam_audit.CALLS) == {"MeGetFunction", "PageAssetsFunction"}


def test_the_check_reads_policies_and_spots_a_missing_action():
    assert Grant("dynamodb:BatchGetItem", "SessionsTable") in grants("SessionAuthorizerFunction")
    assert Grant("dynamodb:Query", "AccountsTable/index/by-status-shard") in grants(
        "OperatorListAccountsFunction"
    )
    assert Grant("ses:SendEmail", "ses-identity") in grants("EmailSenderFunction")
    assert refused(
        "OperatorGetCustomerFunction",
        {Call("dynamodb:GetItem", "CustomersTable"), Call("dynamodb:DeleteItem", "CustomersTable")},
    ) == ["dynamodb:DeleteItem on CustomersTable"]


def test_the_check_spots_a_grant_no_call_uses():
    calls = {Call("dynamodb:GetItem", "CustomersTable")}
    assert unused("OperatorGetCustomerFunction", calls) == ["dynamodb:GetItem on AccountsTable"]


def test_an_attribute_condition_limits_what_an_update_may_touch():
    limited = Grant(
        "dynamodb:UpdateItem",
        "AccountsTable",
        attributes=frozenset({"username", "last_login_at"}),
        return_values=frozenset({"NONE", "UPDATED_NEW"}),
    )

    def touching(*names: str, returns: str | None = None) -> Call:
        return Call("dynamodb:UpdateItem", "AccountsTable", frozenset(names), returns)

    assert limited.allows(touching("username", "last_login_at"))
    assert limited.allows(touching("username", returns="UPDATED_NEW"))
    assert not limited.allows(touching("username", "password_hash"))
    assert not limited.allows(touching("username", returns="ALL_NEW"))
    # Other actions under the condition are not modelled, so refused.
    assert not limited.allows(Call("dynamodb:GetItem", "AccountsTable"))


def test_login_and_the_sender_may_update_only_named_account_attributes():
    # The suite's calls are checked against the names (above); here, that there are names,
    # with the key among them, and that no ReturnValues may read the other attributes.
    for function in ("AuthLoginFunction", "EmailSenderFunction"):
        updates = [
            grant
            for grant in grants(function)
            if (grant.action, grant.resource) == ("dynamodb:UpdateItem", "AccountsTable")
        ]
        assert updates, function
        for grant in updates:
            assert grant.attributes is not None and "username" in grant.attributes, function
            assert grant.return_values == {"NONE", "UPDATED_OLD", "UPDATED_NEW"}, function


def test_calls_are_translated_to_the_actions_iam_checks():
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "AuditTable"}},
            {"Delete": {"TableName": "ThrottleTable"}},
            {"ConditionCheck": {"TableName": "AccountsTable"}},
        ]
    }
    assert iam_audit.needs("dynamodb", "TransactWriteItems", transaction) == {
        Call("dynamodb:PutItem", "AuditTable"),
        Call("dynamodb:DeleteItem", "ThrottleTable"),
        Call("dynamodb:ConditionCheckItem", "AccountsTable"),
    }
    assert iam_audit.needs(
        "dynamodb", "Query", {"TableName": "AccountsTable", "IndexName": "by-status"}
    ) == {Call("dynamodb:Query", "AccountsTable/index/by-status")}
    # An encrypted queue: SQS uses its KMS key with the caller's permissions.
    assert iam_audit.needs(
        "sqs", "SendMessage", {"QueueUrl": "https://sqs.eu-south-1.amazonaws.com/1/EmailQueue"}
    ) == {
        Call("sqs:SendMessage", "EmailQueue"),
        Call("kms:GenerateDataKey", "DataKey"),
        Call("kms:Decrypt", "DataKey"),
    }


def test_an_update_is_recorded_with_the_top_level_attributes_it_names():
    update = {
        "TableName": "AccountsTable",
        "Key": {"username": {"S": "mario.rossi@example.com"}},
        "UpdateExpression": "SET #0 = :0, #1.#2 = if_not_exists(#1.#2, :1) REMOVE #3[0]",
        "ConditionExpression": "attribute_exists (#4) AND size(#1) < :2",
        "ExpressionAttributeNames": {
            "#0": "last_login_at",
            "#1": "customers",
            "#2": "a-customer-id",  # a map key, not an attribute
            "#3": "history",
            "#4": "username",
        },
        "ReturnValues": "ALL_NEW",
    }
    attributes = frozenset({"username", "last_login_at", "customers", "history"})
    assert iam_audit.needs("dynamodb", "UpdateItem", update) == {
        Call("dynamodb:UpdateItem", "AccountsTable", attributes, "ALL_NEW")
    }
    inside = {
        "TransactItems": [{"Update": {k: v for k, v in update.items() if k != "ReturnValues"}}]
    }
    assert iam_audit.needs("dynamodb", "TransactWriteItems", inside) == {
        Call("dynamodb:UpdateItem", "AccountsTable", attributes)
    }
