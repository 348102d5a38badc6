"""The local stack (`python -m local`) as a subprocess on a free port: started, waited for,
stopped. The integration tests (tests/integration/conftest.py) and the fuzzer (fuzz/) both
start it with `LocalStack.start`.

- A free port, and the environment of the caller without AWS_ENDPOINT_URL (the stack starts
  its own moto server).
- Its output goes to files in `logs` (stack-stdout.log, stack-stderr.log), not pipes: nobody
  drains a pipe while the tests or schemathesis run, and a full one blocks the stack.
- Ready when GET /_local/operator-token answers; StackError, with the end of its stderr,
  when it exits first or is not ready in START_TIMEOUT_SECONDS.
- `stop`: SIGTERM, then SIGKILL after 10 s.
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
    """The local stack exited, or did not answer in time."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path: Path, chars: int = 20000) -> str:
    """The end of a log file ("" when there is none)."""
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@dataclass
class LocalStack:
    base_url: str
    process: subprocess.Popen
    stdout_path: Path
    stderr_path: Path

    @classmethod
    def start(cls, logs: Path, environment: dict[str, str] | None = None) -> LocalStack:
        """A running stack, its output in `logs`; `environment` is added to the caller's."""
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
        """Stopped (SIGTERM, then SIGKILL after 10 s); its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
