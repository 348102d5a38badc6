"""The customer's pages in a real browser (issue 11): Debian's Chromium, driven headless by
Playwright for Python, against the local stack, with axe-core checking each screen.

With PAGES_SCREENSHOTS=<folder> (`make screenshots`), each screen is saved there in both
languages: the pictures of docs/pages.md.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from playwright import sync_api as playwright_api

from tests.integration.clients import STRONG_PASSWORD, random_email, random_name

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "tests/browser/node_modules/axe-core/axe.min.js"
SHOTS = os.environ.get("PAGES_SCREENSHOTS")
NEW_PASSWORD = "girasole stanco sul balcone azzurro"
WAIT_SECONDS = 15

if not Path(CHROMIUM).exists() or not AXE.exists():  # pragma: no cover - `make test` installs
    pytest.fail(
        f"the browser tests need {CHROMIUM} and {AXE}: run them with `make test`, which "
        "installs both",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def context(browser):
    made = browser.new_context(locale="en-GB")
    yield made
    made.close()


def accessible(page) -> None:
    """axe-core (WCAG 2.0-2.2 A and AA rules) finds nothing on the page as it is."""
    page.evaluate(AXE.read_text())  # the devtools protocol's evaluate: not subject to CSP
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})"""
    )
    problems = [
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']]})"
        for v in result["violations"]
    ]
    assert problems == [], problems


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def emails_to(local_stack: str, address: str) -> list[dict]:
    emails = requests.get(f"{local_stack}/_local/emails", timeout=10).json()
    return [e for e in emails if (e["to"] or "").lower() == address.lower()]


