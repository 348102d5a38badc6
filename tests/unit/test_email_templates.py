"""F6: the operators' email templates — list, read, save, validate, preview, revert — and
how their placeholders render (escaped in HTML, single-line subjects, no code)."""

from __future__ import annotations

import pytest

from functions.operator_preview_template.app import handler as preview_handler
from portal_accounts.config import get_settings
from portal_accounts.email.defaults import DEFAULTS, VARIABLES
from portal_accounts.email.rendering import render, render_subject
from portal_accounts.models import AuditEventModel
from tests.helpers import OPERATOR_CLAIMS, call
from tests.unit.clients import seed_account

IDS = ("password_reset_link", "new_password", "account_credentials", "password_changed")
LOCALES = ("it", "en")
MARIO = "mario.rossi@example.com"

VALID_CREDENTIALS = {
    "subject": "Benvenuto {{ first_name }} da {{business_name}}",
    "text": "Utente {{ username }}, portale {{ portal_url }}. Imposta: {{ link }}",
    "html": '<p>Utente <b>{{ username }}</b></p><a href="{{ link }}">imposta</a>',
}


def body_of(html: str) -> str:
    """The rendered body of an email's HTML document (the part a template writes)."""
    assert html.startswith("<!doctype html><html lang=")
    return html.split("<body", 1)[1].split(">", 1)[1].removesuffix("</body></html>")


def errors_of(response) -> list[dict]:
    assert response["statusCode"] == 422, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    return response["json"]["errors"]


# ---- list and read -----------------------------------------------------------------------


def test_list_has_every_id_in_both_languages_none_customised(operator):
    response = operator.templates()
    assert response["statusCode"] == 200
    listed = {(t["template_id"], t["locale"]): t["customised"] for t in response["json"]}
    assert len(response["json"]) == 8
    assert listed == {(t, loc): False for t in IDS for loc in LOCALES}


def test_get_returns_the_shipped_default_with_its_variables(operator):
    for template_id in IDS:
        for locale in LOCALES:
            response = operator.template(template_id, locale)
            assert response["statusCode"] == 200, (template_id, locale)
            body = response["json"]
            default = DEFAULTS[(template_id, locale)]
            assert body["subject"] == default["subject"]
            assert body["text"] == default["text"]
            assert body["html"] == default["html"]
            assert body["customised"] is False
            assert set(body["variables"]) == set(VARIABLES[template_id])
    assert "link" in operator.template("account_credentials", "it")["json"]["variables"]
    assert "password" in operator.template("new_password", "en")["json"]["variables"]


# ---- save --------------------------------------------------------------------------------


def test_put_saves_and_get_and_list_show_it_customised(operator):
    response = operator.put_template("account_credentials", "it", VALID_CREDENTIALS)
    assert response["statusCode"] == 200, response
    assert response["json"]["customised"] is True
    assert response["json"]["subject"] == VALID_CREDENTIALS["subject"]

    read = operator.template("account_credentials", "it")["json"]
    assert read["customised"] is True
    assert {k: read[k] for k in ("subject", "text", "html")} == VALID_CREDENTIALS
    # Only that one, not its other language.
    assert operator.template("account_credentials", "en")["json"]["customised"] is False
    listed = {
        (t["template_id"], t["locale"]): t["customised"] for t in operator.templates()["json"]
    }
    assert [key for key, customised in listed.items() if customised] == [
        ("account_credentials", "it")
    ]


def test_the_sender_uses_the_saved_template(operator, postman, frozen_clock):
    account = seed_account(MARIO, [("Mario", "Rossi")])
    [customer_id] = list(account.customers.as_dict())
    assert (
        operator.put_template("account_credentials", "it", VALID_CREDENTIALS)["statusCode"] == 200
    )
    assert operator.send_credentials(customer_id)["statusCode"] == 202
    postman.drain()
    [email] = postman.sent_to(MARIO)
    assert email["subject"] == "Benvenuto Mario da Palestra Aurora"
    assert email["text"].startswith(f"Utente {MARIO}, portale http://127.0.0.1:3000. Imposta: ")
    assert "/reset-password?token=" in email["text"]
    assert body_of(email["html"]).startswith(f"<p>Utente <b>{MARIO}</b></p>")


