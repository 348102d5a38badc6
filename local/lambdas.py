"""Run the template's functions in this process, the way Lambda runs them.

Each function's module is imported once, on its first call, and its handler then serves
every invocation, several at once from the gateway's and the workers' threads. Lambda
would give each concurrent invocation its own execution environment; one module is enough
here because no function keeps a request in module state (the dispatcher,
portal_accounts.api.app, hands each route function its arguments). The layer's own state
(its clients, the Logger, the metrics counted) is one per process, shared by every
function here as it always was: thread-safe, though under concurrent requests a log
line's correlation id or an EMF line's counts may be another invocation's.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from local import template

# moto's default account: the one the emulated resources live in.
ACCOUNT_ID = "123456789012"


class FunctionMissing(Exception):
    """The template names a function whose code does not exist (yet)."""


def region() -> str:
    """The region the emulated functions run in, from the environment as Lambda sets it."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")


class LambdaContext:
    """The attributes and method of Lambda's context object that handlers and Powertools use."""

    def __init__(self, function_name: str, memory_mb: int, timeout_seconds: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        arn = f"arn:aws:lambda:{region()}:{ACCOUNT_ID}:function:{function_name}"
        self.invoked_function_arn = arn
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _setting(function: dict, name: str, default: int) -> int:
    globals_ = template.load().get("Globals", {}).get("Function", {})
    value = function["Properties"].get(name, globals_.get(name, default))
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else default


@dataclass
class Function:
    """One AWS::Serverless::Function of the template."""

    logical_id: str
    module: str  # functions.<folder>.app
    handler_name: str  # the attribute the template's Handler points at
    memory_mb: int = 1024
    timeout_seconds: int = 10
    _handler: Callable[[dict, LambdaContext], object] | None = field(default=None, repr=False)

    @classmethod
    def from_template(cls, logical_id: str, resource: dict) -> Function:
        handler = template.handler_of(resource)
        return cls(
            logical_id=logical_id,
            module=template.module_of(resource),
            handler_name=handler.rsplit(".", 1)[-1],
            memory_mb=_setting(resource, "MemorySize", 1024),
            timeout_seconds=_setting(resource, "Timeout", 10),
        )

    def exists(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False

    def handler(self) -> Callable[[dict, LambdaContext], object]:
        """The handler, its module imported on the first call (Python's import lock makes
        concurrent first calls wait for one import)."""
        if self._handler is None:
            if not self.exists():
                raise FunctionMissing(f"{self.logical_id}: there is no module {self.module}")
            module = importlib.import_module(self.module)
            self._handler = getattr(module, self.handler_name)
        return self._handler

    def invoke(self, event: dict) -> object:
        """Call the handler with the event; its exceptions propagate to the caller."""
        context = LambdaContext(self.logical_id, self.memory_mb, self.timeout_seconds)
        return self.handler()(event, context)


def functions() -> dict[str, Function]:
    """Every function of the template, by logical id."""
    return {
        logical_id: Function.from_template(logical_id, resource)
        for logical_id, resource in template.resources("AWS::Serverless::Function").items()
    }
