"""GET and POST /reset-password: choose a password with an emailed link (issue 11).

GET checks the link without using it (mail scanners and link previews open links first)
and shows the form: a reset link's ("choose a new password") or a credentials email's
set-password link ("choose your password"). POST uses it (recovery.reset_password: one
winner however many submit) and shows the success page, or the form again with each error
next to its field, or, for a link that is no longer good (expired, used, replaced, its
account changed), the seed's screen: the link is not valid any more, why, and a form to
ask for a new email right there. The token travels in the form's body, never in a
redirect; nothing logs it.
"""

from __future__ import annotations

from portal_accounts.config import get_settings
from portal_accounts.credentials import links
from portal_accounts.errors import InvalidInput, InvalidLink
from portal_accounts.models import linked_customers
from portal_accounts.pages.forgot import email_form
from portal_accounts.pages.web import Page, Request, chosen_locale, esc, words
from portal_accounts.signin import recovery

ROUTE = "reset-password"  # relative: the page works under any base path
FORGOT_ROUTE = "forgot-password"
MAX_TOKEN = 256


def render(request: Request) -> Page:
    token = request.value("token")
    if request.method == "POST":
        return _submit(request, token)
    return _show(request, token)


def _show(request: Request, token: str) -> Page:
    try:
        verified = links.verify(token[: MAX_TOKEN + 1])
    except InvalidLink:
        return invalid_link(chosen_locale(request))
    locale = chosen_locale(request, _account_locale(verified.account))
    return _form(locale, token, verified.token.purpose, verified.account.username)


def _submit(request: Request, token: str) -> Page:
    try:
        verified = links.verify(token[: MAX_TOKEN + 1])
    except InvalidLink:
        return invalid_link(chosen_locale(request))
    locale = chosen_locale(request, _account_locale(verified.account))
    purpose, username = verified.token.purpose, verified.account.username
    password = request.form.get("password", "")
    confirmation = request.form.get("password_confirmation", "")
    if not password:
        return _form(locale, token, purpose, username, {"password": "required"}, status=422)
    try:
        recovery.reset_password(token, password=password, confirmation=confirmation)
    except InvalidLink:  # used meanwhile (another tab, a double submit), or replaced
        return invalid_link(locale)
    except InvalidInput as refused:
        errors = {str(error.get("field")): str(error.get("reason")) for error in refused.errors}
        return _form(locale, token, purpose, username, _on_fields(errors), status=422)
    return _saved(locale)


def _on_fields(errors: dict[str, str]) -> dict[str, str]:
    """The domain's {field: reason} on the form's two fields."""
    shown: dict[str, str] = {}
    for field_name, reason in errors.items():
        target = "password_confirmation" if field_name == "password_confirmation" else "password"
        shown.setdefault(target, reason)
    return shown


def _account_locale(account) -> str | None:
    for entry in linked_customers(account).values():
        return entry.get("locale")
    return None


def _form(
    locale: str,
    token: str,
    purpose: str,
    username: str,
    errors: dict[str, str] | None = None,
    *,
    status: int = 200,
) -> Page:
    settings = get_settings()
    errors = errors or {}
    first_time = purpose == links.SET_PASSWORD
    title = words(locale, "set_title" if first_time else "reset_title")
    intro = words(locale, "set_intro" if first_time else "reset_intro", username=username)
    min_length = settings.password_min_length
    business = settings.business_name or "Portal"
    summary = (
        f'<p class="summary" role="alert">{words(locale, "errors_summary")}</p>' if errors else ""
    )
    fields = "".join(
        _field(
            locale, name, errors.get(name), min_length, autofocus=name == next(iter(errors), None)
        )
        for name in ("password", "password_confirmation")
    )
    body = (
        f"<p>{intro}</p>{summary}"
        f'<section aria-labelledby="rules-title"><h2 id="rules-title">'
        f'{words(locale, "rules_title")}</h2><ul id="rules">'
        f"<li>{words(locale, 'rule_length', min_length=min_length)}</li>"
        f"<li>{words(locale, 'rule_context', business=business)}</li>"
        f"<li>{words(locale, 'rule_common')}</li></ul></section>"
        f'<form method="post" action="{ROUTE}" class="password-form" novalidate'
        f' data-min-length="{min_length}"'
        f' data-too-short="{words(locale, "too_short", min_length=min_length)}"'
        f' data-mismatch="{words(locale, "mismatch")}"'
        f' data-required="{words(locale, "required")}">'
        f'<input type="hidden" name="token" value="{esc(token)}">'
        f'<input type="hidden" name="lang" value="{locale}">'
        # For password managers: the account the new password belongs to.
        f'<input type="text" name="username" value="{esc(username)}" autocomplete="username"'
        " hidden>"
        f"{fields}"
        f'<button type="submit">{words(locale, "save")}</button></form>'
    )
    return Page(status, locale, title, body, ROUTE, {"token": token})


def _field(locale: str, name: str, reason: str | None, min_length: int, *, autofocus: bool) -> str:
    error = words(locale, reason, min_length=min_length) if reason else ""
    described = f"{name}-error" + (" rules" if name == "password" else "")
    invalid = ' aria-invalid="true"' if reason else ""
    focus = " autofocus" if autofocus else ""
    return (
        f'<div class="field"><label for="{name}">{words(locale, name)}</label>'
        f'<input id="{name}" name="{name}" type="password" autocomplete="new-password"'
        f' required minlength="{min_length}" maxlength="1024"'
        f' aria-describedby="{described}"{invalid}{focus}>'
        f'<p id="{name}-error" class="error" aria-live="polite">{error}</p></div>'
    )


def _saved(locale: str) -> Page:
    portal = esc(get_settings().storefront_base_url)
    body = (
        f'<p role="status">{words(locale, "saved_body")}</p>'
        f'<p><a class="button" href="{portal}">{words(locale, "to_portal")}</a></p>'
    )
    return Page(200, locale, words(locale, "saved_title"), body, ROUTE)


def invalid_link(locale: str) -> Page:
    """The seed's screen: the address is not correct any more, why, and a new email."""
    settings = get_settings()
    reset_minutes = max(1, round(settings.reset_link_ttl_seconds / 60))
    set_hours = max(1, round(settings.set_password_link_ttl_seconds / 3600))
    body = (
        f"<p>{words(locale, 'invalid_body')}</p><ul>"
        f"<li>{words(locale, 'invalid_expired', reset_minutes=reset_minutes, set_hours=set_hours)}"
        f"</li><li>{words(locale, 'invalid_used')}</li>"
        f"<li>{words(locale, 'invalid_replaced')}</li></ul>"
        f"<p>{words(locale, 'invalid_ask')}</p>"
        f"{email_form(locale)}"
    )
    return Page(410, locale, words(locale, "invalid_title"), body, ROUTE)
