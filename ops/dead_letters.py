"""Dead letters: what waits in the dead-letter queues, and sending it back (issue 12).

Four dead-letter queues (template.yaml), chosen with `--queue`:

- `email`: EmailDeadLetterQueue, of both EmailQueue and BulkEmailQueue (each dead letter
  keeps the queue it came from). Email requests (outbox.EmailRequest) and forgot-password
  requests (recovery.ForgotRequest) the sender failed EMAIL_MAX_RECEIVE_COUNT times.
  Sending them again is safe: a request whose log entry says sent is not sent again, a
  secret is created at send time and only while the request still holds (email/issuing.py).
- `index-repair`: IndexRepairDeadLetterQueue, of IndexRepairQueue: `{"username"}` of
  accounts the search repair failed five times (`make reindex` repairs them too).
- `import`: ImportDeadLetterQueue, of ImportQueue: `{"import_id", "customer_ids"}`. Their
  rows were recorded `failed` on the last receive, so the operator sees them and imports
  them again: a redrive changes nothing for those rows and is refused without `--force`.
- `email-events`: EmailEventsDeadLetterQueue, EmailEventsFunction's on-failure queue: SES
  delivery events (EventBridge) the function failed on three times. No source queue: a
  redrive invokes the function again with each event (states only move forward there, so
  an event applied twice changes nothing).

    make dlq STACK=<stack> [ARGS="--queue email --show-addresses"]
    make redrive STACK=<stack> [ARGS="--queue email"]
    EMAIL_DEAD_LETTER_QUEUE_URL=… PYTHONPATH=shared python -m ops.dead_letters peek|redrive

`peek` lists the messages without consuming them (each is hidden PEEK_HIDE_SECONDS while
the listing runs, then made visible again) and prints an allow-list of fields only: the
queue, the message id, where it came from, when it was sent and first received, its
receive count (peeks count too), the template (or kind), email id, import id, and the
username and address masked (`m***@example.com`; `--show-addresses` shows them). Never a
body, nor a template's variables; a value that does not look like what its field holds
prints as `?`.

`redrive` moves the messages back to their source queues. On AWS: SQS's message move task
(StartMessageMoveTask, the console's "Start DLQ redrive"), followed until done. Against an
endpoint without it (the local stack, moto) or with `--local`: receive, send to the source
queue, delete, ten at a time (a message is sent before it is deleted: a crash in between
sends it twice, which every consumer here tolerates). Both are idempotent: an empty queue
is left alone, a running task is followed rather than started again.

Queue URLs: `--url` (or DLQ_URL) for the one `--queue`; else EMAIL_DEAD_LETTER_QUEUE_URL,
INDEX_REPAIR_DEAD_LETTER_QUEUE_URL, IMPORT_DEAD_LETTER_QUEUE_URL,
EMAIL_EVENTS_DEAD_LETTER_QUEUE_URL and EMAIL_EVENTS_FUNCTION (`make dlq STACK=…` reads them
from the stack's resources); else the queue named after its logical id (the local stack).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

# Hidden this long while a peek lists a queue, then made visible again at once.
PEEK_HIDE_SECONDS = 30
# Hidden this long while a local redrive moves a message (released at the end if it stays).
COPY_HIDE_SECONDS = 300
# How often a running move task's progress is read.
POLL_SECONDS = 5.0
# A listed task that started this long before ours was started is an earlier one (clocks).
STARTED_SLACK_MS = 60_000
DEFAULT_PEEK_MAX = 100

# A printed value from a body must look like what it is meant to be: anything else (a
# message someone hand-crafted, a field holding other data) prints as "?".
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:#|+-]{1,100}$")
_ADDRESS = re.compile(r"^[^@\s]{1,200}@[A-Za-z0-9.-]{1,253}$")

# Errors meaning "this endpoint has no message move tasks" (an emulator).
_NO_MOVE_TASKS = {"InvalidAction", "UnknownOperation", "UnknownOperationException", "501"}
_DONE_STATUSES = {"COMPLETED", "CANCELLED", "FAILED"}


@dataclass(frozen=True)
class Kind:
    name: str
    logical_id: str  # template.yaml's, and the queue's name in the local stack
    environment: str  # the variable with its URL (`make dlq STACK=…` sets it)
    redrive_needs_force: bool = False
    # A Lambda function's on-failure queue has no source queue: its events are sent back
    # by invoking the function again (asynchronously, as EventBridge did).
    function_logical_id: str | None = None
    function_environment: str | None = None


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("email", "EmailDeadLetterQueue", "EMAIL_DEAD_LETTER_QUEUE_URL"),
        Kind("index-repair", "IndexRepairDeadLetterQueue", "INDEX_REPAIR_DEAD_LETTER_QUEUE_URL"),
        Kind(
            "import",
            "ImportDeadLetterQueue",
            "IMPORT_DEAD_LETTER_QUEUE_URL",
            redrive_needs_force=True,
        ),
        Kind(
            "email-events",
            "EmailEventsDeadLetterQueue",
            "EMAIL_EVENTS_DEAD_LETTER_QUEUE_URL",
            function_logical_id="EmailEventsFunction",
            function_environment="EMAIL_EVENTS_FUNCTION",
        ),
    )
}


class Unresolved(Exception):
    """No URL for a dead-letter queue."""


def queue_name(url_or_arn: str) -> str:
    return url_or_arn.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Queue:
    name: str
    url: str
    arn: str


@dataclass
class DeadLetterQueue:
    kind: Kind
    queue: Queue
    sources: list[Queue]
    visible: int
    in_flight: int

    def source_for(self, message: dict) -> tuple[Queue | None, bool]:
        """The queue a dead letter came from, and whether that was inferred.

        SQS records it (the DeadLetterQueueSourceArn attribute). Without it (moto, the local
        stack): the one source queue; for the email queues, the queue its template goes to
        (outbox.queue_url_for: credentials emails wait in the bulk queue)."""
        arn = (message.get("Attributes") or {}).get("DeadLetterQueueSourceArn")
        if arn:
            for source in self.sources:
                if source.arn == arn:
                    return source, False
            return None, False
        if len(self.sources) == 1:
            return self.sources[0], True
        if self.kind.name == "email":
            bulk = [s for s in self.sources if "BulkEmailQueue" in s.name]
            transactional = [s for s in self.sources if "BulkEmailQueue" not in s.name]
            if len(bulk) == 1 and len(transactional) == 1:
                body = _json(message.get("Body", ""))
                if body is None:
                    return None, True
                return (bulk if _is_bulk(body) else transactional)[0], True
        return None, True


def _is_bulk(body: dict) -> bool:
    from portal_accounts.email.outbox import BULK_TEMPLATES

    return body.get("template_id") in BULK_TEMPLATES


def _json(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _sqs():
    import boto3

    return boto3.client("sqs")


def _endpoint_is_emulated() -> bool:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
    return bool(endpoint) and "amazonaws.com" not in str(endpoint)


def resolve_url(sqs, kind: Kind, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    url = os.environ.get(kind.environment, "").strip()
    if url and url != "None":  # the aws CLI's text for an output the stack lacks
        return url
    from botocore.exceptions import ClientError

    try:
        return sqs.get_queue_url(QueueName=kind.logical_id)["QueueUrl"]
    except ClientError:
        raise Unresolved(
            f"{kind.name}: no URL for the dead-letter queue: give STACK=<stack> (its resource "
            f"{kind.logical_id}) or {kind.environment}"
        ) from None


def resolve_function(kind: Kind, explicit: str | None = None) -> str:
    name = explicit or os.environ.get(kind.function_environment or "", "").strip()
    if not name or name == "None":
        raise Unresolved(
            f"{kind.name}: no function to send the events back to: give STACK=<stack> (its "
            f"resource {kind.function_logical_id}) or {kind.function_environment}"
        )
    return name


def open_queue(sqs, kind: Kind, url: str) -> DeadLetterQueue:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "QueueArn",
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    sources = []
    for source_url in sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", []):
        arn = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sources.append(Queue(queue_name(source_url), source_url, arn))
    return DeadLetterQueue(
        kind=kind,
        queue=Queue(queue_name(url), url, attributes["QueueArn"]),
        sources=sorted(sources, key=lambda s: s.name),
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


def _receive(sqs, url: str, *, hide_seconds: int, count: int = 10) -> list[dict]:
    return sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(10, count)),
        VisibilityTimeout=hide_seconds,
        WaitTimeSeconds=0,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])


def _release(sqs, url: str, handles: Iterable[str]) -> None:
    """Visible again at once (a handle whose hiding already ended is simply skipped)."""
    handles = list(handles)
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(handles[start : start + 10])
            ],
        )


# ---- peek ----------------------------------------------------------------------------------


def mask_address(value: str) -> str:
    """`maria.rossi@example.com` -> `m***@example.com`."""
    if not _ADDRESS.match(value):
        return "?"
    local, domain = value.split("@", 1)
    return f"{local[0]}***@{domain}"


def _identifier(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) and _IDENTIFIER.match(value) else "?"


def _address(value: object, show: bool) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return "?"
    if show:
        return value if _ADDRESS.match(value) else "?"
    return mask_address(value)


def _timestamp(milliseconds: object) -> str | None:
    try:
        moment = datetime.fromtimestamp(int(str(milliseconds)) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Summary:
    """What peek shows of a dead letter: named fields only, never the body."""

    queue: str
    message_id: str
    source: str
    source_inferred: bool
    sent_at: str | None
    first_received_at: str | None
    receives: int
    what: str
    email_id: str | None = None
    username: str | None = None
    to: str | None = None
    locale: str | None = None
    queued_at: str | None = None
    import_id: str | None = None
    rows: int | None = None
    event_at: str | None = None
    email_ref: str | None = None
    bounce_type: str | None = None

    def line(self) -> str:
        source = f"{self.source} (inferred)" if self.source_inferred else self.source
        parts = [
            f"[{self.queue}]",
            f"id={self.message_id}",
            f"from={source}",
            f"sent={self.sent_at or '?'}",
            f"first_received={self.first_received_at or '?'}",
            f"receives={self.receives}",
            f"what={self.what}",
        ]
        for name in _OPTIONAL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        return " ".join(parts)


# What a summary shows only when the message had it: Summary's fields that default to None.
_OPTIONAL_FIELDS = tuple(f.name for f in fields(Summary) if f.default is None)


def summarise(dlq: DeadLetterQueue, message: dict, *, show_addresses: bool = False) -> Summary:
    attributes = message.get("Attributes") or {}
    source, inferred = dlq.source_for(message)
    try:
        receives = int(attributes.get("ApproximateReceiveCount", 0))
    except ValueError:
        receives = 0
    summary = Summary(
        queue=dlq.kind.name,
        message_id=_identifier(message.get("MessageId")) or "?",
        source=source.name if source else "unknown",
        source_inferred=inferred and source is not None,
        sent_at=_timestamp(attributes.get("SentTimestamp")),
        first_received_at=_timestamp(attributes.get("ApproximateFirstReceiveTimestamp")),
        receives=receives,
        what="unreadable",
    )
    body = _json(message.get("Body", ""))
    if body is None:
        return summary
    if "import_id" in body:
        summary.what = "import"
        summary.import_id = _identifier(body.get("import_id"))
        rows = body.get("customer_ids")
        summary.rows = len(rows) if isinstance(rows, list) else None
    elif body.get("kind") == "forgot_password":
        summary.what = "forgot_password"
        summary.username = _address(body.get("username"), show_addresses)
    elif "template_id" in body:
        summary.what = _identifier(body.get("template_id")) or "?"
        summary.email_id = _identifier(body.get("email_id"))
        summary.username = _address(body.get("username"), show_addresses)
        summary.to = _address(body.get("to"), show_addresses)
        summary.locale = _identifier(body.get("locale"))
        summary.queued_at = _identifier(body.get("queued_at"))
    elif set(body) == {"username"}:
        summary.what = "index_repair"
        summary.username = _address(body.get("username"), show_addresses)
    elif body.get("source") == "aws.ses" and isinstance(body.get("detail"), dict):
        _summarise_ses_event(summary, body, show_addresses)
    return summary


def _summarise_ses_event(summary: Summary, event: dict, show_addresses: bool) -> None:
    """An SES delivery event (EventBridge), as EmailEventsFunction got it: its kind, its
    time, the log entry's ref, the first recipient; never its headers or diagnostics."""
    detail = event["detail"]
    mail = detail.get("mail") if isinstance(detail.get("mail"), dict) else {}
    summary.what = _identifier(detail.get("eventType")) or "?"
    summary.event_at = _identifier(event.get("time"))
    refs = (mail.get("tags") or {}).get("email_ref") if isinstance(mail.get("tags"), dict) else None
    summary.email_ref = _identifier(refs[0]) if isinstance(refs, list) and refs else None
    destination = mail.get("destination")
    if isinstance(destination, list) and destination:
        summary.to = _address(destination[0], show_addresses)
    bounce = detail.get("bounce")
    if isinstance(bounce, dict):
        summary.bounce_type = _identifier(bounce.get("bounceType"))


