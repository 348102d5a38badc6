"""The one source of "now", so tests can move time instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import overload

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _source()


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: datetime | None) -> str | None: ...


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, the API's timestamp format."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def precise(moment: datetime) -> str:
    """ISO 8601 UTC to the microsecond: sorts as text in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sortable_id(moment: datetime, suffix: str) -> str:
    """An id that sorts by time (to the microsecond), for newest-first range keys."""
    return f"{precise(moment)}#{suffix}"


class FrozenClock:
    """A clock for tests: stands still until advanced."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@contextmanager
def frozen(clock: FrozenClock | None = None) -> Iterator[FrozenClock]:
    global _source
    clock = clock or FrozenClock()
    previous, _source = _source, clock
    try:
        yield clock
    finally:
        _source = previous
