"""PynamoDB models: one per table, the only place that knows attribute names.

Table names come from the environment (template.yaml sets them on every function), read
when a model is used rather than at import: a tool given only the tables it uses (`make
reindex`: ACCOUNTS_TABLE and SEARCH_TABLE) still loads every model, and a model used
without its variable raises config.MissingSetting naming it. A function checks them all
at init (config.check_required).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from portal_accounts.config import get_settings

_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-south-1"


class _TableName:
    """A model's `Meta.table_name`: the setting's value each time PynamoDB reads it."""

    def __init__(self, setting: str) -> None:
        self.setting = setting

    def __get__(self, meta: object, owner: type | None = None) -> str:
        return str(getattr(get_settings(), self.setting))


class _Meta:
    region = _REGION
    # Lambda reuses connections; keep retries short so a throttled table answers fast.
    max_retry_attempts = 3


class CustomerModel(Model):
    """A person of the business's customer registry (anagrafica)."""

    class Meta(_Meta):
        table_name = _TableName("customers_table")

    customer_id = UnicodeAttribute(hash_key=True)
    first_name = UnicodeAttribute()
    last_name = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(default="it")
    # The link: at most one account per customer. Mirrored in AccountModel.customers,
    # and both sides always change in one transaction.
    account_username = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


# The by-status index's partition key is "<status>#<n>". The status alone would be two
# keys, and each account's first login of the day, each account created, would write the
# one key `active` (a partition key takes about 1,000 writes/s). 32 shards keep each key
# under 700 writes/s at 20,000 such writes/s (docs/scale.md); the listing merges them.
STATUS_SHARDS = 32


def status_shard(username: str, status: str) -> str:
    """The by-status key of an account: its status and a stable hash of its username (the
    same in every process and release: a shard that moved would hide the account)."""
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).digest()
    return f"{status}#{int.from_bytes(digest[:8], 'big') % STATUS_SHARDS}"


def status_shards(status: str) -> list[str]:
    """Every by-status key of a status: what a listing of it merges."""
    return [f"{status}#{n}" for n in range(STATUS_SHARDS)]


class StatusIndex(GlobalSecondaryIndex):
    """Lists accounts by status, in username order within each shard (listing.py merges
    the shards and reads the page's accounts). Keys only: what changes on a login (the
    day's `last_login_at`) or a link never writes it, only a change of status does."""

    class Meta:
        index_name = "by-status-shard"
        projection = KeysOnlyProjection()

    status_shard = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute(range_key=True)


class AccountModel(Model):
    """A login to the portal. The username is the normalised email."""

    class Meta(_Meta):
        table_name = _TableName("accounts_table")

    username = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute(default="active")
    password_hash = UnicodeAttribute()
    password_temporary = BooleanAttribute(default=False)
    password_changed_at = UTCDateTimeAttribute()
    password_expires_at = UTCDateTimeAttribute(null=True)
    # Bumped by every event that must end existing sessions and links
    # (password set or reset, disable). Sessions and link tokens carry the version
    # they were issued under and die when it moves on.
    credential_version = NumberAttribute(default=1)
    # Moves on with every write that changes what other writes decide from: the linked
    # customers (and their names), the status, the password. A write that decided from a
    # read is conditioned on the revision it read (see revision.py). None on items
    # written before it existed.
    revision = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    last_login_at = UTCDateTimeAttribute(null=True)
    # customer_id -> {first_name, last_name, linked_at}: the linked customers, denormalised
    # so that lists and logins need no second read.
    customers: MapAttribute[str, Any] = MapAttribute(default=dict)
    # purpose -> hash of the one live link token (reset, set_password): a new link
    # replaces the old one, so older links stop working (see links.py).
    live_links: MapAttribute[str, Any] = MapAttribute(default=dict)
    # What the search index holds for this account right now (see search/index.py).
    last_forgot_at = UTCDateTimeAttribute(null=True)
    indexed_words = UnicodeSetAttribute(null=True)
    indexed_status = UnicodeAttribute(null=True)
    # status_shard(username, status), the by-status index's key: set by every write of
    # the status (a put computes it in serialize, an update sets both). Items written
    # before it existed have none until backfill.py gives them one.
    status_shard = UnicodeAttribute(null=True)

    by_status = StatusIndex()

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        """A whole item written (create, a batch, a test's seed) always carries the shard
        of its status: derived here, it cannot be forgotten."""
        self.status_shard = status_shard(self.username, self.status)
        return super().serialize(null_check=null_check)


class SearchEntryModel(Model):
    """One word of one account: the search index (no Scan on any request path)."""

    class Meta(_Meta):
        table_name = _TableName("search_table")

    prefix = UnicodeAttribute(hash_key=True)  # the word's first 2 letters
    entry = UnicodeAttribute(range_key=True)  # "<status>#<word>#<username>"
    words = UnicodeSetAttribute()  # every word of the account that has an entry


class AuditEventModel(Model):
    """The audit trail: who did what to which subject, and when."""

    class Meta(_Meta):
        table_name = _TableName("audit_table")

    subject = UnicodeAttribute(hash_key=True)  # "account#<username>" or "customer#<id>"
    event_id = UnicodeAttribute(range_key=True)  # "<iso time>#<random>": sorts by time
    at = UTCDateTimeAttribute()
    action = UnicodeAttribute()
    actor_type = UnicodeAttribute()  # operator | customer | system
    actor_id = UnicodeAttribute(null=True)
    actor_email = UnicodeAttribute(null=True)
    target = UnicodeAttribute(null=True)
    details: MapAttribute[str, Any] = MapAttribute(default=dict)
    expires_at = TTLAttribute(null=True)