def peek(
    sqs, dlq: DeadLetterQueue, *, limit: int = DEFAULT_PEEK_MAX, show_addresses: bool = False
) -> list[Summary]:
    """Up to `limit` dead letters, summarised, each left in the queue."""
    seen: dict[str, Summary] = {}
    handles: list[str] = []
    try:
        while len(seen) < limit:
            batch = _receive(sqs, dlq.queue.url, hide_seconds=PEEK_HIDE_SECONDS)
            new = [m for m in batch if m["MessageId"] not in seen]
            handles += [m["ReceiptHandle"] for m in batch]
            if not new:
                break
            for message in new[: limit - len(seen)]:
                seen[message["MessageId"]] = summarise(dlq, message, show_addresses=show_addresses)
    finally:
        _release(sqs, dlq.queue.url, handles)
    return list(seen.values())


def counts_line(dlq: DeadLetterQueue, summaries: list[Summary]) -> str:
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    for summary in summaries:
        by_source[summary.source][summary.what] += 1
    parts = [
        f"{source} {sum(whats.values())} ("
        + ", ".join(f"{what} {n}" for what, n in sorted(whats.items()))
        + ")"
        for source, whats in sorted(by_source.items())
    ]
    listed = f"{len(summaries)} listed" + (": " + "; ".join(parts) if parts else "")
    return (
        f"{dlq.kind.name}: {dlq.queue.name}: about {dlq.visible} waiting, "
        f"{dlq.in_flight} in flight; {listed}"
    )