def test_put_with_an_unknown_variable_is_422_naming_it(operator):
    draft = dict(VALID_CREDENTIALS, text=VALID_CREDENTIALS["text"] + " {{ coupon_code }}")
    errors = errors_of(operator.put_template("account_credentials", "it", draft))
    assert {"field": "text", "reason": "unknown variable coupon_code"} in errors
    assert len(errors) == 1
    # Nothing was saved.
    assert operator.template("account_credentials", "it")["json"]["customised"] is False


def test_a_variable_of_another_template_is_unknown_here(operator):
    # {{ password }} belongs to new_password only: a credentials email must never carry it.
    draft = dict(VALID_CREDENTIALS, html=VALID_CREDENTIALS["html"] + "{{ password }}")
    errors = errors_of(operator.put_template("account_credentials", "en", draft))
    assert errors == [{"field": "html", "reason": "unknown variable password"}]


@pytest.mark.parametrize(
    ("template_id", "part", "variable"),
    [
        ("password_reset_link", "text", "link"),
        ("password_reset_link", "html", "link"),
        ("account_credentials", "text", "link"),
        ("account_credentials", "html", "link"),
        ("new_password", "text", "password"),
        ("new_password", "html", "password"),
    ],
)
def test_a_missing_required_variable_is_422(operator, template_id, part, variable):
    parts = {k: DEFAULTS[(template_id, "en")][k] for k in ("subject", "text", "html")}
    parts[part] = "Hello {{ first_name }}, nothing else here."
    errors = errors_of(operator.put_template(template_id, "en", parts))
    assert errors == [{"field": part, "reason": f"required variable {variable} is missing"}]
    assert operator.template(template_id, "en")["json"]["customised"] is False


def test_the_subject_needs_no_link_and_password_changed_needs_nothing(operator):
    minimal = {"subject": "Password", "text": "Changed.", "html": "<p>Changed.</p>"}
    assert operator.put_template("password_changed", "en", minimal)["statusCode"] == 200
    parts = dict(DEFAULTS[("password_reset_link", "en")], subject="Reset")
    assert operator.put_template("password_reset_link", "en", parts)["statusCode"] == 200


@pytest.mark.parametrize(
    "broken",
    [
        "Open {{ link",
        "Open {{ link }} }}",
        "Open link }} now {{ link }}",
        "Open {{ link }} {{ }}",
        "Open {{ link }} {{ first name }}",
    ],
)
def test_bad_syntax_is_422(operator, broken):
    draft = dict(VALID_CREDENTIALS, text=broken)
    errors = errors_of(operator.put_template("account_credentials", "it", draft))
    assert any(e["field"] == "text" and "syntax" in e["reason"] for e in errors), errors


def test_placeholders_cannot_reach_code(operator):
    for attempt, expected in [
        ("{{ __class__ }}", "unknown variable __class__"),
        ("{{ __import__ }}", "unknown variable __import__"),
    ]:
        draft = dict(VALID_CREDENTIALS, subject=attempt)
        errors = errors_of(operator.put_template("account_credentials", "it", draft))
        assert errors == [{"field": "subject", "reason": expected}]
    for attempt in ("{{ first_name.__class__ }}", "{{ 7*7 }}", "{{ first_name|upper }}"):
        draft = dict(VALID_CREDENTIALS, subject=attempt)
        errors = errors_of(operator.put_template("account_credentials", "it", draft))
        assert [e["field"] for e in errors] == ["subject"], attempt
    # Other template languages' syntax is just text: shown as typed, never run.
    draft = dict(VALID_CREDENTIALS, text="{% for x in range(3) %} {{ link }} {% endfor %} ${7*7}")
    rendered = operator.preview("account_credentials", "it", draft)
    assert rendered["statusCode"] == 200
    assert rendered["json"]["text"] == (
        "{% for x in range(3) %} http://127.0.0.1:3000/reset-password?token=SAMPLE-TOKEN"
        " {% endfor %} ${7*7}"
    )