def raw_map(value: MapAttribute | dict | None) -> dict:
    """A raw MapAttribute's content as a plain dict (loaded items and new ones alike)."""
    return value.as_dict() if isinstance(value, MapAttribute) else dict(value or {})


def linked_customers(account: AccountModel) -> dict[str, dict]:
    """customer_id -> {first_name, last_name, linked_at}, oldest link first."""
    entries = raw_map(account.customers)
    return dict(sorted(entries.items(), key=lambda item: (item[1].get("linked_at", ""), item[0])))


class LinkTokenModel(Model):
    """A reset or set-password link token, stored only as its hash."""

    class Meta(_Meta):
        table_name = _TableName("link_tokens_table")

    token_hash = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute()
    purpose = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    # Checked in code: DynamoDB's TTL deletes late, it only cleans up.
    valid_until = UTCDateTimeAttribute()
    credential_version = NumberAttribute()
    expires_at = TTLAttribute()


class SessionModel(Model):
    """A storefront session: the token's SHA-256 only, never the token."""

    class Meta(_Meta):
        table_name = _TableName("sessions_table")

    session_hash = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute()
    credential_version = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    last_seen_at = UTCDateTimeAttribute()
    absolute_expires_at = UTCDateTimeAttribute()  # checked in code
    expires_at = TTLAttribute()  # clean-up only


class ThrottleModel(Model):
    """Password guesses per username (also usernames with no account); see throttle.py."""

    class Meta(_Meta):
        table_name = _TableName("throttle_table")

    key = UnicodeAttribute(hash_key=True)  # login_throttle_key(username)
    failures = NumberAttribute(default=0)  # consecutive, attempts in flight included
    pending = NumberAttribute(null=True)  # attempts in flight
    locked_until = UTCDateTimeAttribute(null=True)
    locked_out = BooleanAttribute(null=True)  # LOGIN_LOCKOUT_FAILURES reached
    generation = UnicodeAttribute(null=True)  # this record's identity (a new one after a clear)
    last_attempt = UnicodeAttribute(null=True)  # the latest attempt counted
    expires_at = TTLAttribute()


def login_throttle_key(username: str) -> str:
    return f"login#{username}"


class TemplateModel(Model):
    """An operator's customised email template; absent means the shipped default."""

    class Meta(_Meta):
        table_name = _TableName("templates_table")

    template_id = UnicodeAttribute(hash_key=True)
    locale = UnicodeAttribute(range_key=True)
    subject = UnicodeAttribute()
    text = UnicodeAttribute()
    html = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute(null=True)


class EmailLogModel(Model):
    """What was emailed for an account and how it went. No body.

    `status`: queued, sent (SES accepted it), then what SES's delivery events say
    (email/delivery.py): delivered, bounced, complained; or failed."""

    class Meta(_Meta):
        table_name = _TableName("email_log_table")

    username = UnicodeAttribute(hash_key=True)
    email_id = UnicodeAttribute(range_key=True)  # "<iso time>#<random>": sorts by time
    template_id = UnicodeAttribute()
    locale = UnicodeAttribute()
    to = UnicodeAttribute()
    status = UnicodeAttribute()  # queued | sent | delivered | bounced | complained | failed
    queued_at = UTCDateTimeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)  # EMAIL_LOG_RETENTION_DAYS after it was queued
    # What the delivery events said (email/delivery.py): when the state last changed, and
    # for a bounce SES's type (Permanent, Transient, Undetermined), subtype and the
    # receiving server's diagnostic.
    event_at = UTCDateTimeAttribute(null=True)
    bounce_type = UnicodeAttribute(null=True)
    bounce_subtype = UnicodeAttribute(null=True)
    diagnostic = UnicodeAttribute(null=True)


class EmailRefModel(Model):
    """Which log entry an SES message is: its delivery events carry the message's tag
    `email_ref` (SES tag values allow no "@" or "#"), and this item, in the email log
    table under the key "ref#<ref>", names the entry. Written before the send, so an
    event never arrives before it; it expires with its entry."""

    class Meta(_Meta):
        table_name = _TableName("email_log_table")

    key = UnicodeAttribute(hash_key=True, attr_name="username")  # "ref#<ref>"
    kind = UnicodeAttribute(range_key=True, attr_name="email_id")  # "ref"
    entry_username = UnicodeAttribute()
    entry_email_id = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class ImportModel(Model):
    """A bulk import of logins (imports.py): its header, and one row per customer done.

    The header (`row` = HEADER_ROW) says who asked, when, for which customers and whether
    credentials emails go; a row (`row` = the customer id) holds that customer's result,
    written once (conditionally), in the same transaction as the account it created."""

    class Meta(_Meta):
        table_name = _TableName("imports_table")

    import_id = UnicodeAttribute(hash_key=True)
    row = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    # the header
    actor_type = UnicodeAttribute(null=True)
    actor_id = UnicodeAttribute(null=True)
    actor_email = UnicodeAttribute(null=True)
    customer_ids = ListAttribute(of=UnicodeAttribute, null=True)
    send_credentials_email = BooleanAttribute(null=True)
    # a row
    result = UnicodeAttribute(null=True)
    username = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)  # the credentials email: queued | failed | none
    expires_at = TTLAttribute()


ALL_MODELS: tuple[type[Model], ...] = (
    CustomerModel,
    AccountModel,
    SearchEntryModel,
    AuditEventModel,
    LinkTokenModel,
    SessionModel,
    ThrottleModel,
    TemplateModel,
    EmailLogModel,
    ImportModel,
)
