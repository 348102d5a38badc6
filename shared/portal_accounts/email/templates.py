"""F6: the operators' templates — shipped defaults, customised copies, validation, preview.

Validation is the placeholder syntax (rendering.py) plus the safety rules (safety.py:
what the HTML may hold, where a secret may go), for a save, a preview, and again in the
sender for a customised copy, which may have been saved under older rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal_accounts import clock
from portal_accounts.audit import Actor, build_event, template_subject
from portal_accounts.config import get_settings
from portal_accounts.credentials.links import link_url
from portal_accounts.dynamodb import transaction
from portal_accounts.email import safety
from portal_accounts.email.defaults import (
    DEFAULTS,
    LOCALES,
    REQUIRED,
    SAMPLE_VALUES,
    TEMPLATE_IDS,
    VARIABLES,
)
from portal_accounts.email.rendering import (
    TemplateProblem,
    check_part,
    document,
    render,
    render_subject,
)
from portal_accounts.errors import InvalidInput, NotFound
from portal_accounts.models import TemplateModel
from portal_accounts.observability import logger

PARTS = ("subject", "text", "html")


@dataclass(frozen=True)
class Template:
    template_id: str
    locale: str
    subject: str
    text: str
    html: str
    customised: bool

    @property
    def variables(self) -> list[str]:
        return list(VARIABLES[self.template_id])


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _check_known(template_id: str, locale: str) -> None:
    if template_id not in TEMPLATE_IDS or locale not in LOCALES:
        raise NotFound(
            f"There is no template {template_id} in {locale}: "
            f"ids are {', '.join(TEMPLATE_IDS)}; languages {', '.join(LOCALES)}."
        )


def get_template(template_id: str, locale: str) -> Template:
    _check_known(template_id, locale)
    try:
        item = TemplateModel.get(template_id, locale)
    except TemplateModel.DoesNotExist:
        default = DEFAULTS[(template_id, locale)]
        return Template(template_id, locale, customised=False, **default)
    return Template(template_id, locale, item.subject, item.text, item.html, customised=True)


def list_templates() -> list[dict]:
    """Every id x language, with whether an operator customised it (one Query per id)."""
    customised = {
        (item.template_id, item.locale)
        for template_id in TEMPLATE_IDS
        for item in TemplateModel.query(template_id, attributes_to_get=["template_id", "locale"])
    }
    return [
        {"template_id": t, "locale": loc, "customised": (t, loc) in customised}
        for t in TEMPLATE_IDS
        for loc in LOCALES
    ]


def problems_of(template_id: str, parts: dict[str, str]) -> list[TemplateProblem]:
    """Every unknown variable, missing required one, syntax error and unsafe construct."""
    allowed = set(VARIABLES[template_id])
    required = set(REQUIRED[template_id])
    problems = []
    for name in PARTS:
        # The subject is a single line and never required to carry the link/password.
        problems += check_part(name, parts[name], allowed, set() if name == "subject" else required)
    problems += [TemplateProblem("subject", r) for r in safety.subject_problems(parts["subject"])]
    problems += [TemplateProblem("text", r) for r in safety.text_problems(parts["text"])]
    problems += [TemplateProblem("html", r) for r in safety.html_problems(parts["html"])]
    return problems


def validate(template_id: str, parts: dict[str, str]) -> None:
    """422 naming every problem, each with the part it is in."""
    problems = problems_of(template_id, parts)
    if problems:
        raise InvalidInput(
            "; ".join(f"{p.field}: {p.reason}" for p in problems),
            errors=[{"field": p.field, "reason": p.reason} for p in problems],
        )


def template_for_sending(template_id: str, locale: str) -> Template:
    """What the sender renders: a customised copy only while it keeps today's rules.

    A copy saved before a rule existed (or written to the table by other means) is not
    sent: the shipped default goes instead, and the log says so.
    """
    template = get_template(template_id, locale)
    if template.customised and (problems := problems_of(template_id, _parts(template))):
        logger.warning(
            "customised template refused, the shipped default sent instead",
            extra={
                "template_id": template_id,
                "locale": locale,
                "problems": [f"{p.field}: {p.reason}" for p in problems],
            },
        )
        return Template(template_id, locale, customised=False, **DEFAULTS[(template_id, locale)])
    return template


def _parts(template: Template) -> dict[str, str]:
    return {name: getattr(template, name) for name in PARTS}


def save_template(template_id: str, locale: str, parts: dict[str, str], actor: Actor) -> Template:
    """Save a customised copy; the change and its audit event are written together."""
    _check_known(template_id, locale)
    validate(template_id, parts)
    with transaction() as tx:
        tx.save(
            TemplateModel(
                template_id,
                locale,
                subject=parts["subject"],
                text=parts["text"],
                html=parts["html"],
                updated_at=clock.now(),
                updated_by=actor.email or actor.id,
            )
        )
        tx.save(build_event(template_subject(template_id, locale), actor, "template.saved"))
    return Template(template_id, locale, customised=True, **parts)


def reset_template(template_id: str, locale: str, actor: Actor) -> None:
    """Back to the shipped default (idempotent), with its audit event."""
    _check_known(template_id, locale)
    with transaction() as tx:
        tx.delete(TemplateModel(template_id, locale))
        tx.save(build_event(template_subject(template_id, locale), actor, "template.reverted"))


def render_template(
    template: Template, values: dict[str, str], *, policy: str | None = None
) -> Rendered:
    body = render(template.html, values, escape=True)
    return Rendered(
        subject=render_subject(template.subject, values),
        text=render(template.text, values),
        html=document(body, lang=template.locale, policy=policy),
    )


def preview(template_id: str, locale: str, draft: dict[str, str | None]) -> Rendered:
    """Render a draft (missing parts from the current template) with sample values."""
    current = get_template(template_id, locale)
    parts = {name: draft.get(name) or getattr(current, name) for name in PARTS}
    validate(template_id, parts)
    draft_template = Template(template_id, locale, customised=current.customised, **parts)
    return render_template(draft_template, sample_values(), policy=preview_policy())


def preview_policy() -> str:
    """The Content-Security-Policy of a preview, for any client that renders it.

    No script, no frame, no form, no base: nothing but inline styles (the templates'
    style attributes) and images from the storefront, the only ones an email may show.
    """
    scheme, host = safety.storefront_origin()
    return (
        f"default-src 'none'; img-src {scheme}://{host}; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'"
    )


def sample_values() -> dict[str, str]:
    """What a preview shows: sample customer values, this deployment's name and links."""
    settings = get_settings()
    return {
        **SAMPLE_VALUES,
        "business_name": settings.business_name or SAMPLE_VALUES["business_name"],
        "portal_url": settings.storefront_base_url,
        "link": link_url("SAMPLE-TOKEN"),
    }
