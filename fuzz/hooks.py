"""schemathesis hooks (SCHEMATHESIS_HOOKS): leave out the inputs of fuzz.known_bugs.

Loaded by `schemathesis run` in its own process; how many cases each bug left out goes to
the JSON file named by FUZZ_FILTERED_PATH when that process ends.
"""

from __future__ import annotations

import atexit
import json
import os
from collections import Counter

import schemathesis

from fuzz.known_bugs import bug_of_case

FILTERED: Counter[str] = Counter()


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