# ---- redrive -------------------------------------------------------------------------------


class NoMoveTasks(Exception):
    """The endpoint has no message move tasks."""


def _lacks_move_tasks(error: Exception) -> bool:
    if isinstance(error, NotImplementedError):  # moto in the same process
        return True
    response = getattr(error, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code", ""))
    return code in _NO_MOVE_TASKS


def _move_tasks(sqs, arn: str) -> list[dict]:
    try:
        return sqs.list_message_move_tasks(SourceArn=arn, MaxResults=1).get("Results", [])
    except Exception as error:
        if _lacks_move_tasks(error):
            raise NoMoveTasks from error
        raise


@dataclass
class Outcome:
    moved: int = 0
    left: int = 0
    method: str = ""
    by_source: Counter[str] = field(default_factory=Counter)
    status: str = ""


def redrive_native(
    sqs,
    dlq: DeadLetterQueue,
    *,
    rate: int | None = None,
    wait: bool = True,
    say: Callable[[str], object] = print,
    sleep: Callable[[float], object] | None = None,
) -> Outcome:
    """SQS's message move task, back to each message's source queue, followed until done."""
    name, arn = dlq.kind.name, dlq.queue.arn
    outcome = Outcome(method="message move task")
    started_ms = 0  # a task started before ours (the last run's) is not ours
    tasks = _move_tasks(sqs, arn)
    if tasks and tasks[0].get("Status") == "RUNNING":
        say(f"{name}: a move task is already running: following it")
    elif dlq.visible == 0:
        say(f"{name}: nothing to redrive ({dlq.in_flight} in flight)")
        outcome.status = "EMPTY"
        return outcome
    else:
        parameters: dict[str, Any] = {"SourceArn": arn}
        if rate:
            parameters["MaxNumberOfMessagesPerSecond"] = rate
        started_ms = int(time.time() * 1000) - STARTED_SLACK_MS
        try:
            handle = sqs.start_message_move_task(**parameters)["TaskHandle"]
        except Exception as error:
            if _lacks_move_tasks(error):
                raise NoMoveTasks from error
            raise
        say(f"{name}: move task started for about {dlq.visible} messages (task {handle})")
    if not wait:
        say(
            f"{name}: follow it with `aws sqs list-message-move-tasks --source-arn {arn}`; "
            "stop it with `aws sqs cancel-message-move-task --task-handle <TaskHandle>`"
        )
        outcome.status = "RUNNING"
        return outcome
    unseen = 0
    while True:
        tasks = _move_tasks(sqs, arn)
        task = tasks[0] if tasks else {}
        if int(task.get("StartedTimestamp") or started_ms) < started_ms and unseen < 3:
            unseen += 1  # ours is not listed yet: the last one is
            (sleep or time.sleep)(POLL_SECONDS)
            continue
        outcome.status = str(task.get("Status", "UNKNOWN"))
        outcome.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        to_move = int(task.get("ApproximateNumberOfMessagesToMove", 0))
        line = f"{name}: {outcome.status.lower()}, {outcome.moved} of about {to_move} moved"
        if task.get("FailureReason"):
            line += f"; failure: {task['FailureReason']}"
        say(line)
        if outcome.status in _DONE_STATUSES or not task:
            return outcome
        (sleep or time.sleep)(POLL_SECONDS)


def _drain(
    sqs,
    dlq: DeadLetterQueue,
    outcome: Outcome,
    move: Callable[[list[dict]], dict[str, list[dict]]],
    *,
    verb: str,
    limit: int | None,
    say: Callable[[str], object],
) -> Outcome:
    """Ten at a time until the queue is empty (or `limit` moved): `move` hands a batch on
    and says which messages each target took; those are deleted, the others stay (visible
    again at the end)."""
    name, url = dlq.kind.name, dlq.queue.url
    kept: dict[str, str] = {}  # message id -> receipt handle, released at the end
    try:
        while limit is None or outcome.moved < limit:
            wanted = 10 if limit is None else min(10, limit - outcome.moved)
            batch = [
                m
                for m in _receive(sqs, url, hide_seconds=COPY_HIDE_SECONDS, count=wanted)
                if m["MessageId"] not in kept
            ]
            if not batch:
                break
            moved = move(batch)
            taken = {m["MessageId"] for messages in moved.values() for m in messages}
            for message in batch:
                if message["MessageId"] not in taken:
                    kept[message["MessageId"]] = message["ReceiptHandle"]
            for target, messages in moved.items():
                _delete(sqs, url, messages)
                outcome.moved += len(messages)
                outcome.by_source[target] += len(messages)
            say(f"{name}: {outcome.moved} {verb}" + (f", {len(kept)} kept" if kept else ""))
    finally:
        _release(sqs, url, kept.values())
    outcome.left = len(kept)
    outcome.status = "COMPLETED" if not kept else "PARTIAL"
    return outcome


def redrive_copy(
    sqs,
    dlq: DeadLetterQueue,
    *,
    limit: int | None = None,
    say: Callable[[str], object] = print,
) -> Outcome:
    """Receive, send to the source queue, delete: ten at a time until the queue is empty.

    A message whose source is unknown, or that its source queue refused, stays (visible
    again at the end). `limit` stops after that many moved."""

    def send_back(batch: list[dict]) -> dict[str, list[dict]]:
        by_source: dict[Queue, list[dict]] = defaultdict(list)
        for message in batch:
            source, _ = dlq.source_for(message)
            if source is not None:
                by_source[source].append(message)
        moved: dict[str, list[dict]] = {}
        for source, messages in by_source.items():
            sent = _send_back(sqs, source, messages)
            moved[source.name] = [m for m in messages if m["MessageId"] in sent]
        return moved

    outcome = Outcome(method="receive, send, delete")
    return _drain(sqs, dlq, outcome, send_back, verb="moved", limit=limit, say=say)


def _message_attributes(message: dict) -> dict:
    return {
        key: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for key, value in (message.get("MessageAttributes") or {}).items()
    }


def _send_back(sqs, source: Queue, messages: list[dict]) -> set[str]:
    """The ids of the messages the source queue took."""
    entries = []
    for n, message in enumerate(messages):
        entry: dict[str, Any] = {"Id": str(n), "MessageBody": message["Body"]}
        if attributes := _message_attributes(message):
            entry["MessageAttributes"] = attributes
        entries.append(entry)
    answer = sqs.send_message_batch(QueueUrl=source.url, Entries=entries)
    return {messages[int(ok["Id"])]["MessageId"] for ok in answer.get("Successful", [])}


def _delete(sqs, url: str, messages: list[dict]) -> None:
    if messages:
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            ],
        )


