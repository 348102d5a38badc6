"""The customer's pages (issue 11), through their handlers: what a browser gets back.

The browser itself (JavaScript on and off, axe-core, a phone's width) is
tests/integration/test_pages_browser.py's; here each answer's status, headers and HTML.
"""

from __future__ import annotations

import logging
import re
from html import unescape
from urllib.parse import urlencode

import pytest

from functions.page_assets.app import handler as assets_handler
from functions.page_forgot_password.app import handler as forgot_page
from functions.page_reset_password.app import handler as reset_page
from portal_accounts.config import get_settings
from portal_accounts.pages import assets
from tests import faults
from tests.helpers import FakeContext, http_event
from tests.unit.clients import GOOD_PASSWORD, link_in, seed_account

MARIO = "mario.rossi@example.com"
NEW_PASSWORD = "girasole stanco sul balcone azzurro"


def get(handler, path: str, query: dict | None = None, headers: dict | None = None) -> dict:
    event = http_event("GET", path, query=query, headers=headers, claims=None)
    event["headers"].pop("content-type")
    return handler(event, FakeContext())


def post(handler, path: str, form: dict, headers: dict | None = None) -> dict:
    event = http_event(
        "POST",
        path,
        body=urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded", **(headers or {})},
        claims=None,
    )
    return handler(event, FakeContext())


def text(response: dict) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", " ", response["body"]))


def title(response: dict) -> str:
    return unescape(re.search(r"<h1>(.*?)</h1>", response["body"]).group(1))


def field_error(response: dict, field: str) -> str:
    found = re.search(rf'<p id="{field}-error"[^>]*>(.*?)</p>', response["body"])
    return unescape(found.group(1)) if found else ""


def reset_link(shop, postman, address=MARIO) -> str:
    assert shop.forgot(address)["statusCode"] == 202
    postman.drain()
    return link_in(postman.sent_to(address)[-1])[1]


def form(token: str, password: str = NEW_PASSWORD, confirmation: str | None = None, **extra):
    return {
        "token": token,
        "password": password,
        "password_confirmation": password if confirmation is None else confirmation,
        **extra,
    }


@pytest.fixture
def mario(clean_aws):
    return seed_account(MARIO, [("Mario", "Rossi")])


# ---- the page behind the link -------------------------------------------------------------


def test_the_link_opens_the_form_without_using_the_link(mario, shop, postman):
    token = reset_link(shop, postman)
    for _ in range(2):  # a mail scanner opened it first
        page = get(reset_page, "/reset-password", {"token": token, "lang": "en"})
        assert page["statusCode"] == 200, page
        assert page["headers"]["Content-Type"] == "text/html; charset=utf-8"
        assert title(page) == "Choose a new password"
    assert f'name="token" value="{token}"' in page["body"]  # in the form, for the POST
    assert "At least 15 characters" in text(page)
    saved = post(reset_page, "/reset-password", form(token, lang="en"))
    assert saved["statusCode"] == 200, saved
    assert title(saved) == "Password saved"
    assert f'href="{get_settings().storefront_base_url}"' in saved["body"]
    assert shop.login(MARIO, NEW_PASSWORD)["statusCode"] == 200


def test_every_page_carries_the_security_headers(mario, shop, postman):
    token = reset_link(shop, postman)
    pages = [
        get(reset_page, "/reset-password", {"token": token}),
        get(reset_page, "/reset-password", {"token": "nope"}),
        post(reset_page, "/reset-password", form(token, "short")),
        get(forgot_page, "/forgot-password"),
        post(forgot_page, "/forgot-password", {"email": MARIO}),
    ]
    for page in pages:
        headers = page["headers"]
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert "default-src 'none'" in csp and "form-action 'self'" in csp
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        # No inline script or style, nothing from another origin.
        assert "<script>" not in page["body"] and "<style" not in page["body"]
        assert " style=" not in page["body"] and not re.search(r"\son[a-z]+=", page["body"])
        assert re.findall(r'(?:src|href)="(https?:)?//', page["body"]) == []


def test_a_weak_or_mismatched_password_shows_the_error_next_to_its_field(mario, shop, postman):
    token = reset_link(shop, postman)
    short = post(reset_page, "/reset-password", form(token, "corta", lang="it"))
    assert short["statusCode"] == 422
    assert field_error(short, "password") == (
        "La password è troppo corta: servono almeno 15 caratteri."
    )
    assert 'id="password"' in short["body"] and 'aria-invalid="true" autofocus' in short["body"]
    named = post(reset_page, "/reset-password", form(token, "mario rossi mario rossi", lang="en"))
    assert "contains your name" in field_error(named, "password")
    common = post(reset_page, "/reset-password", form(token, "password" * 3, lang="en"))
    assert "too easy to guess" in field_error(common, "password")
    mismatch = post(
        reset_page, "/reset-password", form(token, NEW_PASSWORD, NEW_PASSWORD + "!", lang="en")
    )
    assert field_error(mismatch, "password_confirmation") == "The two passwords do not match."
    assert field_error(mismatch, "password") == ""
    reused = post(reset_page, "/reset-password", form(token, GOOD_PASSWORD, lang="en"))
    assert "already have" in field_error(reused, "password")
    # None of them used the link.
    assert post(reset_page, "/reset-password", form(token))["statusCode"] == 200


