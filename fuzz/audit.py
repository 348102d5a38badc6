"""A second look at every exchange of a run (schemathesis's HAR report) against the document.

schemathesis checks the answers to the cases it generates; a few of its own probes (an
undeclared Content-Type, a method the path does not have) only get the server-error check.
Here every answer to a documented operation must have a declared status and content type,
and a JSON body must match the declared schema; any 5xx is a failure wherever it comes from.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

from fuzz.known_bugs import bug_of_response

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@dataclass
class Audit:
    statuses: dict[str, Counter] = field(default_factory=dict)  # label -> status -> count
    findings: dict[str, int] = field(default_factory=dict)  # finding -> count
    tolerated: Counter = field(default_factory=Counter)  # known bug id -> answers
    exchanges: int = 0


def operations(document: dict) -> list[tuple[str, str, dict]]:
    """(METHOD, path template, operation) for every operation of the document."""
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


class Document:
    def __init__(self, document: dict) -> None:
        self.document = document
        self._paths = []
        for path in document["paths"]:
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"
            literal_first = tuple(s.startswith("{") for s in path.strip("/").split("/"))
            self._paths.append((literal_first, path, re.compile(regex)))
        self._paths.sort(key=lambda entry: entry[0])
        self._validators: dict[str, Draft202012Validator] = {}

    def operation(self, method: str, url_path: str) -> tuple[str, dict | None]:
        """The label of a request ('METHOD /template') and its operation, if documented."""
        for _, path, regex in self._paths:
            if regex.match(url_path):
                operation = self.document["paths"][path].get(method.lower())
                if operation is None:
                    return f"{method} {path} (no such operation)", None
                return f"{method} {path}", operation
        return f"{method} (no such path)", None

    def check(self, label: str, operation: dict, status: int, content_type: str, body: str):
        """What is wrong with this answer for the document, or None."""
        responses = operation.get("responses", {})
        declared = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        declared = declared or responses.get("default")
        if declared is None:
            return f"{label}: status {status} is not documented"
        media = content_type.split(";")[0].strip().lower()
        content = declared.get("content") or {}
        if not body:
            return (
                f"{label}: {status} has no body, documented {sorted(content)}" if content else None
            )
        if media not in content:
            documented = sorted(content) or "no body"
            return (
                f"{label}: {status} answered {media or 'no Content-Type'}, documented {documented}"
            )
        if media == "application/json" or media.endswith("+json"):
            try:
                payload = json.loads(body)
            except ValueError:
                return f"{label}: {status} {media} body is not JSON"
            schema = content[media].get("schema")
            error = (
                next(iter(self.validator(schema).iter_errors(payload)), None) if schema else None
            )
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                return (
                    f"{label}: {status} body does not match its schema at {where}: {error.message}"
                )
        return None

    def validator(self, schema: dict) -> Draft202012Validator:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            root = {**schema, "components": self.document.get("components", {})}
            self._validators[key] = Draft202012Validator(root)
        return self._validators[key]


def _text(content: dict) -> str:
    text = content.get("text") or ""
    if content.get("encoding") == "base64":
        return base64.b64decode(text).decode("utf-8", errors="replace")
    return text


def _header(headers: list[dict], name: str) -> str:
    return next((h["value"] for h in headers if h.get("name", "").lower() == name), "")


def audit(document: Document, har: dict, result: Audit | None = None) -> Audit:
    result = result or Audit()
    for entry in har.get("log", {}).get("entries", []):
        request, response = entry.get("request", {}), entry.get("response", {})
        method = request.get("method", "?")
        label, operation = document.operation(method, urlsplit(request.get("url", "")).path)
        status = int(response.get("status") or 0)
        result.exchanges += 1
        result.statuses.setdefault(label, Counter())[status] += 1
        content_type = _header(response.get("headers", []), "content-type")
        body = _text(response.get("content", {}))
        bug = bug_of_response(status, content_type, body)
        if bug is not None:
            result.tolerated[bug.id] += 1
            continue
        if status >= 500 or status == 0:
            finding = f"{label}: server error {status}: {body[:200]}"
        elif operation is None:
            continue  # another method or path: API Gateway's 404, not an operation's answer
        else:
            finding = document.check(label, operation, status, content_type, body)
        if finding:
            result.findings[finding] = result.findings.get(finding, 0) + 1
    return result
