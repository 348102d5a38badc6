"""What the functions log, captured as the text CloudWatch would receive.

The functions' Powertools logger prints JSON to the stdout it found at import and does not
propagate, so neither caplog nor capsys sees it: `captured()` listens to it directly (at
DEBUG, its most verbose, so even a debug line cannot leak) with its own JSON formatter,
and to the root logger, where botocore, PynamoDB and the rest propagate, at INFO, the
level Lambda runs them at.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from portal_accounts.observability import logger as app_logger


@dataclass
class Logs:
    lines: list[str] = field(default_factory=list)  # each record: its line and all its fields
    records: list[dict] = field(default_factory=list)  # the functions' JSON lines, parsed

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class _Listener(logging.Handler):
    def __init__(self, logs: Logs, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.DEBUG)
        self.logs = logs
        self.json_formatter = formatter

    def emit(self, record: logging.LogRecord) -> None:
        fields = json.dumps(record.__dict__, default=str)
        line = record.getMessage()
        if self.json_formatter is not None:
            line = self.json_formatter.format(record)
            self.logs.records.append(json.loads(line))
        self.logs.lines.append(f"{line} {fields}")


@contextmanager
def captured(*, root_level: int = logging.INFO) -> Iterator[Logs]:
    logs = Logs()
    functions = logging.getLogger(app_logger.service)
    root = logging.getLogger()
    ours = _Listener(logs, app_logger.registered_formatter)
    theirs = _Listener(logs, None)
    saved = functions.level, root.level
    functions.addHandler(ours)
    functions.setLevel(logging.DEBUG)
    root.addHandler(theirs)
    root.setLevel(root_level)
    try:
        yield logs
    finally:
        functions.removeHandler(ours)
        root.removeHandler(theirs)
        functions.setLevel(saved[0])
        root.setLevel(saved[1])
