"""Every AWS call a function makes in the tests is allowed by its own policy in template.yaml.

moto and the local stack do not enforce IAM, so a policy that misses an action (a
BatchGetItem where the policy grants GetItem, a Delete inside a transaction) passes every
test and fails on AWS. Here each function's handler is wrapped (`wrap_handlers`, called by
tests/conftest.py before any test imports a handler) so that every botocore call made while
it runs is recorded as the IAM actions and resources it needs (`needs`), and
tests/unit/test_iam_policies.py, run last, checks them against the function's statements.

In the tests, tables and queues are named after their logical ids (local.resources), so a
table name or a queue URL names the resource of the template directly.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
from collections import defaultdict
from dataclasses import dataclass

import botocore.client

from local import template

_current_function: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "function", default=None
)
# Function logical id -> the (action, resource) pairs its calls needed.
CALLS: dict[str, set[tuple[str, str]]] = defaultdict(set)

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def needs(service: str, operation: str, params: dict) -> set[tuple[str, str]]:
    """The IAM (action, resource) pairs one API call needs; resource = a logical id."""
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return {
                (f"dynamodb:{_TRANSACT_ACTIONS[kind]}", body["TableName"])
                for item in params["TransactItems"]
                for kind, body in item.items()
            }
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return {(f"dynamodb:{operation}", table) for table in params["RequestItems"]}
        resource = params["TableName"]
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return {(f"dynamodb:{operation}", resource)}
    if service == "sqs":
        return {(f"sqs:{operation}", params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1])}
    if service == "sesv2":
        return {(f"ses:{operation}", "ses-identity")}
    return {(f"{service}:{operation}", "*")}


def wrap_handlers() -> None:
    """Replace each function's `handler` by one that names the function while it runs."""
    for logical_id, function in template.resources("AWS::Serverless::Function").items():
        module = importlib.import_module(template.module_of(function))
        original = module.handler
        if getattr(original, "_iam_audit", False):
            continue

        @functools.wraps(original)
        def handler(event, context, _original=original, _function=logical_id):
            token = _current_function.set(_function)
            try:
                return _original(event, context)
            finally:
                _current_function.reset(token)

        handler._iam_audit = True  # type: ignore[attr-defined]
        module.handler = handler

    make_api_call = botocore.client.BaseClient._make_api_call
    if getattr(make_api_call, "_iam_audit", False):
        return

    def recording(self, operation_name, api_params):
        function = _current_function.get()
        if function is not None:
            service = self.meta.service_model.service_name
            CALLS[function] |= needs(service, operation_name, api_params)
        return make_api_call(self, operation_name, api_params)

    recording._iam_audit = True  # type: ignore[attr-defined]
    botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]


@dataclass(frozen=True)
class Grant:
    action: str  # "dynamodb:GetItem"
    resource: str  # a logical id, "Table/index/Name", "ses-identity" or "*"


def _resource(value: object) -> str:
    if isinstance(value, template.Tag):
        if value.name == "GetAtt":
            target = value.value if isinstance(value.value, str) else ".".join(value.value)
            return target.removesuffix(".Arn")
        if value.name == "Sub":
            text = value.value if isinstance(value.value, str) else value.value[0]
            if ":ses:" in text:
                return "ses-identity"
            # "${AccountsTable.Arn}/index/by-status"
            return text.replace("${", "").replace(".Arn}", "")
    return str(value)


def grants(logical_id: str) -> set[Grant]:
    """What the function's policy statements allow (SAM's inline statements)."""
    function = template.load()["Resources"][logical_id]
    found: set[Grant] = set()
    for policy in function["Properties"].get("Policies") or []:
        if not isinstance(policy, dict) or "Statement" not in policy:
            continue
        for statement in policy["Statement"]:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"]
            resources = statement["Resource"]
            for action in actions if isinstance(actions, list) else [actions]:
                for resource in resources if isinstance(resources, list) else [resources]:
                    found.add(Grant(action, _resource(resource)))
    return found


def refused(logical_id: str, calls: set[tuple[str, str]]) -> list[str]:
    """The calls the function's policy does not allow, as 'action on resource'."""
    allowed = grants(logical_id)
    return sorted(
        f"{action} on {resource}"
        for action, resource in calls
        if Grant(action, resource) not in allowed and Grant(action, "*") not in allowed
    )
