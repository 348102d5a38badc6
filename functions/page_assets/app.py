"""GET /pages/{asset} (issue 11): the customer pages' stylesheet and module script.

No Powertools here: the function serves two static files ahead of every page's first
paint, and the Logger's import would multiply its cold start (docs/decisions.md). Its
"request" line has the same fields as every other function's, written with the standard
library (the route, the status, the latency, the requestId as correlation_id).
"""

import json
import os
import sys
import time
from urllib.parse import unquote

from portal_accounts import init_done
from portal_accounts.pages.assets import ASSETS, content

ROUTE = "GET /pages/{asset}"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "portal-accounts"


def _answer(event: dict) -> dict:
    name = unquote(str(event.get("rawPath") or "").rsplit("/", 1)[-1])
    if name not in ASSETS:
        return {
            "statusCode": 404,
            "headers": {
                "Content-Type": "text/plain; charset=utf-8",
                "X-Content-Type-Options": "nosniff",
            },
            "body": "Not found",
        }
    return {
        "statusCode": 200,
        "headers": {
            "Content-Type": ASSETS[name],
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
        },
        "body": content(name),
    }


def handler(event: dict, context: object) -> dict:
    started = time.perf_counter()
    answer = _answer(event)
    line = {
        "level": "INFO",
        "message": "request",
        "service": SERVICE,
        "function_name": getattr(context, "function_name", None),
        "correlation_id": (event.get("requestContext") or {}).get("requestId"),
        "route": ROUTE,
        "status": answer["statusCode"],
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        "actor_type": "anonymous",
    }
    print(json.dumps(line), file=sys.stdout, flush=True)
    return answer


init_done()
