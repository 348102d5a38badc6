"""GET /pages/{asset} (issue 11): the customer pages' stylesheet and module script."""

from urllib.parse import unquote

from portal_accounts import init_done
from portal_accounts.pages.assets import ASSETS, content


def handler(event: dict, context: object) -> dict:
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


init_done()
