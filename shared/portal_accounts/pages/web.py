"""What every customer page shares: the request, the layout, the headers, the failures.

Pages are server-rendered HTML that works without JavaScript: a form posts to the page's
own route (application/x-www-form-urlencoded), and every answer is a whole page. One
module script (assets.py) adds inline checks and takes the token out of the address bar.

Security of every page (issue 11): a Content-Security-Policy that allows only this
origin's script and style and no inline code, frames or other form targets;
`Referrer-Policy: no-referrer` (a link's token is in its URL), `Cache-Control: no-store`,
`X-Frame-Options: DENY`. A failure of ours or of AWS is a page too, never a JSON body or
a stack trace; nothing of the request (a token, a password) is logged.
"""

from __future__ import annotations

import base64
import binascii
import html
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from portal_accounts import init_done
from portal_accounts.config import get_settings
from portal_accounts.dynamodb import system_fault
from portal_accounts.errors import TemporarilyUnavailable
from portal_accounts.observability import log_request, logger, observed
from portal_accounts.pages.text import LOCALES, NATIVE, TEXT

MAX_FORM_BYTES = 16 * 1024
FORM = "application/x-www-form-urlencoded"
HTML = "text/html; charset=utf-8"


class BadRequest(Exception):
    """The request cannot be read (a body that is not a form, not UTF-8, too large)."""


@dataclass
class Request:
    method: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]

    def value(self, name: str) -> str:
        """A field of the posted form, else of the query string ("" if neither)."""
        return self.form.get(name) or self.query.get(name) or ""


def request_of(event: dict) -> Request:
    http = (event.get("requestContext") or {}).get("http") or {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    query = {str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()}
    form: dict[str, str] = {}
    body = event.get("body") or ""
    if body:
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != FORM:
            raise BadRequest("not a form")
        try:
            raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else None
            text = raw.decode("utf-8") if raw is not None else body
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest("not UTF-8") from None
        if len(text.encode("utf-8", "surrogatepass")) > MAX_FORM_BYTES:
            raise BadRequest("too large")
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=20, errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("not a form") from None
        for name, value in pairs:
            form.setdefault(name, value)  # the first of a repeated field
    return Request(str(http.get("method", "GET")).upper(), query, form, headers)


# ---- language -------------------------------------------------------------------------------


def chosen_locale(request: Request, preferred: str | None = None) -> str:
    """The page's language: the switch (`lang`), else the account's (`preferred`), else
    the browser's Accept-Language, else DEFAULT_LOCALE."""
    asked = request.value("lang")
    if asked in LOCALES:
        return asked
    if preferred in LOCALES:
        return str(preferred)
    for tag in _accepted(request.headers.get("accept-language", "")):
        if tag in LOCALES:
            return tag
    default = get_settings().default_locale
    return default if default in LOCALES else LOCALES[0]


def _accepted(header: str) -> list[str]:
    """Accept-Language's primary tags, most wanted first."""
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, position, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


# ---- HTML -----------------------------------------------------------------------------------


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def words(locale: str, key: str, **values: object) -> str:
    """A text of the page, escaped, with its values (escaped too) filled in."""
    return TEXT[locale][key].format(**{name: esc(value) for name, value in values.items()})


@dataclass
class Page:
    status: int
    locale: str
    title: str
    body: str  # the main content, HTML
    # The language switch: the route and the hidden fields that keep the page's state
    # (a link's token), submitted with `lang`.
    switch_action: str = ""
    switch_fields: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _brand(settings: Any) -> str:
    name = esc(settings.business_name or "Portal")
    logo = ""
    if settings.logo_url:
        logo = f'<img class="logo" src="{esc(settings.logo_url)}" alt="" height="40">'
    return f'<header class="brand">{logo}<span class="business">{name}</span></header>'


def _switch(page: Page) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">'
        for k, v in page.switch_fields.items()
    )
    current = ' aria-current="true"'
    buttons = "".join(
        f'<button type="submit" name="lang" value="{code}" lang="{code}" class="link"'
        f"{current if code == page.locale else ''}>{NATIVE[code]}</button>"
        for code in LOCALES
    )
    return (
        f'<nav class="languages" aria-label="{words(page.locale, "language")}">'
        f'<form method="get" action="{esc(page.switch_action)}">{hidden}{buttons}</form></nav>'
    )


def document(page: Page) -> str:
    settings = get_settings()
    business = esc(settings.business_name or "Portal")
    return (
        "<!doctype html>"
        f'<html lang="{page.locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{page.title} · {business}</title>"
        '<link rel="stylesheet" href="pages/page.css">'
        '<script type="module" src="pages/page.js"></script>'
        "</head><body>"
        f'<a class="skip" href="#main">{words(page.locale, "skip")}</a>'
        f"{_brand(settings)}"
        f'<main id="main" tabindex="-1"><h1>{page.title}</h1>{page.body}</main>'
        f"<footer>{_switch(page)}</footer>"
        "</body></html>"
    )


def security_headers() -> dict[str, str]:
    images = "'self'"
    logo = get_settings().logo_url
    if logo:
        parts = urlsplit(logo)
        images += f" {parts.scheme}://{parts.netloc}"
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; "
            f"img-src {images}; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    }


def answer(page: Page) -> dict:
    return {
        "statusCode": page.status,
        "headers": {"Content-Type": HTML, **security_headers(), **page.headers},
        "body": document(page),
        "isBase64Encoded": False,
    }


def message_page(status: int, locale: str, title_key: str, text_key: str, **extra) -> Page:
    return Page(
        status,
        locale,
        words(locale, title_key),
        f'<p role="alert">{words(locale, text_key)}</p>',
        **extra,
    )


def page_handler(render: Callable[[Request], Page], *, route: str) -> Callable[[dict, Any], dict]:
    """The Lambda entry point of a page: every answer, failures included, is a page."""

    @observed
    def handler(event: dict, context: Any) -> dict:
        """The page, and its "request" line (observability.log_request)."""
        started = time.perf_counter()
        status = 500  # a bug that escaped even the failure page
        try:
            page = respond(event)
            status = page["statusCode"]
            return page
        finally:
            method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
            log_request(
                route=f"{method} /{route}", status=status, started=started, actor_type="anonymous"
            )

    def respond(event: dict) -> dict:
        locale = get_settings().default_locale
        if locale not in LOCALES:
            locale = LOCALES[0]
        try:
            request = request_of(event)
            locale = chosen_locale(request)
            return answer(render(request))
        except BadRequest as bad:
            logger.info("page request refused", extra={"route": route, "reason": str(bad)})
            return answer(
                message_page(400, locale, "broken_title", "bad_request", switch_action=route)
            )
        except Exception as error:
            code = system_fault(error.__cause__ or error) or (
                "busy" if isinstance(error, TemporarilyUnavailable) else None
            )
            if code is None:
                logger.exception("page failed", extra={"route": route})
                return answer(
                    message_page(500, locale, "broken_title", "broken", switch_action=route)
                )
            logger.warning("page unavailable", extra={"route": route, "error_code": code})
            return answer(
                message_page(
                    503,
                    locale,
                    "busy_title",
                    "busy",
                    switch_action=route,
                    headers={"Retry-After": "2"},
                )
            )

    init_done()  # the last step of the function's module (see portal_accounts/__init__)
    return handler
