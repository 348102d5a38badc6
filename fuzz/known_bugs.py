"""Bugs the fuzzer found in shared/ or functions/, left out of the run until they are fixed.

Each entry names the exact inputs it leaves out (`case`: schemathesis never sends them) or
the exact answers it tolerates (`response`: the audit of fuzz.audit does not count them),
so everything else stays checked. Remove an entry once its bug is fixed: the run must then
pass without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KnownBug:
    id: str
    summary: str
    # schemathesis Case -> True when the case would trigger the bug (it is not sent).
    case: Callable[[Any], bool] | None = None
    # (status, content type, body text) -> True when the answer is the bug's.
    response: Callable[[int, str, str], bool] | None = None


# None today. The three the fuzzer found first (a body that is not UTF-8 and multipart
# without a boundary answered 500; an unsupported content type answered Powertools' own 415
# shape) are fixed in portal_accounts.api.app and pinned by tests/unit/test_operator_bad_input.py.
KNOWN_BUGS: tuple[KnownBug, ...] = ()


def bug_of_case(case: Any) -> KnownBug | None:
    return next((bug for bug in KNOWN_BUGS if bug.case is not None and bug.case(case)), None)


def bug_of_response(status: int, content_type: str, body: str) -> KnownBug | None:
    return next(
        (
            bug
            for bug in KNOWN_BUGS
            if bug.response is not None and bug.response(status, content_type, body)
        ),
        None,
    )
