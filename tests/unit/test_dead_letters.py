"""Issue 12, dead letters: `make dlq` shows what waits without a secret, `make redrive`
puts each message back on the queue it came from (ops/dead_letters.py).

Messages are dead-lettered the way SQS does it: received maxReceiveCount times, then moved
by the next receive. moto has no message move tasks (StartMessageMoveTask), so the redrive
here is the receive/send/delete one; the native task's orchestration runs against a fake
of the two calls. EmailEventsFunction's on-failure queue gets what Lambda puts there (the
event, with the error in message attributes), and its redrive invokes a fake Lambda.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest

from ops import dead_letters
from portal_accounts.email.outbox import EmailRequest

MARIA = "maria.rossi@example.com"
LUCA = "luca.bianchi@example.com"
# Nothing like these ever travels on a queue (outbox.prepare refuses it); a hand-made or
# older message might, and peek must not print it all the same.
FAKE_PASSWORD = "Hunter2-violet-tractor-99!"
FAKE_TOKEN = "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def request(template_id: str, username: str = MARIA, **variables: str) -> str:
    return EmailRequest(
        username=username,
        email_id=f"20261207T100000Z-{template_id[:6]}",
        template_id=template_id,
        locale="it",
        to=username,
        variables={"first_name": "Mariella", "username": username, **variables},
        idempotency_key=f"{username}|x",
        secret="reset_link" if template_id == "password_reset_link" else "",
        credential_version=3,
    ).to_json()


RESET_LINK = request(
    "password_reset_link",
    password=FAKE_PASSWORD,
    link=f"https://shop.example.com/reset-password?token={FAKE_TOKEN}",
)
CREDENTIALS = request("account_credentials", LUCA)
FORGOT = json.dumps({"kind": "forgot_password", "username": MARIA, "idempotency_key": "k1"})
INDEX_REPAIR = json.dumps({"username": MARIA})
IMPORT = json.dumps({"import_id": "imp-20261207-abc", "customer_ids": ["c-1", "c-2", "c-3"]})


@pytest.fixture
def names(clean_aws, monkeypatch):
    for key in (
        "DLQ_URL",
        "AWS_ENDPOINT_URL",
        "EMAIL_DEAD_LETTER_QUEUE_URL",
        "INDEX_REPAIR_DEAD_LETTER_QUEUE_URL",
        "IMPORT_DEAD_LETTER_QUEUE_URL",
        "EMAIL_EVENTS_DEAD_LETTER_QUEUE_URL",
        "EMAIL_EVENTS_FUNCTION",
    ):
        monkeypatch.delenv(key, raising=False)
    return clean_aws


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(dead_letters, "POLL_SECONDS", 0)


@pytest.fixture
def sqs(names):
    return boto3.client("sqs")


def dead_letter(sqs, queue_url: str, body: str) -> None:
    """Sent, received maxReceiveCount times, moved to the DLQ by the next receive."""
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    for _ in range(int(policy["maxReceiveCount"])):
        assert sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0).get("Messages")
    assert not sqs.receive_message(QueueUrl=queue_url).get("Messages")


def bodies(sqs, queue_url: str) -> list[str]:
    """What waits in the queue, left in it."""
    found, handles = [], []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30
    ).get("Messages"):
        found += [m["Body"] for m in batch]
        handles += [m["ReceiptHandle"] for m in batch]
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return sorted(found)


@pytest.fixture
def dead(sqs, names):
    """A dead letter from each queue: two transactional, one bulk, a repair, an import."""
    dead_letter(sqs, names["EmailQueue"], RESET_LINK)
    dead_letter(sqs, names["EmailQueue"], FORGOT)
    dead_letter(sqs, names["BulkEmailQueue"], CREDENTIALS)
    dead_letter(sqs, names["IndexRepairQueue"], INDEX_REPAIR)
    dead_letter(sqs, names["ImportQueue"], IMPORT)
    return names


def run(capsys, *argv: str) -> tuple[int, str]:
    status = dead_letters.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


# ---- peek ----------------------------------------------------------------------------------


def test_peek_lists_each_dead_letter_with_its_source_and_no_secret(dead, capsys):
    status, out = run(capsys, "peek")
    assert status == 0
    lines = out.splitlines()
    reset = next(line for line in lines if "what=password_reset_link" in line)
    assert "[email]" in reset
    assert "from=EmailQueue (inferred)" in reset
    assert "receives=" in reset and "sent=20" in reset
    assert "email_id=20261207T100000Z-passwo" in reset
    assert "username=m***@example.com" in reset and "to=m***@example.com" in reset
    assert any("from=BulkEmailQueue" in line and "account_credentials" in line for line in lines)
    assert any("what=forgot_password" in line for line in lines)
    assert any("[index-repair]" in line and "what=index_repair" in line for line in lines)
    imported = next(line for line in lines if "[import]" in line and "id=" in line)
    assert "import_id=imp-20261207-abc" in imported and "rows=3" in imported
    # Counts per source queue and template.
    assert (
        "email: EmailDeadLetterQueue: about 3 waiting, 0 in flight; 3 listed: "
        "BulkEmailQueue 1 (account_credentials 1); "
        "EmailQueue 2 (forgot_password 1, password_reset_link 1)"
    ) in out
    # Never the secrets, the names, the addresses or anything else of a body.
    for value in (FAKE_PASSWORD, FAKE_TOKEN, "Mariella", MARIA, LUCA, "c-1", "idempotency"):
        assert value not in out


def test_peek_consumes_nothing(dead, sqs, capsys):
    before = bodies(sqs, dead["EmailDeadLetterQueue"])
    first = run(capsys, "peek", "--queue", "email")[1]
    second = run(capsys, "peek", "--queue", "email")[1]
    assert bodies(sqs, dead["EmailDeadLetterQueue"]) == before
    assert len(before) == 3
    assert first.count("[email]") == second.count("[email]") == 3
    attributes = sqs.get_queue_attributes(
        QueueUrl=dead["EmailDeadLetterQueue"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    # and nothing went back to the source queues
    assert bodies(sqs, dead["EmailQueue"]) == bodies(sqs, dead["BulkEmailQueue"]) == []


def test_peek_shows_addresses_only_when_asked_and_never_the_variables(dead, capsys):
    out = run(capsys, "peek", "--queue", "email", "--show-addresses")[1]
    assert f"username={MARIA}" in out and f"to={LUCA}" in out
    assert FAKE_PASSWORD not in out and FAKE_TOKEN not in out and "Mariella" not in out


def test_peek_json_has_the_allow_listed_fields_only(dead, capsys):
    out = run(capsys, "peek", "--queue", "email", "--json")[1]
    summaries = [json.loads(line) for line in out.splitlines()]
    assert len(summaries) == 3
    allowed = {field for field in dead_letters.Summary.__dataclass_fields__}
    for summary in summaries:
        assert set(summary) <= allowed
        assert "variables" not in summary and "body" not in summary
    assert FAKE_PASSWORD not in out and MARIA not in out


def test_peek_does_not_print_an_unreadable_body_or_odd_values(names, sqs, capsys):
    dead_letter(sqs, names["EmailQueue"], f"password={FAKE_PASSWORD}")
    odd = json.loads(request("new_password"))
    odd["template_id"] = f"new password is {FAKE_PASSWORD}"
    odd["to"] = f"{FAKE_PASSWORD} <x@example.com>"
    dead_letter(sqs, names["EmailQueue"], json.dumps(odd))
    out = run(capsys, "peek", "--queue", "email", "--show-addresses")[1]
    assert "what=unreadable" in out and "from=unknown" in out
    assert "what=? " in out and "to=?" in out
    assert FAKE_PASSWORD not in out


def test_peek_of_an_empty_queue(names, capsys):
    status, out = run(capsys, "peek", "--queue", "index-repair")
    assert status == 0
    assert out.strip() == (
        "index-repair: IndexRepairDeadLetterQueue: about 0 waiting, 0 in flight; 0 listed"
    )


# ---- redrive (receive, send, delete) ---------------------------------------------------------


def test_redrive_puts_each_message_back_on_its_source_queue(dead, sqs, capsys):
    status, out = run(capsys, "redrive")
    assert status == 0, out
    assert "this endpoint has no message move tasks" in out
    assert "email: done: 3 moved (1 to BulkEmailQueue, 2 to EmailQueue)" in out
    assert "index-repair: done: 1 moved (1 to IndexRepairQueue)" in out
    assert bodies(sqs, dead["EmailQueue"]) == sorted([RESET_LINK, FORGOT])
    assert bodies(sqs, dead["BulkEmailQueue"]) == [CREDENTIALS]
    assert bodies(sqs, dead["IndexRepairQueue"]) == [INDEX_REPAIR]
    assert bodies(sqs, dead["EmailDeadLetterQueue"]) == []
    assert bodies(sqs, dead["IndexRepairDeadLetterQueue"]) == []
    # The import's dead letter stays: its rows are recorded failed already.
    assert "import: not redriven without --queue import --force" in out
    assert bodies(sqs, dead["ImportDeadLetterQueue"]) == [IMPORT]
    assert bodies(sqs, dead["ImportQueue"]) == []
    assert FAKE_PASSWORD not in out and MARIA not in out


def test_redrive_twice_moves_nothing_more(dead, sqs, capsys):
    assert run(capsys, "redrive", "--queue", "email")[0] == 0
    status, out = run(capsys, "redrive", "--queue", "email")
    assert status == 0
    assert "email: done: 0 moved" in out
    assert bodies(sqs, dead["EmailQueue"]) == sorted([RESET_LINK, FORGOT])
    assert bodies(sqs, dead["BulkEmailQueue"]) == [CREDENTIALS]


def test_a_redriven_message_that_fails_again_comes_back_and_can_be_redriven(dead, sqs, capsys):
    run(capsys, "redrive", "--queue", "index-repair")
    for _ in range(5):  # the repair fails five more times
        received = sqs.receive_message(QueueUrl=dead["IndexRepairQueue"], VisibilityTimeout=0)
        assert received.get("Messages")
    assert not sqs.receive_message(QueueUrl=dead["IndexRepairQueue"]).get("Messages")
    assert bodies(sqs, dead["IndexRepairDeadLetterQueue"]) == [INDEX_REPAIR]
    assert run(capsys, "redrive", "--queue", "index-repair")[0] == 0
    assert bodies(sqs, dead["IndexRepairQueue"]) == [INDEX_REPAIR]


def test_the_import_queue_is_redriven_only_with_force(dead, sqs, capsys):
    status, out = run(capsys, "redrive", "--queue", "import")
    assert status == 2
    assert "recorded `failed`" in out
    assert bodies(sqs, dead["ImportDeadLetterQueue"]) == [IMPORT]
    assert run(capsys, "redrive", "--queue", "import", "--force")[0] == 0
    assert bodies(sqs, dead["ImportQueue"]) == [IMPORT]
    assert bodies(sqs, dead["ImportDeadLetterQueue"]) == []


def test_a_dead_letter_whose_source_is_unknown_stays(names, sqs, capsys):
    dead_letter(sqs, names["EmailQueue"], "not json")
    dead_letter(sqs, names["BulkEmailQueue"], CREDENTIALS)
    status, out = run(capsys, "redrive", "--queue", "email", "--local")
    assert status == 1
    assert "1 moved (1 to BulkEmailQueue); 1 left in the queue" in out
    assert bodies(sqs, names["EmailDeadLetterQueue"]) == ["not json"]  # visible again
    assert bodies(sqs, names["BulkEmailQueue"]) == [CREDENTIALS]


def test_the_recorded_source_wins_over_the_template(names, sqs):
    dlq = dead_letters.open_queue(sqs, dead_letters.KINDS["email"], names["EmailDeadLetterQueue"])
    bulk_arn = names["BulkEmailQueue.Arn"]
    recorded = {"Body": RESET_LINK, "Attributes": {"DeadLetterQueueSourceArn": bulk_arn}}
    assert dlq.source_for(recorded)[0].name == "BulkEmailQueue"
    assert dlq.source_for({"Body": RESET_LINK})[0].name == "EmailQueue"
    elsewhere = {"Body": RESET_LINK, "Attributes": {"DeadLetterQueueSourceArn": "arn:x:y"}}
    assert dlq.source_for(elsewhere)[0] is None


# ---- which queue ---------------------------------------------------------------------------


def test_queue_urls_from_the_environment_or_the_local_names(names, sqs, monkeypatch):
    email = dead_letters.KINDS["email"]
    assert dead_letters.resolve_url(sqs, email) == names["EmailDeadLetterQueue"]
    monkeypatch.setenv("EMAIL_DEAD_LETTER_QUEUE_URL", names["IndexRepairDeadLetterQueue"])
    assert dead_letters.resolve_url(sqs, email) == names["IndexRepairDeadLetterQueue"]
    assert dead_letters.resolve_url(sqs, email, "https://explicit") == "https://explicit"
    # A stack without the output: the aws CLI says None, and no queue has the local name.
    missing = dead_letters.Kind("x", "NoSuchQueue", "NO_SUCH_QUEUE_URL")
    monkeypatch.setenv("NO_SUCH_QUEUE_URL", "None")
    with pytest.raises(dead_letters.Unresolved, match=r"STACK=<stack>.*NoSuchQueue\)"):
        dead_letters.resolve_url(sqs, missing)


def test_dlq_url_names_one_queue(names, capsys):
    with pytest.raises(SystemExit):
        dead_letters.main(["peek", "--url", names["EmailDeadLetterQueue"]])
    status, out = run(capsys, "peek", "--queue", "email", "--url", names["EmailDeadLetterQueue"])
    assert status == 0 and "EmailDeadLetterQueue" in out


# ---- redrive (SQS's message move task) -------------------------------------------------------


class MoveTasks:
    """moto's SQS with StartMessageMoveTask and ListMessageMoveTasks: a task moves its
    messages (as the local redrive does) over two progress reads."""

    def __init__(self, sqs, running: bool = False, earlier: bool = False) -> None:
        self.sqs = sqs
        self.started: list[dict] = []
        self.tasks: list[dict] = []
        if running:
            self.tasks.append(
                {"Status": "RUNNING", "TaskHandle": "old", "ApproximateNumberOfMessagesMoved": 1}
            )
        if earlier:  # yesterday's, listed first until the new one shows (one read late)
            self.tasks.append(
                {
                    "Status": "COMPLETED",
                    "StartedTimestamp": int(time.time() * 1000) - 86_400_000,
                    "ApproximateNumberOfMessagesMoved": 7,
                }
            )
        self.late = earlier
        self.reads = 0

    def __getattr__(self, name):
        return getattr(self.sqs, name)

    def start_message_move_task(self, **parameters):
        self.started.append(parameters)
        self.tasks.insert(
            0,
            {
                "Status": "RUNNING",
                "TaskHandle": "new",
                "StartedTimestamp": int(time.time() * 1000),
                **parameters,
            },
        )
        return {"TaskHandle": "new"}

    def list_message_move_tasks(self, SourceArn, MaxResults):
        self.reads += 1
        if self.late and self.started:
            self.late = False
            return {"Results": self.tasks[1:][:MaxResults]}
        if self.tasks and self.tasks[0]["Status"] == "RUNNING" and self.reads > 2:
            url = self.sqs.get_queue_url(QueueName=SourceArn.rsplit(":", 1)[-1])["QueueUrl"]
            dlq = dead_letters.open_queue(self.sqs, dead_letters.KINDS["email"], url)
            moved = dead_letters.redrive_copy(self.sqs, dlq, say=lambda line: None).moved
            self.tasks[0] = {
                "Status": "COMPLETED",
                "SourceArn": SourceArn,
                "ApproximateNumberOfMessagesMoved": moved,
                "ApproximateNumberOfMessagesToMove": moved,
            }
        return {"Results": self.tasks[:MaxResults]}


def test_on_aws_the_move_task_is_started_and_followed(dead, sqs, capsys):
    fake = MoveTasks(sqs)
    status = dead_letters.main(["redrive", "--queue", "email", "--rate", "10"], sqs=fake)
    out = capsys.readouterr().out
    assert status == 0
    assert fake.started == [
        {"SourceArn": dead["EmailDeadLetterQueue.Arn"], "MaxNumberOfMessagesPerSecond": 10}
    ]
    assert "email: move task started for about 3 messages" in out
    assert "email: running, 0 of about 0 moved" in out
    assert "email: completed, 3 of about 3 moved" in out
    assert bodies(sqs, dead["EmailDeadLetterQueue"]) == []
    assert bodies(sqs, dead["BulkEmailQueue"]) == [CREDENTIALS]


def test_on_aws_a_running_task_is_followed_not_started_again(dead, sqs, capsys):
    fake = MoveTasks(sqs, running=True)
    assert dead_letters.main(["redrive", "--queue", "email"], sqs=fake) == 0
    out = capsys.readouterr().out
    assert fake.started == []
    assert "a move task is already running: following it" in out
    assert "completed, 3 of about 3 moved" in out


def test_on_aws_an_earlier_task_listed_first_is_not_taken_for_ours(dead, sqs, capsys):
    fake = MoveTasks(sqs, earlier=True)
    assert dead_letters.main(["redrive", "--queue", "email"], sqs=fake) == 0
    out = capsys.readouterr().out
    assert len(fake.started) == 1
    assert "7 of" not in out
    assert "email: completed, 3 of about 3 moved" in out
    assert bodies(sqs, dead["EmailDeadLetterQueue"]) == []


def test_on_aws_an_empty_queue_starts_no_task(names, sqs, capsys):
    fake = MoveTasks(sqs)
    assert dead_letters.main(["redrive", "--queue", "email"], sqs=fake) == 0
    assert fake.started == []
    assert "email: nothing to redrive" in capsys.readouterr().out


def test_on_aws_no_wait_says_how_to_follow_the_task(dead, sqs, capsys):
    fake = MoveTasks(sqs)
    assert dead_letters.main(["redrive", "--queue", "email", "--no-wait"], sqs=fake) == 0
    out = capsys.readouterr().out
    assert "aws sqs list-message-move-tasks --source-arn " + dead["EmailDeadLetterQueue.Arn"] in out
    assert fake.reads == 1


def test_an_emulated_endpoint_is_redriven_one_by_one(dead, sqs, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    fake = MoveTasks(sqs)
    assert dead_letters.main(["redrive", "--queue", "email"], sqs=fake) == 0
    assert fake.started == [] and fake.reads == 0
    assert "email: done: 3 moved" in capsys.readouterr().out


# ---- email-events: the delivery events' function's on-failure queue ------------------------

BOUNCE_EVENT = json.dumps(
    {
        "version": "0",
        "id": "4f7a1c2e-9a35-8b51-1d0c-6f0e3c2b7a11",
        "detail-type": "Email Bounced",
        "source": "aws.ses",
        "time": "2026-12-07T10:15:31Z",
        "detail": {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bouncedRecipients": [
                    {"emailAddress": MARIA, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
                ],
            },
            "mail": {
                "messageId": "0102019a-5e6f",
                "destination": [MARIA],
                "commonHeaders": {"subject": f"La tua password: {FAKE_PASSWORD}"},
                "tags": {"email_ref": ["3b1f0c7d9e2a4f6b8c0d1e2f3a4b5c6d7e8f9a0b"]},
            },
        },
    }
)


def failed_event(sqs, names, body: str = BOUNCE_EVENT) -> None:
    """What Lambda puts in the on-failure queue: the event, and why in attributes."""
    sqs.send_message(
        QueueUrl=names["EmailEventsDeadLetterQueue"],
        MessageBody=body,
        MessageAttributes={
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": f"boom for {MARIA}"},
        },
    )


class FakeLambda:
    def __init__(self) -> None:
        self.invocations: list[dict] = []

    def invoke(self, **parameters):
        self.invocations.append(parameters)
        return {"StatusCode": 202}


def test_peek_shows_a_failed_delivery_event_without_its_addresses_or_headers(names, sqs, capsys):
    failed_event(sqs, names)
    status, out = run(capsys, "peek", "--queue", "email-events")
    assert status == 0
    line = next(line for line in out.splitlines() if line.startswith("[email-events]"))
    assert "what=Bounce" in line and "bounce_type=Permanent" in line
    assert "event_at=2026-12-07T10:15:31Z" in line
    assert "email_ref=3b1f0c7d9e2a4f6b8c0d1e2f3a4b5c6d7e8f9a0b" in line
    assert "to=m***@example.com" in line
    assert "email-events: EmailEventsDeadLetterQueue: about 1 waiting" in out
    for value in (MARIA, FAKE_PASSWORD, "550", "boom"):
        assert value not in out


def test_failed_delivery_events_go_back_to_their_function(names, sqs, capsys, monkeypatch):
    failed_event(sqs, names)
    failed_event(sqs, names, "not json")
    fake = FakeLambda()
    monkeypatch.setenv("EMAIL_EVENTS_FUNCTION", "portal-accounts-EmailEventsFunction-X")
    status = dead_letters.main(["redrive", "--queue", "email-events"], lambda_client=fake)
    out = capsys.readouterr().out
    assert status == 1  # the unreadable one stays
    assert fake.invocations == [
        {
            "FunctionName": "portal-accounts-EmailEventsFunction-X",
            "InvocationType": "Event",
            "Payload": BOUNCE_EVENT.encode(),
        }
    ]
    assert "email-events: done: 1 moved (1 to portal-accounts-EmailEventsFunction-X)" in out
    assert "1 left in the queue" in out
    assert bodies(sqs, names["EmailEventsDeadLetterQueue"]) == ["not json"]


def test_failed_delivery_events_need_the_function(names, sqs, capsys):
    failed_event(sqs, names)
    status, out = run(capsys, "redrive", "--queue", "email-events")
    assert status == 2
    assert "EMAIL_EVENTS_FUNCTION" in out
    assert bodies(sqs, names["EmailEventsDeadLetterQueue"]) == [BOUNCE_EVENT]
