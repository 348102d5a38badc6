"""GET and POST /forgot-password: ask for a reset link by email (issue 11).

The page a storefront's "forgot password" button can link to, and the form the
link-not-valid screen embeds. Whatever the address, the answer is the same page ("if it
is the address of an account, we sent a link"): it tells no one which addresses have
accounts. The request is recovery.request_reset's, as POST /auth/password/forgot's.
"""

from __future__ import annotations

from portal_accounts.config import get_settings
from portal_accounts.errors import InvalidInput
from portal_accounts.pages.web import Page, Request, chosen_locale, esc, words
from portal_accounts.signin import recovery

ROUTE = "forgot-password"
MAX_EMAIL = 320


def render(request: Request) -> Page:
    locale = chosen_locale(request)
    if request.method != "POST":
        body = f"<p>{words(locale, 'forgot_intro')}</p>{email_form(locale)}"
        return Page(200, locale, words(locale, "forgot_title"), body, ROUTE)
    email = request.form.get("email", "").strip()
    try:
        if not email or len(email) > MAX_EMAIL:
            raise InvalidInput("no email")
        recovery.request_reset(email)
    except InvalidInput:
        body = f"<p>{words(locale, 'forgot_intro')}</p>{email_form(locale, email, invalid=True)}"
        return Page(422, locale, words(locale, "forgot_title"), body, ROUTE)
    minutes = max(1, round(get_settings().reset_link_ttl_seconds / 60))
    body = (
        f'<p role="status">{words(locale, "sent_body", email=email, reset_minutes=minutes)}</p>'
        f"<p>{words(locale, 'sent_spam')}</p>"
    )
    return Page(200, locale, words(locale, "sent_title"), body, ROUTE)


def email_form(locale: str, value: str = "", *, invalid: bool = False) -> str:
    error = words(locale, "email_invalid") if invalid else ""
    state = ' aria-invalid="true" autofocus' if invalid else ""
    return (
        f'<form method="post" action="{ROUTE}" class="email-form" novalidate>'
        f'<input type="hidden" name="lang" value="{locale}">'
        f'<div class="field"><label for="email">{words(locale, "email")}</label>'
        f'<input id="email" name="email" type="email" autocomplete="email" required'
        f' maxlength="{MAX_EMAIL}" value="{esc(value)}" aria-describedby="email-error"{state}>'
        f'<p id="email-error" class="error" aria-live="polite">{error}</p></div>'
        f'<button type="submit">{words(locale, "send")}</button></form>'
    )
