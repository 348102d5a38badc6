"""Request and response bodies of both APIs: plain dataclasses, and the OpenAPI document.

Requests are parsed by `portal_accounts.validation` from these annotations; responses are
built from them and serialised as they are. pydantic reads the same classes, at development
time only, to write docs/openapi.json (`make openapi`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from portal_accounts import clock
from portal_accounts.models import AccountModel, CustomerModel, linked_customers
from portal_accounts.validation import (
    Describe,
    Format,
    Ge,
    Le,
    MaxItems,
    MaxLen,
    MinItems,
    MinLen,
    Trim,
)

Locale = Literal["it", "en"]
AccountStatus = Literal["active", "disabled"]
Name = Annotated[str, Trim(), MinLen(1), MaxLen(100)]
# Passwords are taken as typed: length is checked by the policy (with a clear reason),
# here only a hard ceiling against abuse.
PasswordText = Annotated[str, MaxLen(1024)]
EmailText = Annotated[str, MaxLen(320), Format("email")]

# Requests refuse fields they do not declare; pydantic reads this for the document.
STRICT: Any = {"extra": "forbid"}


# ---- requests -----------------------------------------------------------------------------


@dataclass(kw_only=True)
class CustomerCreate:
    __pydantic_config__ = {
        **STRICT,
        "json_schema_extra": {
            "examples": [
                {
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "email": "ada.lovelace@example.com",
                    "locale": "en",
                }
            ]
        },
    }

    first_name: Name
    last_name: Name
    email: EmailText | None = None
    locale: Locale = "it"


@dataclass(kw_only=True)
class CustomerPatch:
    __pydantic_config__ = STRICT
    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailText | None = None
    locale: Locale | None = None


@dataclass(kw_only=True)
class AccountCreate:
    __pydantic_config__ = STRICT
    password: PasswordText
    temporary: bool = True
    send_credentials_email: bool = False


@dataclass(kw_only=True)
class AccountAssociate:
    __pydantic_config__ = STRICT
    username: EmailText


@dataclass(kw_only=True)
class PasswordSet:
    __pydantic_config__ = STRICT
    password: PasswordText
    password_confirmation: PasswordText
    temporary: bool = True


# ---- responses ----------------------------------------------------------------------------


@dataclass(kw_only=True)
class AccountRef:
    username: str
    status: AccountStatus


@dataclass(kw_only=True)
class CustomerOut:
    customer_id: str
    first_name: str
    last_name: str
    email: str | None
    locale: Locale
    created_at: str
    updated_at: str
    account: AccountRef | None

    @classmethod
    def of(cls, customer: CustomerModel, account: AccountModel | None = None) -> CustomerOut:
        ref = None
        if customer.account_username:
            status = cast(AccountStatus, account.status) if account is not None else "active"
            ref = AccountRef(username=customer.account_username, status=status)
        return cls(
            customer_id=customer.customer_id,
            first_name=customer.first_name,
            last_name=customer.last_name,
            email=customer.email,
            locale=cast(Locale, customer.locale),
            created_at=clock.iso(customer.created_at),
            updated_at=clock.iso(customer.updated_at),
            account=ref,
        )


@dataclass(kw_only=True)
class LinkedCustomer:
    customer_id: str
    first_name: str
    last_name: str


def _linked(account: AccountModel) -> list[LinkedCustomer]:
    return [
        LinkedCustomer(customer_id=cid, first_name=e["first_name"], last_name=e["last_name"])
        for cid, e in linked_customers(account).items()
    ]


@dataclass(kw_only=True)
class AccountSummary:
    username: str
    status: AccountStatus
    customers: list[LinkedCustomer]
    last_login_at: Annotated[
        str | None,
        Describe(
            "The last login, to the day: the time of the first login on the latest day "
            "(UTC) the account logged in. Later logins that day do not move it."
        ),
    ]

    @classmethod
    def of(cls, account: AccountModel) -> AccountSummary:
        return cls(
            username=account.username,
            status=cast(AccountStatus, account.status),
            customers=_linked(account),
            last_login_at=clock.iso(account.last_login_at),
        )


@dataclass(kw_only=True)
class AccountOut(AccountSummary):
    created_at: str
    password_changed_at: str
    password_change_required: Annotated[
        bool, Describe("The password is temporary: it must be changed at the next login.")
    ]
    password_expires_at: str | None
    locked_until: Annotated[
        str | None, Describe("Logins are throttled until then (failed attempts).")
    ] = None
    locked_out: Annotated[
        bool,
        Describe(
            "LOGIN_LOCKOUT_FAILURES failed attempts in a row: no login until the customer "
            "resets the password by email or an operator unlocks the account."
        ),
    ] = False

    @classmethod
    def of(cls, account: AccountModel, locked_until=None, locked_out=False) -> AccountOut:
        return cls(
            **vars(AccountSummary.of(account)),
            created_at=clock.iso(account.created_at),
            password_changed_at=clock.iso(account.password_changed_at),
            password_change_required=bool(account.password_temporary),
            password_expires_at=clock.iso(account.password_expires_at)
            if account.password_temporary
            else None,
            locked_until=clock.iso(locked_until),
            locked_out=locked_out,
        )


@dataclass(kw_only=True)
class EventActor:
    type: Literal["operator", "customer", "system"]
    id: str | None
    email: str | None


@dataclass(kw_only=True)
class AuditEventOut:
    at: str
    action: str
    actor: EventActor
    target: str | None
    details: dict


@dataclass(kw_only=True)
class UndeliverableEmail:
    address: Annotated[
        str,
        Describe("An address the account still uses (its username or a linked customer's email)."),
    ]
    bounce_type: Annotated[str, Describe("SES's bounce type: Permanent.")]
    bounce_subtype: Annotated[
        str | None,
        Describe("SES's bounce subtype: General, NoEmail, Suppressed, OnAccountSuppressionList..."),
    ]
    diagnostic: Annotated[
        str | None, Describe("What the receiving server answered, as SES reports it.")
    ]
    bounced_at: str | None


@dataclass(kw_only=True)
class AccountDetail(AccountOut):
    recent_events: list[AuditEventOut]
    undeliverable_emails: Annotated[
        list[UndeliverableEmail],
        Describe(
            "Addresses of the account whose latest email bounced for good (a hard bounce): "
            "fix the customer's email, then send the email again. Empty when none."
        ),
    ]


@dataclass(kw_only=True)
class AccountPage:
    items: list[AccountSummary]
    next_cursor: str | None
    partial: Annotated[
        bool,
        Describe(
            "A search page stopped at its read budget before it was full: fewer items than "
            "the limit (maybe none), though more may match; next_cursor goes on."
        ),
    ] = False


@dataclass(kw_only=True)
class EventPage:
    items: list[AuditEventOut]
    next_cursor: str | None


# Query parameters of the listings.
Limit = Annotated[int, Ge(1), Le(100)]
Cursor = Annotated[str | None, MaxLen(2048)]
Search = Annotated[str | None, MaxLen(100)]


# ---- bulk import --------------------------------------------------------------------------

ImportResult = Literal[
    "created",
    "customer_already_linked",
    "username_taken",
    "customer_email_missing",
    "not_found",
    "failed",
    "pending",
]


@dataclass(kw_only=True)
class ImportIn:
    __pydantic_config__ = {
        **STRICT,
        "json_schema_extra": {
            "examples": [
                {
                    "customer_ids": ["6f1c1b52-3b8e-4f57-9d63-0a3c9a6f2d10"],
                    "send_credentials_email": True,
                }
            ]
        },
    }
    customer_ids: Annotated[
        list[Annotated[str, MinLen(1), MaxLen(64)]],
        MinItems(1),
        MaxItems(1000),
        Describe("The customers to give a login; one listed twice is imported once."),
    ]
    send_credentials_email: bool = True


@dataclass(kw_only=True)
class ImportRowOut:
    customer_id: str
    result: ImportResult
    username: str | None
    detail: str | None
    credentials_email: Literal["queued", "failed", "none"] | None


@dataclass(kw_only=True)
class ImportOut:
    import_id: str
    status: Literal["running", "done"]
    created_at: str
    send_credentials_email: bool
    total: int
    done: int
    counts: dict[str, int]
    rows: list[ImportRowOut]

    @classmethod
    def of(cls, progress: Any) -> ImportOut:
        """From imports.Progress: every row in the order given, and the counts by result."""
        rows = [
            ImportRowOut(
                customer_id=row.customer_id,
                result=row.result,
                username=row.username,
                detail=row.detail,
                credentials_email=row.email,
            )
            for row in progress.rows
        ]
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.result] = counts.get(row.result, 0) + 1
        pending = counts.get("pending", 0)
        header = progress.header
        return cls(
            import_id=header.import_id,
            status="running" if pending else "done",
            created_at=clock.iso(header.at),
            send_credentials_email=bool(header.send_credentials_email),
            total=len(rows),
            done=len(rows) - pending,
            counts=counts,
            rows=rows,
        )


# ---- email --------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Queued:
    status: Literal["queued"] = "queued"


@dataclass(kw_only=True)
class PasswordReset:
    __pydantic_config__ = STRICT
    mode: Literal["temporary_password", "reset_link"] = "temporary_password"


@dataclass(kw_only=True)
class EmailLogEntry:
    template_id: str
    to: str
    status: Annotated[
        Literal["queued", "sent", "delivered", "bounced", "complained", "failed"],
        Describe(
            "queued; sent (SES accepted it); then as SES reports: delivered (the receiving "
            "server took it), bounced (see bounce_type and diagnostic), complained (the "
            "recipient marked it as spam); failed (not sent, or rejected: see error)."
        ),
    ]
    queued_at: str
    sent_at: str | None
    error: str | None
    bounce_type: Annotated[
        str | None,
        Describe("For a bounce: Permanent (the address does not work), Transient or Undetermined."),
    ] = None
    bounce_subtype: str | None = None
    diagnostic: Annotated[
        str | None,
        Describe("For a bounce, what the receiving server answered; for a complaint, its kind."),
    ] = None
    reported_at: Annotated[str | None, Describe("When SES last reported on it.")] = None


@dataclass(kw_only=True)
class EmailLogPage:
    items: list[EmailLogEntry]
    next_cursor: str | None


TemplateId = Literal[
    "password_reset_link", "new_password", "account_credentials", "password_changed"
]


@dataclass(kw_only=True)
class TemplateListing:
    template_id: TemplateId
    locale: Locale
    customised: bool


Subject = Annotated[str, MinLen(1), MaxLen(300)]
Body = Annotated[str, MinLen(1), MaxLen(5000)]


@dataclass(kw_only=True)
class TemplateIn:
    __pydantic_config__ = STRICT
    subject: Subject
    text: Body
    html: Body


@dataclass(kw_only=True)
class TemplateDraft:
    __pydantic_config__ = STRICT
    subject: Subject | None = None
    text: Body | None = None
    html: Body | None = None


@dataclass(kw_only=True)
class TemplateOut:
    template_id: TemplateId
    locale: Locale
    subject: str
    text: str
    html: str
    variables: list[str]
    customised: bool

    @classmethod
    def of(cls, template) -> TemplateOut:
        return cls(
            template_id=template.template_id,
            locale=template.locale,
            subject=template.subject,
            text=template.text,
            html=template.html,
            variables=template.variables,
            customised=template.customised,
        )


@dataclass(kw_only=True)
class RenderedOut:
    subject: str
    text: str
    html: str


# ---- storefront ---------------------------------------------------------------------------


@dataclass(kw_only=True)
class LoginIn:
    __pydantic_config__ = STRICT
    username: Annotated[str, MaxLen(320)]
    password: PasswordText


@dataclass(kw_only=True)
class LoginOut:
    token: Annotated[str, Describe("Send as `Authorization: Bearer <token>`.")]
    expires_at: str
    password_change_required: bool
    customers: list[LinkedCustomer]


@dataclass(kw_only=True)
class ForgotIn:
    __pydantic_config__ = STRICT
    email: EmailText


@dataclass(kw_only=True)
class Accepted:
    status: Literal["accepted"] = "accepted"
    detail: str = (
        "If an account uses this address, an email with a link to choose a new password "
        "is on its way."
    )


@dataclass(kw_only=True)
class LinkIn:
    __pydantic_config__ = STRICT
    token: Annotated[str, MinLen(1), MaxLen(512)]


@dataclass(kw_only=True)
class LinkValid:
    valid: Literal[True] = True


@dataclass(kw_only=True)
class ResetIn(LinkIn):
    password: PasswordText
    password_confirmation: PasswordText


@dataclass(kw_only=True)
class MeOut:
    username: str
    customers: list[LinkedCustomer]
    password_change_required: bool


@dataclass(kw_only=True)
class ChangePasswordIn:
    __pydantic_config__ = STRICT
    current_password: PasswordText
    new_password: PasswordText
    new_password_confirmation: PasswordText
