"""The staged copy's root conftest (`make mutation` only): the fastest tests run first.

mutmut runs each mutant's tests with `-x`, so a mutant costs the tests that run before the
first one that fails. Its own order is whatever order it passes the test ids in; here the
test files run by their fastest test, and each file's tests by duration, from the
durations mutmut measured in its stats run (`mutmut-stats.json`, in the directory the
tests run from). A file's tests stay together, so its module-scoped fixtures (the
emulated AWS) are set up once per run, not once per switch between files.
"""

from __future__ import annotations

import json
from pathlib import Path


def _durations() -> dict[str, float]:
    stats = Path("mutmut-stats.json")
    if not stats.exists():  # the stats run itself, which measures them
        return {}
    return json.loads(stats.read_text()).get("duration_by_test", {})


def pytest_collection_modifyitems(items):
    durations = _durations()
    if not durations:
        return
    slowest = max(durations.values())

    def duration(item) -> float:
        return durations.get(item.nodeid, slowest)

    first_by_file: dict[str, float] = {}
    for item in items:
        path = item.nodeid.partition("::")[0]
        first_by_file[path] = min(first_by_file.get(path, slowest), duration(item))
    items.sort(key=lambda item: (first_by_file[item.nodeid.partition("::")[0]], duration(item)))
