"""The per-username password-guess throttle, shared by logins and password changes.

Every check of a password typed by someone who might not be its owner (POST /auth/login,
the current password of PUT /me/password) first reserves an attempt here, with a
conditional write, so racing requests cannot all slip under the limit; then resolves it:

- right password: the record is deleted (with the caller's own writes);
- wrong password: the attempt stays counted as a failure (`pending` goes back down);
- a fault of ours or of AWS before the answer: the attempt is released, as if it had
  never been made, so a system fault never counts against the customer.

The record (one item per username, existing or not):

- `failures`: consecutive failures, counting the attempts in flight;
- `pending`: attempts in flight (reserved, not yet resolved);
- `locked_until`: no attempt before this moment. Set by the attempt that brings
  `failures` to LOGIN_MAX_FAILURES (so the next one waits, right password or not) and by
  every attempt after it, the window doubling from LOGIN_LOCK_BASE_SECONDS to
  LOGIN_LOCK_MAX_SECONDS;
- `locked_out`: LOGIN_LOCKOUT_FAILURES consecutive failures (NIST SP 800-63B's ceiling of
  100): no attempt at all until a reset by email or an operator unlocks it;
- `expires_at`: the TTL that forgets a quiet record (a day after the last attempt; a
  lockout is kept for LOCKOUT_MEMORY).

An attempt that finds the record blocked while other attempts are in flight waits for
them (a few short pauses): if they were right, they cleared the record and it goes ahead,
so correct logins in parallel never use up each other's budget; if they were wrong, it
is throttled. Waiting never lets an attempt through without its own reservation.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from portal_accounts.config import get_settings
from portal_accounts.dynamodb import BUSY, condition_failed, system_fault
from portal_accounts.errors import LockedOut, TemporarilyUnavailable, Throttled
from portal_accounts.models import ThrottleModel

MEMORY = timedelta(days=1)
LOCKOUT_MEMORY = timedelta(days=365)
# Pauses while waiting for attempts in flight (an argon2 verify takes tens of ms).
WAIT_PAUSES_SECONDS = (0.05, 0.1, 0.2, 0.4)
# Rounds of read-and-reserve when racing attempts keep moving the record.
MAX_ROUNDS = 8
_pause = time.sleep  # tests replace it

log = logging.getLogger(__name__)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def throttled(seconds: int) -> Throttled:
    return Throttled(
        f"Too many failed attempts: try again in {_plural(seconds, 'second')}, "
        "or reset the password.",
        retry_after=seconds,
    )


def locked_out() -> Throttled:
    """The answer once LOGIN_LOCKOUT_FAILURES failures in a row have locked the username.

    Still a 429 (with the longest delay as Retry-After): from the outside a lockout looks
    like throttling, for unknown usernames exactly as for accounts."""
    return LockedOut(
        "Too many failed attempts: this login is locked. Reset the password with "
        '"forgot password", or ask us to unlock it.',
        retry_after=get_settings().login_lock_max_seconds,
    )


def delay_after(failures: int) -> timedelta:
    """The wait after `failures` consecutive failures: none below LOGIN_MAX_FAILURES, then
    LOGIN_LOCK_BASE_SECONDS doubling with each further failure, up to the maximum."""
    settings = get_settings()
    over = failures - settings.login_max_failures
    if over < 0:
        return timedelta(0)
    seconds = settings.login_lock_base_seconds * 2 ** min(over, 32)
    return timedelta(seconds=min(seconds, settings.login_lock_max_seconds))


def _count(value: float | None) -> int:
    return int(value) if value is not None else 0


@dataclass
class Reservation:
    """One counted attempt, to resolve exactly once.

    `generation` names the record it was counted on (a right password deletes the record,
    and a later attempt makes a new one): resolving never touches another generation's
    counters, and never takes them below zero. `attempt` names this attempt alone: while
    it is the record's last, undoing it may put the lock back as it was."""

    key: str
    generation: str
    attempt: str
    # What the record was before this attempt, to put back if the attempt is released.
    locked_until_before: datetime | None
    set_lock: bool
    set_lockout: bool
    released: bool = False

    def succeeded(self, tx: TransactWrite) -> None:
        """The right password: forget every failure (in the caller's transaction)."""
        tx.delete(ThrottleModel(self.key))

    def record(self) -> ThrottleModel:
        """The right password: the record to delete with the caller's other writes (a
        BatchWriteItem), which forgets every failure."""
        return ThrottleModel(self.key)

    def cleared(self) -> None:
        """The right password, with nothing else to write: forget every failure."""
        ThrottleModel(self.key).delete()

    def failed(self, tx: TransactWrite) -> None:
        """A wrong password: the attempt stays counted, it is no longer in flight."""
        tx.update(
            ThrottleModel(self.key),
            actions=[ThrottleModel.pending.add(-1)],
            condition=(ThrottleModel.generation == self.generation) & (ThrottleModel.pending > 0),
        )

    def release(self) -> None:
        """A fault of ours or of AWS: undo the attempt. Best effort: if AWS refuses this
        too, the attempt stays counted (one per fault, never more)."""
        if self.released:
            return
        self.released = True
        if not _undo(self, ThrottleModel.last_attempt == self.attempt, restore_lock=True):
            _undo(self, ThrottleModel.generation == self.generation, restore_lock=False)


