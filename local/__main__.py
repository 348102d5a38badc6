"""`python -m local` (`make run`): the whole system on 127.0.0.1:$PORT, no AWS, no Docker.

1. Emulated DynamoDB, SQS and SES in this process (local.aws), with the tables and queues
   of template.yaml (local.resources).
2. The functions' environment from template.yaml, with local resource names; every setting
   the caller's environment sets wins (SPEC "Settings").
3. Both APIs on one port by the real handlers (local.gateway), operator routes behind the
   local JWT authorizer (local.operator_auth), and the queues drained into the functions
   they feed: the email queues into the sender, transactional first, the index repair
   queue into search_repair (local.email_worker).
Only here: GET /_local/operator-token (`?scope=` for fewer scopes), /_local/emails,
/_local/openapi.json, and POST /_local/clock ({"seconds": N}: the functions' clock moves
ahead, so a test sees a link expire without waiting for it).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from local import (
    aws,
    email_worker,
    lambda_authorizers,
    lambdas,
    mailbox,
    resources,
    ses_events,
    template,
)
from local.gateway import Gateway, Reply, Request, serve
from local.operator_auth import OperatorTokens

HOST = "127.0.0.1"
DEFAULT_PORT = 3000
OPENAPI_DOCUMENT = template.ROOT / "docs" / "openapi.json"
NO_STORE = ("Cache-Control", "no-store")


def function_environment(names: dict[str, str], base_url: str, caller: dict[str, str]) -> dict:
    """What template.yaml gives the functions, resolved locally.

    Variables bound to a resource (table names, queue URLs) always point at the local
    resources; every other variable is a setting, and the caller's value wins.
    """
    environment: dict[str, str] = {}
    for function in template.resources("AWS::Serverless::Function"):
        local_values = resources.environment(function, names)
        unbound_values = resources.environment(function, {})
        for key, value in local_values.items():
            if value != unbound_values.get(key):
                chosen = value  # a resource: the local one
            elif caller.get(key, "") != "":
                chosen = caller[key]
            elif key == "STOREFRONT_BASE_URL":
                chosen = base_url  # links in emails point at this stack
            elif key == "EMAIL_SENDERS":
                chosen = "1"  # one worker drains the sender's queues: it has the whole rate
            else:
                chosen = value
            if environment.get(key, chosen) != chosen:
                print(f"local: {key} differs between functions, using {chosen!r}", file=sys.stderr)
            environment[key] = chosen
    return environment


def _query(request: Request) -> dict[str, str]:
    return dict(parse_qsl(request.target.partition("?")[2], keep_blank_values=True))


def accepted_scopes() -> list[str]:
    """Every scope name the functions accept: OPERATOR_SCOPES, then OPERATOR_ADMIN_SCOPES."""
    from portal_accounts.config import get_settings  # after main() set the environment

    settings = get_settings()
    names = f"{settings.operator_scopes},{settings.operator_admin_scopes}".split(",")
    return [name.strip() for name in names if name.strip()]


def local_routes(tokens: OperatorTokens) -> dict:
    def operator_token(request: Request) -> Reply:
        """A token with every accepted scope, or `?scope=` (space-separated, as OAuth's
        scope parameter) for a narrower one; `?scope=` alone, a token with none."""
        query = _query(request)
        scope = query.get("scope")
        token = tokens.issue(
            subject=query.get("sub") or "local-operator",
            email=query.get("email") or "operator@local.test",
            scopes=accepted_scopes() if scope is None else scope.split(),
        )
        reply = Reply.json(200, {"token": token})
        reply.headers.append(NO_STORE)
        return reply

    def emails(_: Request) -> Reply:
        reply = Reply.json(200, mailbox.sent_emails())
        reply.headers.append(NO_STORE)
        return reply

    def openapi(_: Request) -> Reply:
        if not OPENAPI_DOCUMENT.is_file():
            return Reply.json(
                404,
                {
                    "type": "not_found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "docs/openapi.json is missing: run `make openapi`.",
                    "errors": [],
                },
                content_type="application/problem+json",
            )
        return Reply(200, [("Content-Type", "application/json")], OPENAPI_DOCUMENT.read_bytes())

    def advance_clock(request: Request) -> Reply:
        """POST {"seconds": N}: the functions' clock moves N seconds ahead (links expire,
        sessions idle out) without anyone waiting; only here, for tests and demos."""
        try:
            seconds = float(json.loads(request.body or b"{}")["seconds"])
            if not 0 <= seconds <= 400 * 86400:
                raise ValueError(seconds)
        except (KeyError, TypeError, ValueError):
            return Reply.message(400, 'Send {"seconds": N}, N from 0 to 400 days.')
        now = SHIFTED_CLOCK.advance(seconds)
        reply = Reply.json(200, {"now": now})
        reply.headers.append(NO_STORE)
        return reply

    return {
        ("GET", "/_local/operator-token"): operator_token,
        ("GET", "/_local/emails"): emails,
        ("GET", "/_local/openapi.json"): openapi,
        ("POST", "/_local/clock"): advance_clock,
    }


class ShiftedClock:
    """The real time plus what POST /_local/clock added: portal_accounts.clock's source."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> str:
        with self._lock:
            self.offset += timedelta(seconds=seconds)
        return self().isoformat()


