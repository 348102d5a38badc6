"""The local stack (`python -m local`) as a subprocess, and an HTTP client for it.

Everything here goes over HTTP, like any client of the deployed APIs: the tests see only
status codes, headers and bodies. One stack serves the whole session, so every test makes
its own customers (random names and emails) and never counts what it did not create.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
STRONG_PASSWORD = "violet tractor umbrella 42 canyon"
PROBLEM_JSON = "application/problem+json"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _output(path: Path) -> str:
    return path.read_text(errors="replace")[-20000:] if path.exists() else ""


@pytest.fixture(scope="session")
def local_stack(request):
    """Base URL of a running local stack; stopped when the session ends.

    Its output goes to a temporary folder, kept (and named on stderr) when a test failed.
    """
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL"}
    env.update(PORT=str(port), PYTHONUNBUFFERED="1")
    base_url = f"http://127.0.0.1:{port}"
    logs = Path(tempfile.mkdtemp(prefix="local-stack-"))
    stdout_path, stderr_path = logs / "stdout.log", logs / "stderr.log"
    # Files, not pipes: nobody drains a pipe while the tests run, and a full one blocks.
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=stdout, stderr=stderr
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"the local stack exited with {process.returncode}:\n{_output(stderr_path)}"
                )
            try:
                if requests.get(f"{base_url}/_local/operator-token", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the local stack did not start in time:\n{_output(stderr_path)}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if request.session.testsfailed:
            sys.stderr.write(f"\nlocal stack output kept in {logs}\n")
        else:
            shutil.rmtree(logs, ignore_errors=True)


class Client:
    """requests against the local stack, with the operator token when there is one."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    # ---- the seed flows' building blocks ------------------------------------------------

    def create_customer(self, **fields) -> dict:
        response = self.post("/operator/customers", json=fields)
        assert response.status_code == 201, response.text
        return response.json()

    def create_account(self, customer_id: str, **fields) -> dict:
        body = {"password": STRONG_PASSWORD, **fields}
        response = self.post(f"/operator/customers/{customer_id}/account", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def customer_with_account(self, last_name: str | None = None) -> tuple[dict, dict]:
        customer = self.create_customer(
            first_name="Giulia", last_name=last_name or random_name(), email=random_email()
        )
        return customer, self.create_account(customer["customer_id"])


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


def random_letters(count: int) -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(count))


def random_name() -> str:
    """A last name no other test uses: its first three letters are random."""
    return f"{random_letters(4).capitalize()}ello"


def random_email() -> str:
    return f"{random_letters(8)}.{random_letters(4)}@example.com"


def path(username: str) -> str:
    """A username as a path parameter: URL-encoded, @ as %40."""
    return quote(username, safe="")


def assert_problem(response: requests.Response, status: int, type_: str | None = None) -> dict:
    """An RFC 9457 problem document with the given status (and type)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(body)
    assert body["status"] == status
    assert isinstance(body["errors"], list)
    if type_ is not None:
        assert body["type"] == type_, body
    return body