def test_put_refuses_missing_and_unknown_fields(operator):
    errors = errors_of(operator.put_template("account_credentials", "it", {"subject": "x"}))
    assert {e["field"] for e in errors} == {"text", "html"}
    errors = errors_of(
        operator.put_template("account_credentials", "it", dict(VALID_CREDENTIALS, footer="x"))
    )
    assert [e["field"] for e in errors] == ["footer"]


# ---- revert ------------------------------------------------------------------------------


def test_delete_reverts_to_the_default(operator):
    operator.put_template("account_credentials", "en", VALID_CREDENTIALS)
    response = operator.delete_template("account_credentials", "en")
    assert response["statusCode"] == 204
    assert not response.get("body")
    read = operator.template("account_credentials", "en")["json"]
    assert read["customised"] is False
    assert read["subject"] == DEFAULTS[("account_credentials", "en")]["subject"]
    assert not any(t["customised"] for t in operator.templates()["json"])
    # Reverting what is already the default answers the same.
    assert operator.delete_template("account_credentials", "en")["statusCode"] == 204


# ---- unknown templates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template_id", "locale"),
    [("welcome", "it"), ("new_password", "fr"), ("new_password", "IT"), ("x", "y")],
)
def test_unknown_template_or_language_is_404_everywhere(operator, template_id, locale):
    answers = [
        operator.template(template_id, locale),
        operator.put_template(template_id, locale, VALID_CREDENTIALS),
        operator.delete_template(template_id, locale),
        operator.preview(template_id, locale, {"subject": "Hi"}),
    ]
    for response in answers:
        assert response["statusCode"] == 404, response
        assert response["headers"]["Content-Type"] == "application/problem+json"
    assert not any(t["customised"] for t in operator.templates()["json"])


# ---- preview -----------------------------------------------------------------------------


def test_preview_renders_a_draft_with_sample_values_without_saving(operator):
    draft = {
        "subject": "Ciao {{ first_name }}\n da {{ business_name }}",
        "text": "{{ username }}: {{ link }} ({{ link_valid_hours }}h)",
        "html": "<p>{{ first_name }}</p><a href='{{ link }}'>x</a>",
    }
    response = operator.preview("account_credentials", "it", draft)
    assert response["statusCode"] == 200, response
    # The deployment's own business name and storefront links (tests/conftest.py: BUSINESS_NAME
    # "Palestra Aurora", STOREFRONT_BASE_URL the default), sample customer values.
    rendered = response["json"]
    assert rendered["subject"] == "Ciao Maria da Palestra Aurora"
    assert rendered["text"] == (
        "maria.rossi@example.com: http://127.0.0.1:3000/reset-password?token=SAMPLE-TOKEN (72h)"
    )
    assert body_of(rendered["html"]) == (
        "<p>Maria</p><a href='http://127.0.0.1:3000/reset-password?token=SAMPLE-TOKEN'>x</a>"
    )
    assert operator.template("account_credentials", "it")["json"]["customised"] is False


def test_preview_uses_this_deployments_name_and_storefront(operator, monkeypatch):
    monkeypatch.setenv("BUSINESS_NAME", "Club Nuoto Riva")
    monkeypatch.setenv("STOREFRONT_BASE_URL", "https://shop.clubnuoto.example/")
    get_settings.cache_clear()
    try:
        draft = {"subject": "{{ business_name }}", "text": "{{ portal_url }} {{ link }}"}
        response = operator.preview("account_credentials", "en", draft)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert response["statusCode"] == 200, response
    assert response["json"]["subject"] == "Club Nuoto Riva"
    assert response["json"]["text"] == (
        "https://shop.clubnuoto.example/ "
        "https://shop.clubnuoto.example/reset-password?token=SAMPLE-TOKEN"
    )


def test_preview_fills_missing_parts_from_the_current_template(operator):
    response = operator.preview("new_password", "en", {"subject": "Your {{ business_name }}"})
    assert response["statusCode"] == 200
    assert response["json"]["subject"] == "Your Palestra Aurora"
    assert "sample-Pass-word-2026" in response["json"]["text"]
    assert "sample-Pass-word-2026" in response["json"]["html"]
    assert "{{" not in response["json"]["text"] + response["json"]["html"]


