"""API Gateway (HTTP API, payload 2.0) in front of the real handlers, routes from template.yaml.

What a client sees is what API Gateway answers: `{"message":"Not Found"}` for a route that
does not exist (also for a known path with another method: HTTP APIs have no 405),
`{"message":"Unauthorized"}` when the route's authorizer refuses, and
`{"message":"Internal Server Error"}` when a handler raises. Handlers get the event API
Gateway would build: the raw path still URL-encoded, lower-cased headers, cookies apart,
repeated query keys comma-joined, the authorizer's output in requestContext.authorizer.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from local.lambdas import ACCOUNT_ID, Function, FunctionMissing
from local.template import Route

# API Gateway's own payload limit for HTTP APIs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


class Denied(Exception):
    """An authorizer refused the request: API Gateway answers this and skips the handler."""

    def __init__(self, status: int = 401, message: str = "Unauthorized") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# An authorizer gets the event being built (headers, path, requestContext...) and returns
# what API Gateway puts in requestContext.authorizer, or raises Denied.
# Keyed by the authorizer's name in template.yaml: "OperatorJwt" (local.operator_auth),
# and later e.g. "SessionAuthorizer", a Lambda REQUEST authorizer, whose callable would
# invoke the authorizer function and return {"lambda": <its context>}.
Authorizer = Callable[[dict], dict]


@dataclass
class Request:
    method: str
    target: str  # the request line's target: path and query exactly as received
    headers: list[tuple[str, str]]
    body: bytes
    client_ip: str
    host: str


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: object, content_type: str = "application/json") -> Reply:
        return cls(status, [("Content-Type", content_type)], json.dumps(payload).encode())

    @classmethod
    def message(cls, status: int, message: str) -> Reply:
        """API Gateway's own answers: {"message": "..."}."""
        body = json.dumps({"message": message}, separators=(",", ":")).encode()
        return cls(status, [("Content-Type", "application/json")], body)


LocalRoute = Callable[[Request], Reply]


def _specificity(route: Route) -> tuple:
    # API Gateway prefers the most specific route: literal segments before {params}.
    return tuple(segment.startswith("{") for segment in route.path.strip("/").split("/"))


class Gateway:
    """Turns an HTTP request into a Lambda invocation, and its result into the HTTP answer."""

    def __init__(
        self,
        routes: list[Route],
        functions: dict[str, Function],
        authorizers: dict[str, Authorizer],
        local_routes: dict[tuple[str, str], LocalRoute] | None = None,
        log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    ) -> None:
        self.routes = sorted(routes, key=_specificity)
        self.functions = functions
        self.authorizers = authorizers
        self.local_routes = local_routes or {}
        self.log = log

    def handle(self, request: Request) -> Reply:
        raw_path, raw_query = _split(request.target)
        local = self.local_routes.get((request.method, raw_path))
        if local is not None:
            return local(request)
        for route in self.routes:
            match = route.pattern.match(raw_path)
            if match and route.method in (request.method, "ANY"):
                return self._invoke(route, match.groupdict(), request, raw_path, raw_query)
        return Reply.message(404, "Not Found")

    def _invoke(
        self, route: Route, params: dict, request: Request, raw_path: str, raw_query: str
    ) -> Reply:
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return Reply.message(413, "Request Entity Too Large")
        event = build_event(route, params, request, raw_path, raw_query)
        if route.authorizer:
            authorizer = self.authorizers.get(route.authorizer)
            if authorizer is None:
                # Fail closed, and loudly: API Gateway answers 500 when it cannot authorize.
                self.log(
                    f"local gateway: authorizer {route.authorizer!r} of {route.method} "
                    f"{route.path} is not emulated: add it to the authorizers in local/__main__.py"
                )
                return Reply.message(500, "Internal Server Error")
            try:
                event["requestContext"]["authorizer"] = authorizer(event)
            except Denied as denied:
                return Reply.message(denied.status, denied.message)
        function = self.functions[route.function]
        try:
            result = function.invoke(event)
        except FunctionMissing as missing:
            self.log(f"local gateway: {missing}")
            return Reply.message(500, "Internal Server Error")
        except Exception:
            self.log(f"local gateway: {route.function} raised:\n{traceback.format_exc()}")
            return Reply.message(500, "Internal Server Error")
        try:
            return _reply_of(result, event["requestContext"]["requestId"])
        except (TypeError, ValueError) as error:
            self.log(f"local gateway: {route.function} returned a malformed response: {error}")
            return Reply.message(500, "Internal Server Error")


def _split(target: str) -> tuple[str, str]:
    """Path and query of a request target, untouched (still URL-encoded)."""
    if "://" in target:  # absolute-form, as proxies send it
        parts = urlsplit(target)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    target = target.split("#", 1)[0]
    path, _, query = target.partition("?")
    return path or "/", query


def _headers_of(request: Request) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-forwarded-for", request.client_ip)
    headers.setdefault("x-forwarded-proto", "http")
    return headers, cookies


def build_event(
    route: Route, params: dict, request: Request, raw_path: str, raw_query: str
) -> dict:
    """The payload format 2.0 event API Gateway sends for this request."""
    headers, cookies = _headers_of(request)
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    request_id = base64.b32encode(uuid.uuid4().bytes).decode()[:16]
    host = headers.get("host", request.host).split(":")[0]
    route_key = f"{route.method} {route.path}"
    event: dict = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": route.api.lower() or "local",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.client_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if request.body:
        try:
            event["body"] = request.body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    return event


def _reply_of(result: object, request_id: str) -> Reply:
    """API Gateway's reading of a payload 2.0 response."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # No statusCode: API Gateway takes the whole result as a JSON 200.
        reply = Reply.json(200, result)
        reply.headers.append(("apigw-requestid", request_id))
        return reply
    status = int(result["statusCode"])
    if not 100 <= status <= 599:
        raise ValueError(f"status {status}")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(name, str(value)) for value in values]
    headers += [("Set-Cookie", cookie) for cookie in result.get("cookies") or []]
    headers.append(("apigw-requestid", request_id))
    body = result.get("body") or ""
    if not isinstance(body, str):
        raise TypeError("body must be a string")
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return Reply(status, headers, data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "portal-accounts-local"
    gateway: Gateway  # set on the subclass made by serve()

    def _read_body(self) -> bytes | None:
        """The body, or None when it is too large to accept."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_PAYLOAD_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except ValueError:
            self._send(Reply.message(400, "Bad Request"))
            self.close_connection = True
            return
        if body is None:
            reply = Reply.message(413, "Request Entity Too Large")
            self.close_connection = True
        else:
            request = Request(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                client_ip=self.client_address[0],
                host=f"{self.server.server_address[0]}:{self.server.server_address[1]}",
            )
            try:
                reply = self.gateway.handle(request)
            except Exception:
                self.gateway.log(f"local gateway failed:\n{traceback.format_exc()}")
                reply = Reply.message(500, "Internal Server Error")
        self._send(reply)
        elapsed = (time.monotonic() - started) * 1000
        # Path only: no query (it may hold names), never bodies or Authorization.
        path = self.path.split("?", 1)[0]
        self.gateway.log(f"{self.command} {path} {reply.status} {elapsed:.0f}ms")

    def _send(self, reply: Reply) -> None:
        self.send_response_only(reply.status)
        self.send_header("Date", self.date_time_string())
        for name, value in reply.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request comes from _serve


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(gateway: Gateway, host: str, port: int) -> GatewayServer:
    """Bind the server (it accepts connections from here on); call serve_forever to answer."""
    handler = type("GatewayHandler", (_Handler,), {"gateway": gateway})
    return GatewayServer((host, port), handler)
