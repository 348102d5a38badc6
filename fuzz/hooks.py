"""schemathesis hooks (SCHEMATHESIS_HOOKS): leave out the inputs of fuzz.known_bugs.

Loaded by `schemathesis run` in its own process; how many cases each bug left out goes to
the JSON file named by FUZZ_FILTERED_PATH when that process ends.

Also makes `ast.parse` one call at a time in that process. Hypothesis parses source files to
describe lambdas, from each of schemathesis's worker threads; CPython 3.11 keeps the AST
converter's recursion counter in interpreter-wide state, so two threads parsing at once can
fail with "SystemError: AST constructor recursion depth mismatch" (cpython#106905; seen
on Debian's 3.11.7 in CI).
"""

from __future__ import annotations

import ast
import atexit
import functools
import json
import os
import threading
from collections import Counter

import schemathesis

from fuzz.known_bugs import bug_of_case

FILTERED: Counter[str] = Counter()


def _one_at_a_time(parse):
    lock = threading.Lock()

    @functools.wraps(parse)
    def serialised(*args, **kwargs):
        with lock:
            return parse(*args, **kwargs)

    return serialised


ast.parse = _one_at_a_time(ast.parse)


@schemathesis.hook
def filter_case(context, case) -> bool:
    bug = bug_of_case(case)
    if bug is None:
        return True
    FILTERED[bug.id] += 1
    return False


@atexit.register
def _write_counts() -> None:
    path = os.environ.get("FUZZ_FILTERED_PATH")
    if path:
        with open(path, "w") as out:
            json.dump(dict(FILTERED), out)