def test_preview_of_an_invalid_draft_is_422(operator):
    errors = errors_of(operator.preview("new_password", "it", {"text": "No password here"}))
    assert errors == [{"field": "text", "reason": "required variable password is missing"}]
    errors = errors_of(operator.preview("new_password", "it", {"html": "{{ nope }} {{ password"}))
    assert {e["field"] for e in errors} == {"html"}
    assert any(e["reason"] == "unknown variable nope" for e in errors)
    assert any("syntax" in e["reason"] for e in errors)


# ---- rendering ---------------------------------------------------------------------------


def test_values_are_escaped_in_html_but_not_in_text():
    values = {"first_name": '<script>alert("x")</script> & "Tom"'}
    source = "Hi {{ first_name }}!"
    assert render(source, values) == 'Hi <script>alert("x")</script> & "Tom"!'
    assert render(source, values, escape=True) == (
        "Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Tom&quot;!"
    )


def test_subjects_never_carry_cr_or_lf():
    subject = render_subject(
        "Hi {{ first_name }}", {"first_name": "Mario\r\nBcc: evil@example.com\rX\nY"}
    )
    assert "\r" not in subject and "\n" not in subject
    assert subject == "Hi Mario Bcc: evil@example.com X Y"


def test_a_customers_name_is_escaped_in_the_sent_html_and_kept_out_of_header_lines(
    operator, postman, desk, frozen_clock
):
    name = '<img src=x onerror="steal()"> & Co\r\nBcc: evil@example.com'
    customer_id = desk.customer(name, "Rossi", MARIO)
    assert desk.create_account(customer_id)["statusCode"] == 201
    saved = operator.put_template(
        "account_credentials",
        "it",
        dict(
            VALID_CREDENTIALS,
            subject="Ciao {{ first_name }}",
            text="Ciao {{ first_name }}: {{ link }}",
            html='<p title="{{ first_name }}">{{ first_name }}</p><a href="{{ link }}">x</a>',
        ),
    )
    assert saved["statusCode"] == 200
    assert operator.send_credentials(customer_id)["statusCode"] == 202
    postman.drain()
    [email] = postman.sent_to(MARIO)
    assert "\r" not in email["subject"] and "\n" not in email["subject"]
    assert email["subject"] == ('Ciao <img src=x onerror="steal()"> & Co Bcc: evil@example.com')
    assert email["destinations"] == {"ToAddresses": [MARIO]}
    # The text part is plain text: the name as typed.
    assert email["text"].startswith(f"Ciao {name}: http://127.0.0.1:3000/reset-password?token=")
    assert "<img" not in email["html"]
    # Escaped in text and in the (quoted) attribute alike: the name stays inside its quotes.
    escaped = "&lt;img src=x onerror=&quot;steal()&quot;&gt; &amp; Co"
    assert body_of(email["html"]).startswith(f'<p title="{escaped}')
    assert f">{escaped}" in email["html"]


def test_preview_without_a_body_renders_the_current_template(operator):
    response = call(
        preview_handler, "POST", "/operator/templates/password_changed/it/preview", body=None
    )
    assert response["statusCode"] == 200, response
    assert "Maria" in response["json"]["text"]
    assert "{{" not in response["json"]["text"] + response["json"]["html"]


def template_events(template_id: str, locale: str) -> list:
    events = AuditEventModel.query(f"template#{template_id}#{locale}", scan_index_forward=False)
    return [(e.action, e.actor_type, e.actor_id, e.actor_email) for e in events]


def test_saving_and_reverting_a_template_are_audited_with_the_operator(operator):
    assert (
        operator.put_template("account_credentials", "it", VALID_CREDENTIALS)["statusCode"] == 200
    )
    assert operator.delete_template("account_credentials", "it")["statusCode"] == 204
    operator_id = ("operator", OPERATOR_CLAIMS["sub"], OPERATOR_CLAIMS["email"])
    assert template_events("account_credentials", "it") == [
        ("template.reverted", *operator_id),
        ("template.saved", *operator_id),
    ]
    assert template_events("account_credentials", "en") == []


def test_a_refused_template_leaves_no_audit_event(operator):
    response = operator.put_template(
        "account_credentials", "it", {**VALID_CREDENTIALS, "text": "x"}
    )
    assert response["statusCode"] == 422
    assert template_events("account_credentials", "it") == []
