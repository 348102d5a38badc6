"""One typed settings object, read from the environment once per process.

A frozen dataclass rather than a pydantic model on purpose: the session authorizer runs
before every storefront request and needs nothing else from pydantic, whose import would
be most of its cold start. Values are converted to the field's type and range-checked.

The table names and queue URLs are `Required`: they have no default, since a default
would point a function missing its variable at some other table. Reading one whose
variable is unset raises MissingSetting naming it. Every function reads them all at init
(`check_required`, called by `init_done()`, the last line of every function module), so
on Lambda a missing variable fails the init, not a request; a tool reads only those it
uses (`make reindex`: the accounts and search tables).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any


class MissingSetting(RuntimeError):
    """Required settings (table names, queue URLs) whose environment variables are unset."""

    def __init__(self, *variables: str) -> None:
        if len(variables) == 1:
            told = f"{variables[0]} is not set: template.yaml's Globals give it"
        else:
            names = f"{', '.join(variables[:-1])} and {variables[-1]}"
            told = f"{names} are not set: template.yaml's Globals give them"
        super().__init__(f"{told} to every function")
        self.variables = variables


class Required:
    """A setting with no default: its value, or MissingSetting when its variable is unset.

    A dataclass field whose type is this descriptor: `Settings(accounts_table="x")` sets
    it, `settings.accounts_table` reads it (a `str`), and the class-level read is the
    dataclass's default, "" (unset)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.variable = name.upper()
        self.slot = f"_{name}"

    def __get__(self, settings: object, owner: type | None = None) -> str:
        if settings is None:
            return ""
        value: str = settings.__dict__.get(self.slot, "")
        if not value:
            raise MissingSetting(self.variable)
        return value

    def __set__(self, settings: object, value: str) -> None:
        settings.__dict__[self.slot] = value


def _int(default: int, low: int | None = None, high: int | None = None):
    return field(default=default, metadata={"low": low, "high": high})


@dataclass(frozen=True)
class Settings:
    # Required (no default): the tables and queues, which template.yaml's Globals give to
    # every function.
    accounts_table: Required = Required()
    customers_table: Required = Required()
    search_table: Required = Required()
    audit_table: Required = Required()
    sessions_table: Required = Required()
    link_tokens_table: Required = Required()
    throttle_table: Required = Required()
    templates_table: Required = Required()
    email_log_table: Required = Required()
    idempotency_table: Required = Required()
    imports_table: Required = Required()
    # Transactional emails (reset links, password changed), and bulk ones (credentials):
    # outbox.queue_url_for says which.
    email_queue_url: Required = Required()
    email_bulk_queue_url: Required = Required()
    # Accounts whose search index a sync left behind, for the search_repair function.
    index_repair_queue_url: Required = Required()
    # Bulk imports' rows, for the account_import function (imports.py).
    import_queue_url: Required = Required()
    # The import queue's maxReceiveCount: on its last receive a message's rows still to do
    # are recorded as failed rather than left pending (template.yaml ImportQueue).
    import_max_receive_count: int = _int(5, low=1)
    # Each sender paces its SES calls to ses_max_send_rate / email_senders a second, so the
    # email_senders that may run at once stay within SES's rate (template.yaml SendRates);
    # 0: unpaced (the tests' emulated SES has no rate).
    ses_max_send_rate: int = _int(0, low=0)
    email_senders: int = _int(1, low=1)
    sender_email_address: str = "no-reply@example.com"
    # The SES configuration set every email is sent with: its delivery events (delivered,
    # bounced, complained, rejected, delayed) come back to the email log
    # (email/delivery.py). Empty: sent without one, and no events come back.
    ses_configuration_set: str = ""
    email_max_receive_count: int = _int(5, low=1)

    reset_link_ttl_seconds: int = _int(3600, low=1)
    set_password_link_ttl_seconds: int = _int(259200, low=1)
    session_ttl_seconds: int = _int(43200, low=1)
    session_idle_timeout_seconds: int = _int(3600, low=1)
    password_min_length: int = _int(15, low=8, high=128)
    business_name: str = ""
    login_max_failures: int = _int(5, low=1)
    login_lockout_failures: int = _int(100, low=1)
    forgot_password_min_interval_seconds: int = _int(60, low=0)
    storefront_base_url: str = "http://127.0.0.1:3000"
    # Where the emails' reset and set-password links point: the hosted page
    # (GET /reset-password of the storefront API; by default STOREFRONT_BASE_URL's, as in
    # the local stack), or a storefront's own page, which then takes `?token=` itself.
    password_page_url: str = ""
    # The customer's pages (pages/): an https logo URL, and the accent colour (#rrggbb).
    logo_url: str = ""
    accent_color: str = "#0b5cad"
    default_locale: str = "it"
    # Scope names (comma-separated) an operator token must carry: any one of each list.
    operator_scopes: str = "portal-accounts/operator"
    operator_admin_scopes: str = "portal-accounts/admin"

    temporary_password_ttl_seconds: int = _int(7 * 24 * 3600, low=1)
    # Sessions record activity at most this often: the idle timeout is exact to this much.
    session_touch_interval_seconds: int = _int(60, low=0)
    login_lock_base_seconds: int = _int(1, low=1)
    login_lock_max_seconds: int = _int(900, low=1)
    audit_retention_days: int = _int(400, low=1)
    email_log_retention_days: int = _int(400, low=1)
    # Bounds the account item (each link copies the customer's names) and its search
    # entries: a parent's login serves a family, not a registry.
    max_customers_per_account: int = _int(50, low=1, high=500)

    def __post_init__(self) -> None:
        if self.login_lockout_failures < self.login_max_failures:
            raise ValueError(
                "LOGIN_LOCKOUT_FAILURES must be at least LOGIN_MAX_FAILURES, not "
                f"{self.login_lockout_failures} < {self.login_max_failures}"
            )


def _converted(spec, raw: str) -> object:
    if spec.type not in ("int", int):
        return raw
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{spec.name.upper()} must be a whole number, not {raw!r}") from None
    low, high = spec.metadata.get("low"), spec.metadata.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{spec.name.upper()} must be between {low} and {high}, not {value}")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from environment variables of the same names, upper-cased."""
    values: dict[str, Any] = {
        spec.name: _converted(spec, os.environ[spec.name.upper()])
        for spec in fields(Settings)
        if os.environ.get(spec.name.upper(), "") != ""
    }
    return Settings(**values)


REQUIRED = tuple(name for name, value in vars(Settings).items() if isinstance(value, Required))


def check_required() -> None:
    """Every required setting is set, or MissingSetting naming those that are not.

    Every function's init calls it (`portal_accounts.init_done()`), so a function whose
    environment lacks a table or a queue fails to start rather than fail later."""
    settings, missing = get_settings(), list[str]()
    for name in REQUIRED:
        try:
            getattr(settings, name)
        except MissingSetting as error:
            missing += error.variables
    if missing:
        raise MissingSetting(*missing)
