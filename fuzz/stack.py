"""The local stack (`python -m local`) as a subprocess on a free port, for the fuzzer.

The same steps as tests/integration/conftest.py (copied, not imported: the fuzzer is not a
test suite): a free port, output to files (nobody drains a pipe while schemathesis runs),
ready when /_local/operator-token answers, SIGTERM then SIGKILL to stop.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path: Path, chars: int = 20000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@dataclass
class LocalStack:
    base_url: str
    process: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    @classmethod
    def start(cls, logs: Path, environment: dict[str, str] | None = None) -> LocalStack:
        port = free_port()
        env = {key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL"}
        env.update(environment or {})
        env.update(PORT=str(port), PYTHONUNBUFFERED="1")
        stdout_path, stderr_path = logs / "stack-stdout.log", logs / "stack-stderr.log"
        with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=stdout, stderr=stderr
            )
        stack = cls(f"http://127.0.0.1:{port}", process, stdout_path, stderr_path)
        try:
            stack._wait()
        except BaseException:
            stack.stop()
            raise
        return stack

    def _wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise StackError(
                    f"the local stack exited with {self.process.returncode}:\n"
                    f"{tail(self.stderr_path)}"
                )
            try:
                if requests.get(f"{self.base_url}/_local/operator-token", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise StackError(
                    f"the local stack did not start in time:\n{tail(self.stderr_path)}"
                )
            time.sleep(0.2)

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