def redrive_invoke(
    sqs,
    dlq: DeadLetterQueue,
    function: str,
    *,
    lambda_client=None,
    limit: int | None = None,
    say: Callable[[str], object] = print,
) -> Outcome:
    """A function's on-failure queue: each event is handed to the function again, as an
    asynchronous invocation (Lambda retries it twice more, then it comes back here), and
    deleted once Lambda has taken it. An event that is not JSON stays."""
    lambda_client = lambda_client or _lambda()

    def invoke(batch: list[dict]) -> dict[str, list[dict]]:
        done = []
        for message in batch:
            if _json(message.get("Body", "")) is None:
                continue
            answer = lambda_client.invoke(
                FunctionName=function, InvocationType="Event", Payload=message["Body"].encode()
            )
            if answer.get("StatusCode") == 202:
                done.append(message)
        return {function: done}

    outcome = Outcome(method="asynchronous invocation")
    return _drain(sqs, dlq, outcome, invoke, verb=f"handed to {function}", limit=limit, say=say)


def _lambda():
    import boto3

    return boto3.client("lambda")


def redrive(
    sqs,
    dlq: DeadLetterQueue,
    *,
    local: bool = False,
    rate: int | None = None,
    wait: bool = True,
    limit: int | None = None,
    say: Callable[[str], object] = print,
    sleep: Callable[[float], object] | None = None,
    function: str | None = None,
    lambda_client=None,
) -> Outcome:
    """The native move task, unless `local` or the endpoint lacks it: then one by one. A
    function's on-failure queue: its events to the function again (`function`)."""
    if dlq.kind.function_logical_id:
        outcome = redrive_invoke(
            sqs, dlq, function or "", lambda_client=lambda_client, limit=limit, say=say
        )
        _say_done(dlq, outcome, say)
        return outcome
    if not local:
        try:
            return redrive_native(sqs, dlq, rate=rate, wait=wait, say=say, sleep=sleep)
        except NoMoveTasks:
            say(f"{dlq.kind.name}: this endpoint has no message move tasks: moving one by one")
    outcome = redrive_copy(sqs, dlq, limit=limit, say=say)
    _say_done(dlq, outcome, say)
    return outcome


