"""Domain errors. Each knows its HTTP status; portal_accounts.api.problems maps them once."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    type = "about:blank"
    title = "Bad request"
    # Seconds after which trying again makes sense (the Retry-After header), if any.
    retry_after: int | None = None

    def __init__(self, detail: str, *, errors: list[dict] | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra


class NotFound(DomainError):
    status = 404
    type = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "Conflict"


class UsernameTaken(Conflict):
    type = "username_taken"
    title = "Username already taken"


class CustomerAlreadyLinked(Conflict):
    type = "customer_already_linked"
    title = "Customer already has an account"


class TooManyCustomers(Conflict):
    type = "too_many_customers"
    title = "The account has as many customers as it may"


class InvalidInput(DomainError):
    """A well-formed request that the domain refuses (422)."""

    status = 422
    type = "validation_error"
    title = "Invalid input"


class NoValidEmail(InvalidInput):
    type = "customer_email_missing"
    title = "Customer has no valid email"


class WeakPassword(InvalidInput):
    type = "weak_password"
    title = "Password refused"


class PasswordMismatch(InvalidInput):
    type = "password_mismatch"
    title = "Passwords do not match"


class PasswordReused(InvalidInput):
    """A customer's new password equal to the current one: it would make a temporary
    (emailed or operator-known) password permanent."""

    type = "password_reused"
    title = "Password already in use"

    def __init__(
        self,
        detail: str = "The new password must be different from the current one.",
        **kwargs: object,
    ) -> None:
        super().__init__(detail, **kwargs)  # type: ignore[arg-type]


class InvalidLink(DomainError):
    status = 410
    type = "invalid_or_expired_link"
    title = "This link is not valid any more"


class AuthenticationFailed(DomainError):
    status = 401
    type = "unauthorized"
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    type = "forbidden"
    title = "Forbidden"


class MalformedBody(DomainError):
    status = 400
    type = "malformed_json"
    title = "Malformed JSON"


class BodyTooLarge(DomainError):
    status = 413
    type = "body_too_large"
    title = "Body too large"


class UnsupportedMediaType(DomainError):
    status = 415
    type = "unsupported_media_type"
    title = "Unsupported media type"


class Throttled(DomainError):
    status = 429
    type = "too_many_requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class LockedOut(Throttled):
    """A 429 like any other for the client (locked and unknown usernames alike): the
    username is locked until a reset or an unlock, not waiting out a delay. Its own class
    so that what counts attempts (the login's metrics) tells it apart without reading
    its message."""


class TemporarilyUnavailable(DomainError):
    """DynamoDB kept refusing a read (throttling): the client should retry shortly."""

    status = 503
    type = "temporarily_unavailable"
    title = "Temporarily unavailable"

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
