"""The audit trail: every operator action and security event, newest first."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from portal_accounts import clock
from portal_accounts.config import get_settings
from portal_accounts.models import AuditEventModel, raw_map
from portal_accounts.pagination import Page, decode_cursor, encode_cursor


@dataclass(frozen=True)
class Actor:
    """Who did it: an operator (from the JWT claims), a customer, or the system."""

    type: str
    id: str | None = None
    email: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(type="system")

    @classmethod
    def customer(cls, username: str) -> Actor:
        return cls(type="customer", id=username)


def account_subject(username: str) -> str:
    return f"account#{username}"


def customer_subject(customer_id: str) -> str:
    return f"customer#{customer_id}"


def template_subject(template_id: str, locale: str) -> str:
    """Template edits are operator actions with no account: their own trail."""
    return f"template#{template_id}#{locale}"


def build_event(
    subject: str,
    actor: Actor,
    action: str,
    *,
    target: str | None = None,
    details: dict | None = None,
    sequence: int = 0,
) -> AuditEventModel:
    """An event at the current time. Events of the same instant list in `sequence` order
    (a consequence, such as the sessions a change ended, after its cause)."""
    at = clock.now()
    retention = timedelta(days=get_settings().audit_retention_days)
    return AuditEventModel(
        subject=subject,
        event_id=clock.sortable_id(at, f"{sequence}{secrets.token_hex(6)}"),
        at=at,
        action=action,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_email=actor.email,
        target=target,
        details=details or {},
        expires_at=at + retention,
    )


def sessions_revoked(
    username: str, actor: Actor, *, cause: str, scope: str = "all"
) -> AuditEventModel:
    """The security event of a change that ends the account's sessions (`scope`: all, or
    all but the one that made the change: "others"), written with the change itself."""
    return build_event(
        account_subject(username),
        actor,
        "sessions.revoked",
        details={"cause": cause, "scope": scope},
        sequence=1,
    )


def record(subject: str, actor: Actor, action: str, **kwargs) -> None:
    build_event(subject, actor, action, **kwargs).save()


def list_events(subject: str, *, limit: int, cursor: str | None) -> Page:
    start = decode_cursor(cursor, {"subject": subject}, ("event_id",))
    results = AuditEventModel.query(
        subject, scan_index_forward=False, limit=limit, last_evaluated_key=start
    )
    items = [
        {
            "at": clock.iso(event.at),
            "action": event.action,
            "actor": {"type": event.actor_type, "id": event.actor_id, "email": event.actor_email},
            "target": event.target,
            "details": raw_map(event.details),
        }
        for event in results
    ]
    return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))