def _say_done(dlq: DeadLetterQueue, outcome: Outcome, say: Callable[[str], object]) -> None:
    moved = ", ".join(f"{n} to {source}" for source, n in sorted(outcome.by_source.items()))
    line = f"{dlq.kind.name}: done: {outcome.moved} moved" + (f" ({moved})" if moved else "")
    if outcome.left:
        line += f"; {outcome.left} left in the queue (unreadable, source unknown, or refused)"
    say(line)


# ---- command line --------------------------------------------------------------------------


def _kinds(choice: str) -> list[Kind]:
    return list(KINDS.values()) if choice == "all" else [KINDS[choice]]


def main(argv: list[str] | None = None, *, sqs=None, lambda_client=None) -> int:
    """0 when done; 1 when a redrive left messages behind or failed; 2 on a usage error."""
    parser = argparse.ArgumentParser(
        prog="python -m ops.dead_letters",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--queue", choices=[*KINDS, "all"], default="all", help="which dead-letter queue"
    )
    common.add_argument(
        "--url",
        default=os.environ.get("DLQ_URL") or None,
        help="the dead-letter queue's URL (default DLQ_URL), for one --queue",
    )
    look = commands.add_parser("peek", parents=[common], help="list dead letters, safely")
    look.add_argument("--max", type=int, default=DEFAULT_PEEK_MAX, help="messages per queue")
    look.add_argument(
        "--show-addresses", action="store_true", help="usernames and addresses unmasked"
    )
    look.add_argument("--json", action="store_true", help="one JSON object a message")
    move = commands.add_parser("redrive", parents=[common], help="back to the source queues")
    move.add_argument(
        "--local",
        action="store_true",
        help="receive, send, delete instead of SQS's move task (implied by an emulated endpoint)",
    )
    move.add_argument("--rate", type=int, help="move task: at most this many messages a second")
    move.add_argument("--no-wait", action="store_true", help="move task: start it, do not follow")
    move.add_argument("--max", type=int, help="--local: stop after this many")
    move.add_argument("--force", action="store_true", help="also the import queue (see above)")
    move.add_argument(
        "--function",
        help="email-events: the function to send the events back to (default "
        "EMAIL_EVENTS_FUNCTION)",
    )
    args = parser.parse_args(argv)
    if args.url and args.queue == "all":
        parser.error("--url (DLQ_URL) names one queue: give --queue too")
    sqs = sqs or _sqs()
    status = 0
    for kind in _kinds(args.queue):
        if args.command == "redrive" and kind.redrive_needs_force and not args.force:
            if args.queue != "all":
                print(
                    f"{kind.name}: not redriven: its rows were recorded `failed` on the last "
                    "receive, so a redrive changes nothing for them; the operator imports "
                    "those customers again (GET /operator/accounts/import/{import_id}). "
                    "--force redrives anyway.",
                    file=sys.stderr,
                )
                return 2
            print(f"{kind.name}: not redriven without --queue {kind.name} --force (see --help)")
            continue
        try:
            url = resolve_url(sqs, kind, args.url)
        except Unresolved as error:
            print(error, file=sys.stderr)
            if args.queue != "all":
                return 2
            status = max(status, 1)
            continue
        dlq = open_queue(sqs, kind, url)
        if args.command == "peek":
            summaries = peek(sqs, dlq, limit=args.max, show_addresses=args.show_addresses)
            for summary in summaries:
                print(json.dumps(asdict(summary)) if args.json else summary.line())
            if not args.json:
                print(counts_line(dlq, summaries))
            continue
        function = None
        if kind.function_logical_id:
            try:
                function = resolve_function(kind, args.function)
            except Unresolved as error:
                if dlq.visible or dlq.in_flight:
                    print(error, file=sys.stderr)
                    if args.queue != "all":
                        return 2
                    status = max(status, 1)
                    continue
        local = args.local or _endpoint_is_emulated()
        outcome = redrive(
            sqs,
            dlq,
            local=local,
            rate=args.rate,
            wait=not args.no_wait,
            limit=args.max,
            function=function,
            lambda_client=lambda_client,
        )
        if outcome.left or outcome.status in {"FAILED", "CANCELLED", "UNKNOWN"}:
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
