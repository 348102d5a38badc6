"""The functions' IAM policies in template.yaml allow every AWS call they make.

Runs last (tests/conftest.py): it checks what tests/iam_audit.py recorded while the other
tests ran the handlers against moto, which does not enforce IAM.
"""

from __future__ import annotations

from local import template
from tests import iam_audit
from tests.iam_audit import Grant, grants, refused


def test_every_aws_call_a_function_made_is_allowed_by_its_policy():
    problems = {
        function: missing
        for function, calls in sorted(iam_audit.CALLS.items())
        if (missing := refused(function, calls))
    }
    assert problems == {}, "template.yaml policies miss these actions"


def test_the_suite_exercised_every_function_that_calls_aws():
    if len(iam_audit.CALLS) < 5:
        return  # this file alone: nothing recorded to compare with
    functions = set(template.resources("AWS::Serverless::Function"))
    # GET /me answers from the authorizer's context alone: no AWS call of its own.
    assert functions - set(iam_audit.CALLS) == {"MeGetFunction"}


def test_the_check_reads_policies_and_spots_a_missing_action():
    assert Grant("dynamodb:BatchGetItem", "SessionsTable") in grants("SessionAuthorizerFunction")
    assert Grant("dynamodb:Query", "AccountsTable/index/by-status") in grants(
        "OperatorListAccountsFunction"
    )
    assert Grant("ses:SendEmail", "ses-identity") in grants("EmailSenderFunction")
    assert refused(
        "OperatorGetCustomerFunction",
        {("dynamodb:GetItem", "CustomersTable"), ("dynamodb:DeleteItem", "CustomersTable")},
    ) == ["dynamodb:DeleteItem on CustomersTable"]


def test_calls_are_translated_to_the_actions_iam_checks():
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "AuditTable"}},
            {"Delete": {"TableName": "ThrottleTable"}},
            {"ConditionCheck": {"TableName": "AccountsTable"}},
        ]
    }
    assert iam_audit.needs("dynamodb", "TransactWriteItems", transaction) == {
        ("dynamodb:PutItem", "AuditTable"),
        ("dynamodb:DeleteItem", "ThrottleTable"),
        ("dynamodb:ConditionCheckItem", "AccountsTable"),
    }
    assert iam_audit.needs(
        "dynamodb", "Query", {"TableName": "AccountsTable", "IndexName": "by-status"}
    ) == {("dynamodb:Query", "AccountsTable/index/by-status")}
    assert iam_audit.needs(
        "sqs", "SendMessage", {"QueueUrl": "https://sqs.eu-south-1.amazonaws.com/1/EmailQueue"}
    ) == {("sqs:SendMessage", "EmailQueue")}