SHIFTED_CLOCK = ShiftedClock()


def main() -> int:
    caller = dict(os.environ)
    # What Lambda puts on the path: the layer (shared/) and the functions' code.
    for path in (str(template.ROOT), str(template.ROOT / "shared")):
        if path not in sys.path:
            sys.path.insert(0, path)
    port = int(caller.get("PORT") or DEFAULT_PORT)
    # moto's werkzeug would log every AWS call; the gateway logs one line per request.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    emulated = aws.start()
    from portal_accounts import clock  # after the path has the layer

    clock._source = SHIFTED_CLOCK  # POST /_local/clock moves it
    names = resources.create_all()
    tokens = OperatorTokens.from_template()
    functions = lambdas.functions()
    gateway = Gateway(
        template.routes(),
        functions,
        # Authorizer name in template.yaml -> callable (see local.gateway.Authorizer):
        # the Lambda authorizers run the template's functions, JWTs are checked here.
        authorizers={
            **lambda_authorizers.from_template(functions),
            "OperatorJwt": tokens.authorize,
        },
        local_routes=local_routes(tokens),
    )
    try:
        server = serve(gateway, HOST, port)
    except OSError as error:
        print(f"local: cannot listen on {HOST}:{port}: {error}", file=sys.stderr)
        emulated.stop()
        return 1
    base_url = f"http://{HOST}:{server.server_address[1]}"

    # Before anything imports portal_accounts: its models read table names at import.
    os.environ.update(function_environment(names, base_url, caller))
    from portal_accounts.config import get_settings

    get_settings.cache_clear()
    mailbox.install()
    sender = os.environ.get("SENDER_EMAIL_ADDRESS") or template.parameter_defaults().get(
        "SenderEmailAddress", ""
    )
    mailbox.verify_sender(sender)

    workers = email_worker.start(functions, names)
    publisher = ses_events.start(functions, lambdas.region())  # the simulator's delivery events
    serving = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
    serving.start()

    # A plain flag, polled: a signal handler that takes a lock (Event.set) can deadlock.
    signals: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _: signals.append(signum))
    print(f"portal-accounts local stack on {base_url}", flush=True)
    # For tools run against this stack from another process (`make reindex`, README).
    print(f"local: emulated AWS on {emulated.endpoint_url}", file=sys.stderr, flush=True)
    while not signals:
        time.sleep(0.2)

    print("local: stopping", file=sys.stderr, flush=True)
    server.shutdown()
    server.server_close()
    for worker in workers:
        worker.stop()
    for worker in workers:
        worker.join(timeout=5)
    publisher.stop()
    publisher.join(timeout=5)
    emulated.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
