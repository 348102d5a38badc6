"""Every AWS call a function makes in the tests is allowed by its own policy in template.yaml,
and every grant of a policy is used by some call.

moto and the local stack do not enforce IAM, so a policy that misses an action (a
BatchGetItem where the policy grants GetItem, a Delete inside a transaction) passes every
test and fails on AWS. Here each function's handler is wrapped (`wrap_handlers`, called by
tests/conftest.py before any test imports a handler) so that every botocore call made while
it runs is recorded as the IAM actions and resources it needs (`needs`): for an UpdateItem,
also the top-level attributes it names and its ReturnValues, which a statement can limit
(`dynamodb:Attributes`, `dynamodb:ReturnValues`). tests/unit/test_iam_policies.py, run last,
checks them against the function's statements, both ways.

In the tests, tables and queues are named after their logical ids (local.resources), so a
table name or a queue URL names the resource of the template directly.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import botocore.client

from local import template

_current_function: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "function", default=None
)


class Call(NamedTuple):
    """What IAM checks of one action of a call."""

    action: str  # "dynamodb:UpdateItem"
    resource: str  # a logical id, "Table/index/Name", "ses-identity" (or -configuration-set), "*"
    attributes: frozenset[str] = frozenset()  # an UpdateItem's top-level attribute names
    return_values: str | None = None  # an UpdateItem's ReturnValues, when it sends one


# Function logical id -> what its calls needed.
CALLS: dict[str, set[Call]] = defaultdict(set)

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


_SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def needs(service: str, operation: str, params: dict) -> set[Call]:
    """What IAM checks of one API call; resources are logical ids."""
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return {
                _update(body["TableName"], body)
                if kind == "Update"
                else Call(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", body["TableName"])
                for item in params["TransactItems"]
                for kind, body in item.items()
            }
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return {Call(f"dynamodb:{operation}", table) for table in params["RequestItems"]}
        if operation == "UpdateItem":
            return {_update(params["TableName"], params, params.get("ReturnValues"))}
        resource = params["TableName"]
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return {Call(f"dynamodb:{operation}", resource)}
    if service == "sqs":
        queue = params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
        # IAM has no action of its own for the batch calls: SendMessageBatch is checked
        # as sqs:SendMessage (and DeleteMessageBatch... as theirs), per SQS's API reference.
        operation = _SQS_BATCH_ACTIONS.get(operation, operation)
        # A queue encrypted with a KMS key: SQS uses the key on the caller's behalf.
        return {Call(f"sqs:{operation}", queue), *_queue_key_needs(queue, operation)}
    if service == "sesv2":
        # A send with a configuration set is checked against the set too.
        if params.get("ConfigurationSetName"):
            return {
                Call(f"ses:{operation}", "ses-identity"),
                Call(f"ses:{operation}", "ses-configuration-set"),
            }
        return {Call(f"ses:{operation}", "ses-identity")}
    return {Call(f"{service}:{operation}", "*")}


# A path's first name in an expression: a #placeholder or a bare name not after "." or "#".
_PATH_HEAD = re.compile(r"(?<![\w.#:])(#\w+|[A-Za-z_]\w*)")
_NOT_NAMES = {
    "SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN",
    "if_not_exists", "list_append", "attribute_exists", "attribute_not_exists",
    "attribute_type", "begins_with", "contains", "size",
}  # fmt: skip


def _update(table: str, body: dict, return_values: str | None = None) -> Call:
    """An UpdateItem with the top-level attributes it names: its key, what its update
    expression writes and what its condition reads (IAM's dynamodb:Attributes)."""
    placeholders = body.get("ExpressionAttributeNames") or {}
    names = set(body.get("Key") or {})
    for expression in (body.get("UpdateExpression"), body.get("ConditionExpression")):
        for head in _PATH_HEAD.findall(expression or ""):
            if head not in _NOT_NAMES:
                names.add(placeholders.get(head, head))
    return Call("dynamodb:UpdateItem", table, frozenset(names), return_values)


def _queue_key_needs(queue: str, operation: str) -> set[Call]:
    key = template.load()["Resources"].get(queue, {}).get("Properties", {}).get("KmsMasterKeyId")
    if not isinstance(key, template.Tag) or operation not in ("SendMessage", "ReceiveMessage"):
        return set()
    actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if operation == "SendMessage" else [])
    return {Call(action, str(key.value)) for action in actions}


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
    resource: str  # a logical id, "Table/index/Name", "ses-identity" (or -configuration-set), "*"
    # The statement's dynamodb:Attributes (ForAllValues:StringEquals) and
    # dynamodb:ReturnValues (StringEqualsIfExists) conditions, when it has them.
    attributes: frozenset[str] | None = None
    return_values: frozenset[str] | None = None

    def allows(self, call: Call) -> bool:
        if call.action != self.action or self.resource not in (call.resource, "*"):
            return False
        # The attribute condition is modelled for UpdateItem only: any other call is refused.
        if self.attributes is not None and (
            call.action != "dynamodb:UpdateItem" or not call.attributes <= self.attributes
        ):
            return False
        if self.return_values is not None and call.return_values is not None:
            return call.return_values in self.return_values
        return True


def _resource(value: object) -> str:
    if isinstance(value, template.Tag):
        if value.name == "GetAtt":
            return template.target(value).removesuffix(".Arn")
        if value.name == "Sub":
            text = value.value if isinstance(value.value, str) else value.value[0]
            if ":ses:" in text:
                return "ses-configuration-set" if ":configuration-set/" in text else "ses-identity"
            # "${AccountsTable.Arn}/index/by-status"
            return text.replace("${", "").replace(".Arn}", "")
    return str(value)


def _conditions(statement: dict) -> dict:
    """The statement's attribute conditions; any other condition is not modelled here."""
    condition = statement.get("Condition") or {}
    known = {
        ("ForAllValues:StringEquals", "dynamodb:Attributes"): "attributes",
        ("StringEqualsIfExists", "dynamodb:ReturnValues"): "return_values",
    }
    found = {}
    for operator, keys in condition.items():
        for key, values in keys.items():
            if (operator, key) not in known:
                raise ValueError(f"tests/iam_audit.py does not model {operator} {key}")
            found[known[operator, key]] = frozenset(values)
    return found


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
            conditions = _conditions(statement)
            for action in actions if isinstance(actions, list) else [actions]:
                for resource in resources if isinstance(resources, list) else [resources]:
                    found.add(Grant(action, _resource(resource), **conditions))
    return found


def _described(call: Call) -> str:
    text = f"{call.action} on {call.resource}"
    if call.attributes:
        text += f" of {sorted(call.attributes)}"
    if call.return_values:
        text += f" returning {call.return_values}"
    return text


def refused(logical_id: str, calls: set[Call]) -> list[str]:
    """The calls the function's policy does not allow, described."""
    allowed = grants(logical_id)
    return sorted(
        _described(call) for call in calls if not any(grant.allows(call) for grant in allowed)
    )


def unused(logical_id: str, calls: set[Call]) -> list[str]:
    """The grants of the function's policy that none of the calls needed."""
    return sorted(
        f"{grant.action} on {grant.resource}"
        for grant in grants(logical_id)
        if not any(grant.allows(call) for call in calls)
    )
