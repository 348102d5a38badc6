"""The email sender: one SES call per email, each template read once per batch.

One SQS batch of 10 email requests (10 different recipients, 3 template x language
pairs), as Lambda's event source hands it over, goes to functions.email_sender.app.handler
under moto in this process. Every AWS request is counted (bench/counting.py): SES
SendEmail calls, and DynamoDB requests by table and operation, the templates table's
GetItem apart. The requests and their email-log entries are made beforehand with
portal_accounts.email.outbox (what the API functions do before queueing), and one of the
three templates is an operator's customised copy, the others the shipped defaults.

Then the same batch is delivered again (SQS redelivers at least once): idempotency must
stop every send.
"""

from __future__ import annotations

import argparse
from collections import Counter

from bench import world
from bench.counting import counting
from functions.email_sender.app import handler as sender_handler
from portal_accounts.audit import Actor
from portal_accounts.config import get_settings
from portal_accounts.email import outbox
from portal_accounts.email.defaults import DEFAULTS, SAMPLE_VALUES, VARIABLES
from portal_accounts.email.templates import save_template
from portal_accounts.models import EmailLogModel
from tests.helpers import FakeContext

BATCH = (  # (template, language) of each of the 10 emails
    *[("account_credentials", "it")] * 4,
    *[("password_reset_link", "en")] * 3,
    *[("password_changed", "it")] * 3,
)
FIRST_NAMES = ("Marco", "Giulia", "Luca", "Sara", "Paolo", "Elena", "Davide", "Anna", "Pietro")


def _requests() -> list[outbox.Outgoing]:
    """Ten queued emails, their log entries written, as outbox.enqueue would leave them."""
    outgoing = []
    for n, (template_id, locale) in enumerate(BATCH):
        first = FIRST_NAMES[n % len(FIRST_NAMES)]
        username = f"{first.lower()}.esposito{n}@example.com"
        # No link: a queued request never carries one (the sender issues it; not timed here).
        variables = {name: SAMPLE_VALUES[name] for name in VARIABLES[template_id] if name != "link"}
        variables.update(first_name=first, username=username)
        prepared = outbox.prepare(
            username=username,
            template_id=template_id,
            locale=locale,
            to=username,
            variables=variables,
        )
        prepared.entry.save()
        outgoing.append(prepared)
    return outgoing


def run(args: argparse.Namespace) -> bool:
    del args
    with world.emulated_aws() as names:
        # An operator's copy of one template; the other two are the shipped defaults.
        default = DEFAULTS[("account_credentials", "it")]
        save_template(
            "account_credentials",
            "it",
            {**default, "subject": "Il tuo accesso a {{ business_name }}"},
            Actor(type="operator", id="bench"),
        )
        outgoing = _requests()
        event = world.sqs_event([o.request.to_json() for o in outgoing], names["EmailQueue.Arn"])
        with counting() as log:
            result = sender_handler(event, FakeContext())
        statuses = Counter(
            EmailLogModel.get(o.entry.username, o.entry.email_id).status for o in outgoing
        )
        with counting() as again:
            repeated = sender_handler(event, FakeContext())
        tables = get_settings()

    pairs = len(set(BATCH))
    ops = log.operations()
    sends = ops[("SES", "SendEmail")]
    by_table = log.by_table()
    template_reads = by_table[(tables.templates_table, "GetItem")]
    print(
        f"  one SQS batch of {len(BATCH)} emails to {len({o.request.to for o in outgoing})} "
        f"recipients, {pairs} template x language pairs "
        f"({', '.join(f'{t}/{loc} x{n}' for (t, loc), n in Counter(BATCH).items())})"
    )
    print(f"    answer: {result}; email log: {dict(statuses)}")
    print(f"    SES SendEmail: {sends} (goal {len(BATCH)})")
    print(
        f"    templates table GetItem: {template_reads} "
        f"(goal <= {pairs}: once per template and language per batch)"
    )
    print(f"    DynamoDB by table ({log.total_requests} requests):")
    for (table, operation), n in sorted(by_table.items()):
        note = ""
        if table == tables.idempotency_table:
            note = "  (Powertools Idempotency)"
        elif table == tables.email_log_table:
            note = "  (the email log: sent / failed)"
        print(f"      {table:<18} {operation:<16} {n:>3}{note}")
    others = {k: v for k, v in ops.items() if k[0] not in ("DynamoDB", "SES")}
    if others:
        print(f"    other requests: {dict(others)}")
    per_email = log.total_calls / len(BATCH)
    print(f"    in all {log.total_calls} requests, {per_email:.1f} per email")
    resent = again.operations()[("SES", "SendEmail")]
    print(
        f"    the same batch delivered again: {resent} SendEmail, answer {repeated}; "
        f"{again.describe_calls()}"
    )
    passed = (
        sends == len(BATCH)
        and template_reads <= pairs
        and result == {"batchItemFailures": []}
        and statuses == Counter({outbox.SENT: len(BATCH)})
        and resent == 0
    )
    print(
        f"  verdict: {'PASS' if passed else 'FAIL'}: {sends} SendEmail for {len(BATCH)} emails, "
        f"{template_reads} template reads for {pairs} pairs, {resent} sent again on redelivery"
    )
    return passed
