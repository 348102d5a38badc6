"""Every function's init on Lambda: garbage collection paused during it, and back after.

portal_accounts/__init__ pauses the cyclic collector while a function's module loads on
Lambda; each function module must end with init_done(), or its execution environment
would never collect cyclic garbage again.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.cold_start import lambda_environment
from local import template

FUNCTIONS = template.resources("AWS::Serverless::Function")

PROBE = """
import gc, json
import portal_accounts
paused_during_init = not gc.isenabled()
import {module}
print(json.dumps({{
    "paused_during_init": paused_during_init,
    "enabled_after": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}}))
"""


def _probe(module: str, env: dict[str, str]) -> dict:
    completed = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", PROBE.format(module=module)],
        env=env,
        cwd=template.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_on_lambda_each_function_collects_garbage_again_once_loaded(function):
    module = template.module_of(FUNCTIONS[function])
    state = _probe(module, lambda_environment(function))
    assert state["paused_during_init"], "init is not faster on Lambda"
    assert state["enabled_after"], f"{module} does not end with init_done()"
    assert state["frozen"] > 10_000  # init's objects, out of every later collection


def test_elsewhere_collection_is_never_paused():
    env = lambda_environment("AuthLoginFunction")
    del env["AWS_EXECUTION_ENV"], env["AWS_LAMBDA_FUNCTION_NAME"]
    state = _probe("portal_accounts.models", env)
    assert not state["paused_during_init"]
    assert state["enabled_after"] and state["frozen"] == 0
