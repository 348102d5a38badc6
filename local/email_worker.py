"""Lambda's SQS event source mapping, locally: queues drained into the functions they feed.

For every function with SQS events in template.yaml, a thread receives up to BatchSize
messages from one of its queues, invokes the handler with the event AWS builds, and
deletes what succeeded. A function's queues are drained in the order of its events, each
batch from the first queue with messages: the sender's transactional queue, listed first,
is empty before any bulk batch goes (on AWS each queue has its own mapping and senders).

- the handler raises: nothing is deleted (the whole batch comes back);
- with ReportBatchItemFailures, `{"batchItemFailures": [{"itemIdentifier": id}]}` keeps
  just those (an unknown or empty identifier fails the whole batch, as on AWS);
- failed messages reappear after the queue's visibility timeout, and past its
  maxReceiveCount emulated SQS moves them to the dead-letter queue.

Short polling with a pause, not long polling: the emulated AWS serves one request at a
time (see local/aws.py), and a long poll would hold every DynamoDB call behind it.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import threading
import traceback
from dataclasses import dataclass

import boto3

from local import template
from local.lambdas import Function, FunctionMissing, region

POLL_INTERVAL_SECONDS = 0.2
MISSING_RETRY_SECONDS = 5.0


@dataclass
class SqsSource:
    """One SQS event of one function in template.yaml."""

    function: Function
    queue_url: str
    queue_arn: str
    batch_size: int
    report_item_failures: bool


def sources(functions: dict[str, Function], names: dict[str, str]) -> list[SqsSource]:
    """Every SQS event of the given functions in the template, in the template's order."""
    found = []
    for logical_id, resource in template.resources("AWS::Serverless::Function").items():
        if logical_id not in functions:
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            queue = props["Queue"]  # !GetAtt <Queue>.Arn
            queue_id = template.target(queue).removesuffix(".Arn")
            found.append(
                SqsSource(
                    function=functions[logical_id],
                    queue_url=names[queue_id],
                    queue_arn=names[f"{queue_id}.Arn"],
                    batch_size=min(int(props.get("BatchSize", 10)), 10),
                    report_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                )
            )
    return found


def _attribute(value: dict) -> dict:
    attribute = {
        "dataType": value["DataType"],
        "stringListValues": [],
        "binaryListValues": [],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def sqs_event(messages: list[dict], source: SqsSource, region: str) -> dict:
    """The event Lambda's SQS event source sends."""
    records = []
    for message in messages:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _attribute(value)
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody")
            or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": region,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def failed_ids(result: object, batch_ids: set[str], report_item_failures: bool) -> set[str]:
    """The message ids to keep (not delete), as Lambda reads the function's answer."""
    if not report_item_failures:
        return set()
    if result is None:
        return set()
    if not isinstance(result, dict):
        return set(batch_ids)
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(batch_ids)
    kept = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            return set(batch_ids)  # AWS treats a malformed answer as a failed batch
        kept.add(identifier)
    return kept


class QueueWorker(threading.Thread):
    """Drains the SQS sources of one function until stopped, the first ones first."""

    def __init__(self, *sources: SqsSource, log=None) -> None:
        if not sources or len({source.function.logical_id for source in sources}) != 1:
            raise ValueError("a worker drains the sources of one function")
        self.function = sources[0].function
        super().__init__(name=f"sqs-{self.function.logical_id}", daemon=True)
        self.sources = sources
        self.region = region()
        self._stop_event = threading.Event()
        self._sqs = boto3.client("sqs")
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._missing_noted = False

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                busy = self.drain_once()
            except Exception:
                self._log(f"queue worker: polling failed:\n{traceback.format_exc()}")
                busy = False
            if not busy:
                self._stop_event.wait(POLL_INTERVAL_SECONDS)

    def drain_once(self) -> bool:
        """Hand over one batch, from the first source with messages; True when there was
        something to do."""
        function = self.function
        if not function.exists():
            # The sender may not be written yet: leave the messages in the queue.
            if not self._missing_noted:
                self._log(f"queue worker: {function.module} does not exist yet, not draining")
                self._missing_noted = True
            self._stop_event.wait(MISSING_RETRY_SECONDS)
            return False
        for source in self.sources:
            messages = self._sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=source.batch_size,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if messages:
                return self._deliver(source, messages)
        return False

    def _deliver(self, source: SqsSource, messages: list[dict]) -> bool:
        """Invoke the function with the batch, then delete what succeeded."""
        function = self.function
        batch_ids = {m["MessageId"] for m in messages}
        try:
            result = function.invoke(sqs_event(messages, source, self.region))
        except FunctionMissing as missing:
            self._log(f"queue worker: {missing}")
            return False
        except Exception:
            self._log(
                f"queue worker: {function.logical_id} raised, the batch of {len(messages)} "
                f"stays in the queue:\n{traceback.format_exc()}"
            )
            return True
        keep = failed_ids(result, batch_ids, source.report_item_failures)
        done = [m for m in messages if m["MessageId"] not in keep]
        if keep:
            self._log(f"queue worker: {len(keep)} of {len(messages)} messages failed, kept")
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=source.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        return True


def workers(functions: dict[str, Function], names: dict[str, str], log=None) -> list[QueueWorker]:
    """One worker per function with SQS events, over its sources in the template's order."""
    by_function: dict[str, list[SqsSource]] = {}
    for source in sources(functions, names):
        by_function.setdefault(source.function.logical_id, []).append(source)
    return [QueueWorker(*found, log=log) for found in by_function.values()]


def start(functions: dict[str, Function], names: dict[str, str]) -> list[QueueWorker]:
    started = workers(functions, names)
    for worker in started:
        worker.start()
    return started
