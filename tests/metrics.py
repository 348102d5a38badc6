"""What the functions count, read as CloudWatch receives it: the EMF lines they print.

`observability.flush_metrics` prints one embedded-metric-format JSON line on stdout at the
end of every invocation that counted something (the Logger writes to the stream it found at
import, so logs never mix in). `captured()` redirects stdout while it lasts and parses
those lines:

    with captured() as emitted:
        shop.login(MARIO, WRONG)
    assert emitted.totals == {"LoginFailed": 1}
    [line] = emitted.documents  # one line for the one invocation

Whatever was counted before it starts is discarded; whatever is still counted when it ends
(counted outside any invocation, or by a function that does not flush) is flushed into it
and also named in `leftover`.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field

from portal_accounts import observability


@dataclass
class Emitted:
    output: io.StringIO = field(default_factory=io.StringIO)
    leftover: Counter[str] = field(default_factory=Counter)

    @property
    def documents(self) -> list[dict]:
        """Every EMF line printed, parsed, in order."""
        found = []
        for line in self.output.getvalue().splitlines():
            if line.startswith("{") and '"_aws"' in line:
                found.append(json.loads(line))
        return found

    @property
    def totals(self) -> Counter[str]:
        """Each metric's sum over every line."""
        return sum((values_of(document) for document in self.documents), Counter())


def metric_names(document: dict) -> list[str]:
    [directive] = document["_aws"]["CloudWatchMetrics"]
    return [metric["Name"] for metric in directive["Metrics"]]


def values_of(document: dict) -> Counter[str]:
    """A line's metrics and their values (a value list, as Powertools may write, summed)."""
    counted: Counter[str] = Counter()
    for name in metric_names(document):
        value = document[name]
        counted[name] += int(sum(value) if isinstance(value, list) else value)
    return counted


@contextmanager
def captured() -> Iterator[Emitted]:
    observability.flush_metrics()  # counted before: not this capture's (printed elsewhere)
    emitted = Emitted()
    with redirect_stdout(emitted.output):
        try:
            yield emitted
        finally:
            with observability._counts_lock:
                emitted.leftover.update(observability._counts)
            observability.flush_metrics()