def test_a_used_link_shows_the_not_valid_screen_with_a_new_email_form(mario, shop, postman):
    token = reset_link(shop, postman)
    assert post(reset_page, "/reset-password", form(token, lang="en"))["statusCode"] == 200
    # The same form submitted again (a second tab, a double click): the seed's screen.
    again = post(reset_page, "/reset-password", form(token, lang="en"))
    assert again["statusCode"] == 410
    assert title(again) == "This link is not valid any more"
    assert "works only once" in text(again) and "only the newest link works" in text(again)
    assert 'action="forgot-password"' in again["body"] and 'name="email"' in again["body"]
    opened = get(reset_page, "/reset-password", {"token": token, "lang": "en"})
    assert (opened["statusCode"], title(opened)) == (410, "This link is not valid any more")


def test_an_expired_link_shows_the_not_valid_screen_in_italian_by_default(
    mario, shop, postman, frozen_clock
):
    token = reset_link(shop, postman)
    frozen_clock.advance(seconds=get_settings().reset_link_ttl_seconds)
    page = get(reset_page, "/reset-password", {"token": token})
    assert page["statusCode"] == 410
    assert title(page) == "Il link non è più valido"
    assert "60 minuti" in text(page)
    assert '<html lang="it">' in page["body"]


def test_a_set_password_link_asks_for_a_first_password(desk, operator, postman, shop):
    customer_id, username = desk.account_for("Anna", "Verdi", "anna.verdi@example.com")
    assert operator.send_credentials(customer_id)["statusCode"] == 202
    postman.drain()
    [email] = postman.sent_to(username)
    _, token = link_in(email)
    page = get(reset_page, "/reset-password", {"token": token, "lang": "en"})
    assert title(page) == "Choose your password"
    assert "Welcome!" in text(page)
    it = get(reset_page, "/reset-password", {"token": token, "lang": "it"})
    assert title(it) == "Scegli la tua password"
    assert post(reset_page, "/reset-password", form(token))["statusCode"] == 200
    assert shop.login(username, NEW_PASSWORD)["statusCode"] == 200


def test_the_language_is_the_accounts_then_the_browsers_then_the_default(desk, operator, postman):
    customer_id, username = desk.account_for("Emma", "Stone", "emma.stone@example.com", **{})
    desk.update_customer(customer_id, {"locale": "en"})
    assert operator.send_credentials(customer_id)["statusCode"] == 202
    postman.drain()
    _, token = link_in(postman.sent_to(username)[-1])
    # A valid link: the account's language, whatever the browser says.
    page = get(reset_page, "/reset-password", {"token": token}, {"accept-language": "it-IT"})
    assert '<html lang="en">' in page["body"]
    # No account to go by: the browser's first language we have, else DEFAULT_LOCALE.
    bad = get(
        reset_page, "/reset-password", {"token": "x"}, {"accept-language": "de, en;q=0.8, it;q=0.5"}
    )
    assert '<html lang="en">' in bad["body"]
    assert (
        '<html lang="it">'
        in get(forgot_page, "/forgot-password", {}, {"accept-language": "fr"})["body"]
    )
    # The switch wins, and keeps the link's token in its form (not in a link).
    switched = get(reset_page, "/reset-password", {"token": token, "lang": "it"})
    assert '<html lang="it">' in switched["body"]
    assert re.search(
        r'<nav class="languages"[^>]*><form method="get" action="reset-password">'
        rf'<input type="hidden" name="token" value="{token}">',
        switched["body"],
    )


def test_nothing_of_the_link_or_the_password_is_logged(mario, shop, postman, caplog):
    token = reset_link(shop, postman)
    with caplog.at_level(logging.DEBUG):
        get(reset_page, "/reset-password", {"token": token})
        post(reset_page, "/reset-password", form(token, "corta"))
        post(reset_page, "/reset-password", form(token))
        post(reset_page, "/reset-password", form(token))
    logged = caplog.text
    assert token not in logged and NEW_PASSWORD not in logged and "corta" not in logged


# ---- failures are pages --------------------------------------------------------------------