def _undo(attempt: Reservation, condition: Condition, *, restore_lock: bool) -> bool:
    """Take the attempt off the record if `condition` holds; whether it did."""
    actions: list[Action] = [ThrottleModel.failures.add(-1), ThrottleModel.pending.add(-1)]
    if restore_lock and attempt.set_lock:
        actions.append(
            ThrottleModel.locked_until.set(attempt.locked_until_before)
            if attempt.locked_until_before is not None
            else ThrottleModel.locked_until.remove()
        )
    if restore_lock and attempt.set_lockout:
        actions.append(ThrottleModel.locked_out.remove())
    try:
        ThrottleModel(attempt.key).update(
            actions=actions,
            condition=condition & (ThrottleModel.pending > 0) & (ThrottleModel.failures > 0),
        )
    except UpdateError as error:
        if not condition_failed(error):
            log.warning("could not release a login attempt: %s", system_fault(error))
        return False
    return True


def _read(key: str) -> ThrottleModel | None:
    try:
        return ThrottleModel.get(key, consistent_read=True)
    except ThrottleModel.DoesNotExist:
        return None


def reserve(key: str, record: ThrottleModel | None, now: datetime) -> Reservation:
    """Count an attempt for `key` before its password is checked, or raise Throttled.

    `record` is the throttle item as the caller read it (consistently), None if none."""
    settings = get_settings()
    waits = iter(WAIT_PAUSES_SECONDS)
    for _ in range(MAX_ROUNDS):
        failures = _count(record.failures) if record else 0
        pending = _count(record.pending) if record else 0
        locked_until = record.locked_until if record else None
        blocked: Throttled | None = None
        if record is not None and record.locked_out:
            blocked = locked_out()
        elif locked_until is not None and locked_until > now:
            blocked = throttled(retry_after(locked_until, now))
        if blocked is not None:
            pause = next(waits, None) if pending > 0 else None
            if pause is None:
                raise blocked
            _pause(pause)  # attempts in flight may clear it: ask again after a pause
            record = _read(key)
            continue
        after = failures + 1
        actions: list[Action] = [
            ThrottleModel.failures.add(1),
            ThrottleModel.pending.add(1),
        ]
        lockout = after >= settings.login_lockout_failures
        lock = delay_after(after)
        if lockout:
            actions += [
                ThrottleModel.locked_out.set(True),
                ThrottleModel.expires_at.set(now + LOCKOUT_MEMORY),
            ]
        else:
            actions.append(ThrottleModel.expires_at.set(now + MEMORY))
        if lock:
            actions.append(ThrottleModel.locked_until.set(now + lock))
        condition: Condition
        if not lock and not lockout:
            # Below the limit, racing attempts may all count at once, up to the limit.
            condition = ThrottleModel.failures.does_not_exist() | (
                ThrottleModel.failures < settings.login_max_failures - 1
            )
        elif record is None:
            condition = ThrottleModel.key.does_not_exist()
        else:
            # At or past the limit: exactly this state, so one attempt per window.
            condition = (ThrottleModel.failures == failures) & (
                ThrottleModel.locked_until.does_not_exist() | (ThrottleModel.locked_until <= now)
            )
        attempt = secrets.token_hex(8)
        actions += [
            ThrottleModel.last_attempt.set(attempt),
            ThrottleModel.generation.set(ThrottleModel.generation | secrets.token_hex(8)),
        ]
        reservation = Reservation(
            key=key,
            generation="",
            attempt=attempt,
            locked_until_before=locked_until,
            set_lock=bool(lock),
            set_lockout=lockout,
        )
        counted = ThrottleModel(key)
        try:
            counted.update(actions=actions, condition=condition)  # answers the item as written
        except UpdateError as error:
            if condition_failed(error):
                record = _read(key)  # another attempt moved it: decide again on what is there
                continue
            if system_fault(error) is None:
                raise  # not AWS's fault: a bug, and a 500
            # After a timeout the write may have landed: take it back if it did.
            _undo(reservation, ThrottleModel.last_attempt == attempt, restore_lock=True)
            raise TemporarilyUnavailable(BUSY) from None
        reservation.generation = str(counted.generation)
        return reservation
    # The record kept moving under us: busy, not the customer's doing.
    raise TemporarilyUnavailable(BUSY)


def state(key: str, now: datetime) -> tuple[datetime | None, bool]:
    """(locked until, locked out) for the operator's detail."""
    record = _read(key)
    if record is None:
        return None, False
    until = record.locked_until if record.locked_until and record.locked_until > now else None
    return until, bool(record.locked_out)
