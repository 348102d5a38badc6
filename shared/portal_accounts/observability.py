"""Logs and metrics, set up once and used the same way by every function.

Logs: one Powertools Logger, structured JSON with the Lambda context and a correlation id
(the API request's id, the SQS batch's first message id, the EventBridge event's id: see
`correlation_id_of`). Its level is
POWERTOOLS_LOG_LEVEL (INFO by default; Lambda's advanced logging controls win over it).
Never a password, token, session id, hash or email body in a line.

Metrics: `count(name)` anywhere during an invocation; `observed` writes what was counted
as ONE line in CloudWatch's embedded metric format on stdout when the invocation ends
(raised or not), namespace POWERTOOLS_METRICS_NAMESPACE (PortalAccounts), one dimension,
`service` (POWERTOOLS_SERVICE_NAME, portal-accounts). CloudWatch Logs turns that line into
metrics: no API call, no extra time. Powertools Metrics writes it: it is imported with the
Logger anyway (`aws_lambda_powertools/__init__`), so it costs the cold start nothing.

Every function's entry point is `@observed` (the API dispatcher's, api/app.py, and the
pages', pages/web.py, use it too, then log their "request" line with `log_request`).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()

# At DEBUG, botocore and PynamoDB log whole request bodies (passwords in a hash update,
# tokens in a key): whatever the log level of the functions, theirs stays at INFO.
for _library in ("botocore", "boto3", "pynamodb", "urllib3"):
    logging.getLogger(_library).setLevel(logging.INFO)

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "PortalAccounts"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "portal-accounts"
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# What this invocation counted, summed by name (one value per metric in the line). A lock:
# the local stack runs several invocations at once in one process (local/lambdas.py), and
# a function may count from worker threads.
_counts: dict[str, int] = {}
_counts_lock = threading.Lock()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def count(name: str, value: int = 1) -> None:
    """Add `value` to the metric `name` (unit Count) of the current invocation."""
    with _counts_lock:
        _counts[name] = _counts.get(name, 0) + value


def flush_metrics() -> None:
    """Write what was counted since the last flush as one EMF line on stdout, and forget
    it. Nothing counted: no line. `observed` calls it at the end of every invocation.

    Never raises: a metric that cannot be written is logged and left out, and the
    invocation's answer stands (an SQS batch failed for a metric would be sent again)."""
    with _counts_lock:
        if not _counts:
            return
        counted = dict(_counts)
        _counts.clear()
        try:
            for name, value in counted.items():
                try:
                    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
                except Exception as error:  # a name CloudWatch refuses, a value not a number
                    logger.warning(
                        "metric not written", extra={"metric": name, "error": type(error).__name__}
                    )
            if metrics.metric_set:
                metrics.flush_metrics()  # print()s one JSON line, unless disabled
        except Exception as error:
            logger.warning("metrics not written", extra={"error": type(error).__name__})
        finally:
            metrics.clear_metrics()  # also when disabled, which flush_metrics leaves alone


def correlation_id_of(event: Any) -> str | None:
    """The id that ties an invocation's lines together: an API request's requestId (the
    authorizer's event carries the same one as the route's), an SQS batch's first
    messageId (a function handling records one by one sets each record's own), or an
    EventBridge event's id."""
    if not isinstance(event, dict):
        return None
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        return _text(records[0].get("messageId"))
    if "detail-type" in event:
        return _text(event.get("id"))
    context = event.get("requestContext")
    return _text(context.get("requestId")) if isinstance(context, dict) else None


def _text(value: Any) -> str | None:
    return str(value) if value else None


def observed(handler: Handler) -> Handler:
    """Every function's entry point: the Lambda context and the correlation id on each
    line, the event never logged (whatever POWERTOOLS_LOGGER_LOG_EVENT says: it holds
    passwords and tokens), and the metrics flushed when the invocation ends, raised or not.

    For an SQS batch, one "batch" line at the end: how many records, how many left for
    retry (the partial batch response), and how long it took."""

    @logger.inject_lambda_context(clear_state=True, log_event=False)
    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        logger.set_correlation_id(correlation_id_of(event))
        started = time.perf_counter()
        result: Any = None
        raised = True
        try:
            result = handler(event, context)
            raised = False
            return result
        finally:
            try:
                records = event.get("Records") if isinstance(event, dict) else None
                if isinstance(records, list):
                    logger.info(
                        "batch",
                        extra={
                            "records": len(records),
                            "failed": len(records) if raised else _failed(result),
                            "latency_ms": elapsed_ms(started),
                        },
                    )
            finally:
                flush_metrics()

    return wrapper  # type: ignore[return-value]


def _failed(result: Any) -> int:
    """How many records of a batch its partial batch response leaves for SQS to deliver
    again (all of them when the handler raised)."""
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    return len(failures) if isinstance(failures, list) else 0


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a time.perf_counter())."""
    return round((time.perf_counter() - started) * 1000, 1)


def log_request(
    *,
    route: str | None,
    status: int,
    started: float,
    actor_type: str,
    problem_type: str | None = None,
) -> None:
    """The one line per API request: its route (the template's, `POST /auth/login`, never
    the path with its values), status, latency, who asked (operator, customer or
    anonymous), and the problem's `type` when it failed. Nothing of the request itself."""
    logger.info(
        "request",
        extra={
            "route": route,
            "status": status,
            "latency_ms": elapsed_ms(started),
            "actor_type": actor_type,
            "problem_type": problem_type,  # None (left out of the line) on success
        },
    )