def test_a_busy_backend_is_a_readable_page_with_retry_after(mario, shop, postman):
    token = reset_link(shop, postman)
    with faults.failing("GetItem", "ThrottlingException", times=None):
        page = get(reset_page, "/reset-password", {"token": token, "lang": "en"})
    assert page["statusCode"] == 503
    assert page["headers"]["Retry-After"] and page["headers"]["Content-Type"].startswith(
        "text/html"
    )
    assert title(page) == "Service busy" and "try again in a moment" in text(page)
    with faults.failing("TransactWriteItems", "TransactionConflict", times=None):
        page = post(reset_page, "/reset-password", form(token, lang="en"))
    assert page["statusCode"] == 503 and title(page) == "Service busy"
    # The link was not used: it still works once AWS answers.
    assert post(reset_page, "/reset-password", form(token))["statusCode"] == 200


def test_a_body_that_is_not_a_form_is_a_400_page(clean_aws):
    event = http_event("POST", "/reset-password", body={"token": "x"}, claims=None)
    page = reset_page(event, FakeContext())
    assert page["statusCode"] == 400
    assert page["headers"]["Content-Type"].startswith("text/html")
    huge = post(forgot_page, "/forgot-password", {"email": "a" * 20000})
    assert huge["statusCode"] == 400


# ---- forgot password -----------------------------------------------------------------------


def test_forgot_answers_the_same_page_whatever_the_address(mario, postman):
    known = post(forgot_page, "/forgot-password", {"email": MARIO, "lang": "en"})
    unknown = post(forgot_page, "/forgot-password", {"email": "nobody@example.com", "lang": "en"})
    assert known["statusCode"] == unknown["statusCode"] == 200
    assert title(known) == title(unknown) == "Check your email"
    assert text(known).replace(MARIO, "X") == text(unknown).replace("nobody@example.com", "X")
    postman.drain()
    assert [e["to"] for e in postman.sent()] == [MARIO]
    [email] = postman.sent()
    assert "/reset-password?token=" in email["text"]


def test_forgot_with_a_bad_address_shows_the_error_next_to_the_field(clean_aws):
    page = post(forgot_page, "/forgot-password", {"email": "not-an-address", "lang": "en"})
    assert page["statusCode"] == 422
    assert field_error(page, "email").startswith("Type a valid email address")
    assert 'value="not-an-address"' in page["body"]
    empty = post(forgot_page, "/forgot-password", {"email": "", "lang": "it"})
    assert field_error(empty, "email").startswith("Scrivi un indirizzo email valido")


# ---- where links point, and the assets ----------------------------------------------------


def test_the_emails_link_to_password_page_url_when_a_storefront_hosts_its_own(
    mario, shop, postman, monkeypatch
):
    monkeypatch.setenv("PASSWORD_PAGE_URL", "https://shop.palestra.example/account/password")
    get_settings.cache_clear()
    try:
        assert shop.forgot(MARIO)["statusCode"] == 202
        postman.drain()
        [email] = postman.sent_to(MARIO)
        assert "https://shop.palestra.example/account/password?token=" in email["text"]
    finally:
        monkeypatch.delenv("PASSWORD_PAGE_URL")
        get_settings.cache_clear()


def test_the_stylesheet_and_script_are_served_with_their_types():
    css = get(assets_handler, "/pages/page.css")
    assert (css["statusCode"], css["headers"]["Content-Type"]) == (200, "text/css; charset=utf-8")
    assert assets.DEFAULT_ACCENT in css["body"]
    js = get(assets_handler, "/pages/page.js")
    assert js["headers"]["Content-Type"] == "text/javascript; charset=utf-8"
    assert "history.replaceState" in js["body"]
    assert get(assets_handler, "/pages/other.js")["statusCode"] == 404


@pytest.mark.parametrize("accent", ["#ffd400", "#0b5cad", "#222222", "#7fdbff"])
def test_any_accent_colour_keeps_text_readable(accent, monkeypatch):
    monkeypatch.setenv("ACCENT_COLOR", accent)
    get_settings.cache_clear()
    try:
        css = assets.stylesheet()
    finally:
        monkeypatch.delenv("ACCENT_COLOR")
        get_settings.cache_clear()
    on_accent = re.search(r"background: #\w+; color: (#\w+);", css).group(1)
    assert assets.contrast(accent, on_accent) >= 4.5
    link = re.search(r"a \{ color: (#\w+); \}", css).group(1)
    assert assets.contrast(link, "#ffffff") >= 4.5


def test_a_notice_the_queue_refuses_still_saves_the_password(mario, shop, postman, operator):
    """The "password changed" notice is queued after the change: a queue that refuses it
    leaves the new password in place, the success page, and the log saying so."""
    token = reset_link(shop, postman)
    with faults.failing("SendMessage", "ThrottlingException", service="sqs", times=None):
        saved = post(reset_page, "/reset-password", form(token, lang="en"))
    assert (saved["statusCode"], title(saved)) == (200, "Password saved")
    assert shop.login(MARIO, NEW_PASSWORD)["statusCode"] == 200
    notice = operator.emails(MARIO)["json"]["items"][0]
    assert (notice["template_id"], notice["status"]) == ("password_changed", "failed")
