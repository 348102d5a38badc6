"""Fixtures for the integration tests: the local stack (`python -m local`) as a subprocess,
operator tokens from its issuer, and clients of it (tests/integration/clients.py).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from local.launch import LocalStack, StackError
from tests.integration.clients import Client


@pytest.fixture(scope="session")
def local_stack(request):
    """Base URL of a running local stack; stopped when the session ends.

    Its output goes to a temporary folder, kept (and named on stderr) when a test failed.
    """
    logs = Path(tempfile.mkdtemp(prefix="local-stack-"))
    try:
        stack = LocalStack.start(logs)
    except StackError as error:
        sys.stderr.write(f"\nlocal stack output kept in {logs}\n")
        pytest.fail(str(error))
    try:
        yield stack.base_url
    finally:
        stack.stop()
        if request.session.testsfailed:
            sys.stderr.write(f"\nlocal stack output kept in {logs}\n")
        else:
            shutil.rmtree(logs, ignore_errors=True)


@pytest.fixture(scope="session")
def token_for(local_stack) -> Callable[..., str]:
    """An operator token from the local issuer: every scope the stack accepts, or only
    `scope` (space-separated names; "" for a token without any)."""

    def issue(scope: str | None = None) -> str:
        params = {} if scope is None else {"scope": scope}
        response = requests.get(f"{local_stack}/_local/operator-token", params=params, timeout=10)
        assert response.status_code == 200
        return response.json()["token"]

    return issue


@pytest.fixture(scope="session")
def operator_token(token_for) -> str:
    return token_for()


@pytest.fixture
def api(local_stack, operator_token) -> Client:
    return Client(local_stack, operator_token)


@pytest.fixture
def anonymous(local_stack) -> Client:
    return Client(local_stack, None)
