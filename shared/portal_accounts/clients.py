"""The AWS clients the layer makes: each made once per process, here and nowhere else.

A Lambda execution environment keeps them between invocations (their connections too).
boto3 is imported when a client is first asked for, not when this module loads: most
functions never send to SQS or SES, and `import boto3` would add to every cold start.

- `sqs()`: the queues (emails, imports, index repairs).
- `ses()`: SES v2, the email sender's.
- `dynamodb()`: a PynamoDB connection for what spans tables (dynamodb.py's transactions and
  batches); each model's own connection is PynamoDB's (`Model._get_connection()`).
- `idempotency_store()`: Powertools' DynamoDB persistence layer, the sender's idempotency.

Tests point the clients elsewhere (another emulated AWS, the moto server) with `reset()`:
every client here, and every model's connection, is made again on its next use.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from portal_accounts.config import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from pynamodb.connection import Connection


@lru_cache(maxsize=1)
def sqs() -> Any:
    import boto3

    return boto3.client("sqs")


@lru_cache(maxsize=1)
def ses() -> Any:
    import boto3

    return boto3.client("sesv2")


@lru_cache(maxsize=1)
def dynamodb() -> Connection:
    from pynamodb.connection import Connection

    from portal_accounts.models import AccountModel

    return Connection(region=AccountModel.Meta.region)


@lru_cache(maxsize=1)
def idempotency_store() -> DynamoDBPersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)


def reset() -> None:
    """Forget every client, and every model's connection: each is made again, where the
    environment then says (tests only)."""
    from portal_accounts.models import ALL_MODELS

    for client in (sqs, ses, dynamodb, idempotency_store):
        client.cache_clear()
    for model in ALL_MODELS:
        model._connection = None
