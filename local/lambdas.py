"""Run the template's functions in this process, the way Lambda runs them.

Lambda gives every concurrent invocation its own execution environment, and handlers rely
on it: the router (portal_accounts.api.app) keeps the current event, a module-level object.
So each function here keeps a pool of module instances, and a call borrows one that no
other call is using (importing a fresh copy when all are busy), just as Lambda scales out.
Modules are imported lazily, on the first call.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType

from local import template

# moto's default account: the one the emulated resources live in.
ACCOUNT_ID = "123456789012"


class FunctionMissing(Exception):
    """The template names a function whose code does not exist (yet)."""


class LambdaContext:
    """The attributes and method of Lambda's context object that handlers and Powertools use."""

    def __init__(self, function_name: str, memory_mb: int, timeout_seconds: int) -> None:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
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
    _idle: list[ModuleType] = field(default_factory=list, repr=False)
    _instances: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_template(cls, logical_id: str, resource: dict) -> Function:
        handler = resource["Properties"].get("Handler", "app.handler")
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

    def _load(self) -> ModuleType:
        if not self.exists():
            raise FunctionMissing(f"{self.logical_id}: there is no module {self.module}")
        with self._lock:
            self._instances += 1
            number = self._instances
        if number == 1:
            return importlib.import_module(self.module)
        # Another execution environment: a separate copy of the handler module (the
        # portal_accounts layer stays shared, like the interpreter's site-packages).
        spec = importlib.util.find_spec(self.module)
        assert spec is not None and spec.origin is not None
        name = f"{self.module}__instance{number}"
        copy = importlib.util.spec_from_file_location(name, spec.origin)
        assert copy is not None and copy.loader is not None
        module = importlib.util.module_from_spec(copy)
        sys.modules[name] = module
        copy.loader.exec_module(module)
        return module

    @contextmanager
    def _instance(self) -> Iterator[ModuleType]:
        with self._lock:
            module = self._idle.pop() if self._idle else None
        if module is None:
            module = self._load()
        try:
            yield module
        finally:
            with self._lock:
                self._idle.append(module)

    def invoke(self, event: dict) -> object:
        """Call the handler with the event; its exceptions propagate to the caller."""
        with self._instance() as module:
            handler = getattr(module, self.handler_name)
            context = LambdaContext(self.logical_id, self.memory_mb, self.timeout_seconds)
            return handler(event, context)


def functions() -> dict[str, Function]:
    """Every function of the template, by logical id."""
    return {
        logical_id: Function.from_template(logical_id, resource)
        for logical_id, resource in template.resources("AWS::Serverless::Function").items()
    }