def wait_for_link(local_stack: str, address: str, count: int = 1) -> str:
    """The link of the `count`-th email to the address (waiting for the sender)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = emails_to(local_stack, address)
        if len(found) >= count:
            match = re.search(
                r"(https?://\S+/reset-password\?token=[\w-]+)", found[count - 1]["text"]
            )
            assert match, found[count - 1]["text"]
            return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no email {count} to {address} within {WAIT_SECONDS}s")


def customer_with_login(api, locale: str = "en") -> str:
    customer = api.create_customer(
        first_name="Giulia", last_name=random_name(), email=random_email(), locale=locale
    )
    api.create_account(customer["customer_id"])
    return customer["email"]


def log_in(local_stack: str, username: str, password: str) -> int:
    return requests.post(
        f"{local_stack}/auth/login",
        json={"username": username, "password": password},
        timeout=10,
    ).status_code


def error_of(page, field: str) -> str:
    return page.locator(f"#{field}-error").inner_text().strip()


# ---- the whole path, with JavaScript --------------------------------------------------------


def test_forgot_then_the_link_then_a_new_password_in_the_browser(local_stack, api, context):
    username = customer_with_login(api)
    page = context.new_page()
    page.goto(f"{local_stack}/forgot-password")
    assert page.locator("html").get_attribute("lang") == "en"  # the browser's language
    accessible(page)
    shot(page, "forgot-en")
    page.get_by_label("Email address").fill(username)
    page.get_by_role("button", name="Send me the link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    accessible(page)
    shot(page, "forgot-sent-en")

    link = wait_for_link(local_stack, username)
    page.goto(link)
    page.get_by_role("heading", name="Choose a new password").wait_for()
    # The script took the token out of the address bar; the form still has it.
    assert "token" not in parse_qs(urlparse(page.url).query)
    accessible(page)
    shot(page, "reset-en")

    # Too short: checked in the page, announced next to the field, nothing sent.
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("Type the new password again").fill("short")
    page.get_by_role("button", name="Save the password").click()
    assert "at least 15 characters" in error_of(page, "password")
    assert page.locator("#password").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "password"
    accessible(page)
    shot(page, "reset-error-en")

    # Long enough but guessable: the server is the judge.
    page.get_by_label("New password", exact=True).fill("password" * 2)
    page.get_by_label("Type the new password again").fill("password" * 2)
    page.get_by_role("button", name="Save the password").click()
    page.wait_for_load_state()
    assert "too easy to guess" in error_of(page, "password")
    accessible(page)

    # The two fields differ: said at once, next to the second one.
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Type the new password again").fill(NEW_PASSWORD + " x")
    page.get_by_role("button", name="Save the password").click()
    assert error_of(page, "password_confirmation") == "The two passwords do not match."

    page.get_by_label("Type the new password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the password").click()
    page.get_by_role("heading", name="Password saved").wait_for()
    accessible(page)
    shot(page, "saved-en")
    assert page.get_by_role("link", name="Go to the portal").get_attribute("href")
    assert log_in(local_stack, username, NEW_PASSWORD) == 200


def test_without_javascript_the_server_checks_and_the_page_still_works(local_stack, api, browser):
    username = customer_with_login(api, locale="it")
    requests.post(f"{local_stack}/auth/password/forgot", json={"email": username}, timeout=10)
    link = wait_for_link(local_stack, username)
    context = browser.new_context(java_script_enabled=False, locale="it-IT")
    try:
        page = context.new_page()
        page.goto(link)
        page.get_by_role("heading", name="Scegli una nuova password").wait_for()
        assert "token=" in page.url  # no script took it out: it stays until the form posts
        shot(page, "reset-it")
        page.get_by_label("Nuova password", exact=True).fill("corta")
        page.get_by_label("Ripeti la nuova password").fill("corta")
        page.get_by_role("button", name="Salva la password").click()
        page.wait_for_load_state()
        assert "almeno 15 caratteri" in error_of(page, "password")
        assert page.get_by_role("alert").first.inner_text()  # the summary, announced
        # (axe-core needs scripts: the same HTML is checked with JavaScript on, above.)
        shot(page, "reset-error-it")
        page.get_by_label("Nuova password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Ripeti la nuova password").fill(NEW_PASSWORD + "!")
        page.get_by_role("button", name="Salva la password").click()
        page.wait_for_load_state()
        assert error_of(page, "password_confirmation") == "Le due password non coincidono."
        page.get_by_label("Nuova password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Ripeti la nuova password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Salva la password").click()
        page.get_by_role("heading", name="Password salvata").wait_for()
        shot(page, "saved-it")
    finally:
        context.close()
    assert log_in(local_stack, username, NEW_PASSWORD) == 200


# ---- links that no longer work --------------------------------------------------------------


def test_an_expired_link_shows_why_and_asks_for_a_new_email_there(local_stack, api, context):
    username = customer_with_login(api)
    requests.post(f"{local_stack}/auth/password/forgot", json={"email": username}, timeout=10)
    link = wait_for_link(local_stack, username)
    # The link's hour passes, on the stack's clock (nobody waits).
    moved = requests.post(f"{local_stack}/_local/clock", json={"seconds": 3601}, timeout=10)
    assert moved.status_code == 200
    page = context.new_page()
    page.goto(link)
    page.get_by_role("heading", name="This link is not valid any more").wait_for()
    assert "60 minutes" in page.locator("main").inner_text()
    accessible(page)
    shot(page, "invalid-en")
    page.get_by_role("button", name="Italiano").click()
    page.get_by_role("heading", name="Il link non è più valido").wait_for()
    accessible(page)
    shot(page, "invalid-it")
    # A new email, asked right there (a minute later than the last one, as the interval wants).
    page.get_by_label("Indirizzo email").fill(username)
    page.get_by_role("button", name="Mandami il link").click()
    page.get_by_role("heading", name="Controlla la tua email").wait_for()
    shot(page, "forgot-sent-it")
    fresh = wait_for_link(local_stack, username, count=2)
    assert fresh != link
    page.goto(fresh)
    page.get_by_role("heading", name="Choose a new password").wait_for()  # the account's


def test_two_tabs_submitting_one_link_give_one_success_and_one_not_valid(local_stack, api, context):
    username = customer_with_login(api)
    requests.post(f"{local_stack}/auth/password/forgot", json={"email": username}, timeout=10)
    link = wait_for_link(local_stack, username)
    first, second = context.new_page(), context.new_page()
    for tab in (first, second):
        tab.goto(link)
        tab.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        tab.get_by_label("Type the new password again").fill(NEW_PASSWORD)
    first.get_by_role("button", name="Save the password").click()
    first.get_by_role("heading", name="Password saved").wait_for()
    second.get_by_role("button", name="Save the password").click()
    second.get_by_role("heading", name="This link is not valid any more").wait_for()
    assert "works only once" in second.locator("main").inner_text()


# ---- the credentials email's link, the languages, a phone ---------------------------------


def test_the_credentials_email_link_chooses_a_first_password_on_a_phone(local_stack, api, browser):
    customer = api.create_customer(
        first_name="Anna", last_name=random_name(), email=random_email(), locale="it"
    )
    api.create_account(customer["customer_id"], password=STRONG_PASSWORD)
    sent = api.post(f"/operator/customers/{customer['customer_id']}/account/credentials-email")
    assert sent.status_code == 202, sent.text
    link = wait_for_link(local_stack, customer["email"])
    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    try:
        page = phone.new_page()
        page.goto(link)
        # The account's language (Italian) over the browser's.
        page.get_by_role("heading", name="Scegli la tua password").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no side scroll
        accessible(page)
        shot(page, "set-password-it")
        page.get_by_role("button", name="English").click()
        page.get_by_role("heading", name="Choose your password").wait_for()
        assert "token" not in parse_qs(urlparse(page.url).query)
        accessible(page)
        shot(page, "set-password-en")
        # Keyboard only: tab to each field, type, submit with Enter.
        page.locator("#password").focus()
        page.keyboard.type(NEW_PASSWORD)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "password_confirmation"
        page.keyboard.type(NEW_PASSWORD)
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Password saved").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        phone.close()
    assert log_in(local_stack, customer["email"], NEW_PASSWORD) == 200


def test_the_forgot_page_in_italian_and_the_focus_is_visible(local_stack, browser):
    context = browser.new_context(locale="it-IT")
    try:
        page = context.new_page()
        page.goto(f"{local_stack}/forgot-password")
        page.get_by_role("heading", name="Password dimenticata").wait_for()
        accessible(page)
        shot(page, "forgot-it")
        page.keyboard.press("Tab")  # the skip link first, then the field
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert page.evaluate("document.activeElement.id") == "email"
        assert outline != "none"
    finally:
        context.close()
