"""What a route returns when 200 with a JSON body is not the answer."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Response(Generic[T]):
    """A status, and a body of type T (a schema dataclass, a list, text) or none.

    `Response[AccountOut]` in a route's signature names the body for the OpenAPI document.
    """

    def __init__(
        self,
        status_code: int,
        content_type: str | None = None,
        body: T | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.content_type = content_type
        self.body = body
        self.headers = headers or {}
