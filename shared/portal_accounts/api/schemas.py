"""Request and response models of the operator API: the OpenAPI document comes from these."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonValue

from portal_accounts import clock
from portal_accounts.models import AccountModel, CustomerModel, linked_customers

Locale = Literal["it", "en"]
AccountStatus = Literal["active", "disabled"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# Passwords are taken as typed: length is checked by the policy (with a clear reason),
# here only a hard ceiling against abuse.
PasswordText = Annotated[str, Field(max_length=1024)]
EmailText = Annotated[str, Field(max_length=320, json_schema_extra={"format": "email"})]


class Schema(BaseModel):
    # Built when first used, not at import: each function uses a few of these models,
    # and building the rest would only slow its cold start.
    model_config = ConfigDict(defer_build=True)


class Strict(Schema):
    model_config = ConfigDict(extra="forbid", defer_build=True)


# ---- requests -----------------------------------------------------------------------------


def _strict_with_example(**example: JsonValue) -> ConfigDict:
    """A request model's config with one example body for the OpenAPI document."""
    return ConfigDict(extra="forbid", defer_build=True, json_schema_extra={"examples": [example]})


class CustomerCreate(Strict):
    model_config = _strict_with_example(
        first_name="Ada", last_name="Lovelace", email="ada.lovelace@example.com", locale="en"
    )

    first_name: Name
    last_name: Name
    email: EmailText | None = None
    locale: Locale = "it"


class CustomerPatch(Strict):
    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailText | None = None
    locale: Locale | None = None


class AccountCreate(Strict):
    password: PasswordText
    temporary: bool = True
    send_credentials_email: bool = False


class AccountAssociate(Strict):
    username: EmailText


class PasswordSet(Strict):
    password: PasswordText
    password_confirmation: PasswordText
    temporary: bool = True


# ---- responses ----------------------------------------------------------------------------


class AccountRef(Schema):
    username: str
    status: AccountStatus


class CustomerOut(Schema):
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


class LinkedCustomer(Schema):
    customer_id: str
    first_name: str
    last_name: str


def _linked(account: AccountModel) -> list[LinkedCustomer]:
    return [
        LinkedCustomer(customer_id=cid, first_name=e["first_name"], last_name=e["last_name"])
        for cid, e in linked_customers(account).items()
    ]


class AccountSummary(Schema):
    username: str
    status: AccountStatus
    customers: list[LinkedCustomer]
    last_login_at: str | None

    @classmethod
    def of(cls, account: AccountModel) -> AccountSummary:
        return cls(
            username=account.username,
            status=cast(AccountStatus, account.status),
            customers=_linked(account),
            last_login_at=clock.iso(account.last_login_at),
        )


class AccountOut(AccountSummary):
    created_at: str
    password_changed_at: str
    password_change_required: bool = Field(
        description="The password is temporary: it must be changed at the next login."
    )
    password_expires_at: str | None
    locked_until: str | None = Field(
        None, description="Logins are throttled until then (failed attempts)."
    )

    @classmethod
    def of(cls, account: AccountModel, locked_until=None) -> AccountOut:
        return cls(
            **AccountSummary.of(account).model_dump(),
            created_at=clock.iso(account.created_at),
            password_changed_at=clock.iso(account.password_changed_at),
            password_change_required=bool(account.password_temporary),
            password_expires_at=clock.iso(account.password_expires_at)
            if account.password_temporary
            else None,
            locked_until=clock.iso(locked_until),
        )


class EventActor(Schema):
    type: Literal["operator", "customer", "system"]
    id: str | None
    email: str | None


class AuditEventOut(Schema):
    at: str
    action: str
    actor: EventActor
    target: str | None
    details: dict


class AccountDetail(AccountOut):
    recent_events: list[AuditEventOut]


class AccountPage(Schema):
    items: list[AccountSummary]
    next_cursor: str | None


class EventPage(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None


Limit = Annotated[int, Field(ge=1, le=100)]


# ---- email --------------------------------------------------------------------------------


class Queued(Schema):
    status: Literal["queued"] = "queued"


class PasswordReset(Strict):
    mode: Literal["temporary_password", "reset_link"] = "temporary_password"


class EmailLogEntry(Schema):
    template_id: str
    to: str
    status: Literal["queued", "sent", "failed"]
    queued_at: str
    sent_at: str | None
    error: str | None


class EmailLogPage(Schema):
    items: list[EmailLogEntry]
    next_cursor: str | None


TemplateId = Literal[
    "password_reset_link", "new_password", "account_credentials", "password_changed"
]


class TemplateListing(Schema):
    template_id: TemplateId
    locale: Locale
    customised: bool


Subject = Annotated[str, Field(min_length=1, max_length=300)]
Body = Annotated[str, Field(min_length=1, max_length=5000)]


class TemplateIn(Strict):
    subject: Subject
    text: Body
    html: Body


class TemplateDraft(Strict):
    subject: Subject | None = None
    text: Body | None = None
    html: Body | None = None


class TemplateOut(Schema):
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


class RenderedOut(Schema):
    subject: str
    text: str
    html: str


# ---- storefront ---------------------------------------------------------------------------


class LoginIn(Strict):
    username: Annotated[str, Field(max_length=320)]
    password: PasswordText


class LoginOut(Schema):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: str
    password_change_required: bool
    customers: list[LinkedCustomer]


class ForgotIn(Strict):
    email: EmailText


class Accepted(Schema):
    status: Literal["accepted"] = "accepted"
    detail: str = (
        "If an account uses this address, an email with a link to choose a new password "
        "is on its way."
    )


class LinkIn(Strict):
    token: Annotated[str, Field(min_length=1, max_length=512)]


class LinkValid(Schema):
    valid: Literal[True] = True


class ResetIn(LinkIn):
    password: PasswordText
    password_confirmation: PasswordText


class MeOut(Schema):
    username: str
    customers: list[LinkedCustomer]
    password_change_required: bool


class ChangePasswordIn(Strict):
    current_password: PasswordText
    new_password: PasswordText
    new_password_confirmation: PasswordText
