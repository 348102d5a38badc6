"""Create the template's tables and queues in whatever DynamoDB/SQS boto3 points at."""

from __future__ import annotations

import os

import boto3

from local import template

_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
)


def create_tables(dynamodb=None) -> dict[str, str]:
    """Tables named after their logical ids; returns logical id -> table name."""
    dynamodb = dynamodb or boto3.client("dynamodb")
    names = {}
    for name, resource in template.resources("AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        spec = {key: props[key] for key in _TABLE_KEYS if key in props}
        dynamodb.create_table(TableName=name, **spec)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        names[name] = name
    return names


def create_queues(sqs=None) -> dict[str, str]:
    """Queues named after their logical ids, dead-letter redrive included.

    Returns logical id -> URL, plus "<id>.Arn" -> ARN for !GetAtt.
    """
    sqs = sqs or boto3.client("sqs")
    names: dict[str, str] = {}
    queues = template.resources("AWS::SQS::Queue")
    # Dead-letter queues first: the others point at them.
    ordered = sorted(queues.items(), key=lambda kv: "RedrivePolicy" in kv[1]["Properties"])
    for name, resource in ordered:
        props = resource["Properties"]
        attributes = {}
        if "VisibilityTimeout" in props:
            attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = template.resolve(redrive["deadLetterTargetArn"], names)
            # The caller's environment wins, as for the functions' settings.
            max_receive = os.environ.get("EMAIL_MAX_RECEIVE_COUNT") or template.resolve(
                redrive["maxReceiveCount"], names
            )
            attributes["RedrivePolicy"] = (
                f'{{"deadLetterTargetArn":"{target}","maxReceiveCount":"{max_receive}"}}'
            )
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        names[name] = url
        names[f"{name}.Arn"] = arn
    return names


def create_configuration_sets(sesv2=None) -> dict[str, str]:
    """SES configuration sets named after their logical ids (their events: ses_events)."""
    sesv2 = sesv2 or boto3.client("sesv2")
    names = {}
    for name in template.resources("AWS::SES::ConfigurationSet"):
        sesv2.create_configuration_set(ConfigurationSetName=name)
        names[name] = name
    return names


def create_all() -> dict[str, str]:
    """Every resource the functions' environment refers to."""
    return {**create_tables(), **create_queues(), **create_configuration_sets()}


def environment(function_name: str, names: dict[str, str]) -> dict[str, str]:
    return template.function_environment(function_name, names)
