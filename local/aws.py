"""Emulated AWS (DynamoDB, SQS, SES) in this process: moto's server on a loopback port.

Requests are served one at a time behind a lock: DynamoDB makes every single write and
every transaction atomic, and moto alone does not, so without the lock two racing
conditional writes could both succeed here where AWS lets exactly one win.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "eu-south-1",
    "AWS_REGION": "eu-south-1",
}


class _Serialised:
    def __init__(self, app) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self._lock:
            # Read the whole answer inside the lock: moto may produce it lazily.
            return list(self._app(environ, start_response))


@dataclass
class EmulatedAws:
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def endpoint_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def start(port: int = 0) -> EmulatedAws:
    """Start moto on 127.0.0.1 and point this process's boto3/PynamoDB at it."""
    app = _Serialised(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    thread.start()
    emulated = EmulatedAws(server, thread)
    for key, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    os.environ["AWS_ENDPOINT_URL"] = emulated.endpoint_url
    return emulated
