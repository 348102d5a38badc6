"""A plain placeholder syntax, `{{ name }}`, and nothing else.

Chosen over a template engine on purpose: operators edit these texts, and a placeholder
substitution cannot run code, loop, or reach anything but the fixed variables of its
template. Values are HTML-escaped in the HTML part (quotes too: email/safety.py admits
placeholders in attributes only inside quotes, where that escaping is enough); subjects
lose CR/LF. The HTML part is the body of the email; `document` wraps it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_BRACES = re.compile(r"\{\{|\}\}")


@dataclass(frozen=True)
class TemplateProblem:
    field: str  # subject | text | html
    reason: str


def check_part(
    name: str, source: str, allowed: set[str], required: set[str]
) -> list[TemplateProblem]:
    problems = []
    leftover = PLACEHOLDER.sub("", source)
    if _ANY_BRACES.search(leftover):
        problems.append(
            TemplateProblem(name, "syntax error: placeholders are written {{ variable_name }}")
        )
    used = set(PLACEHOLDER.findall(source))
    for unknown in sorted(used - allowed):
        problems.append(TemplateProblem(name, f"unknown variable {unknown}"))
    for missing in sorted(required - used):
        problems.append(TemplateProblem(name, f"required variable {missing} is missing"))
    return problems


def render(source: str, values: dict[str, str], *, escape: bool = False) -> str:
    def value_of(match: re.Match) -> str:
        value = str(values.get(match.group(1), ""))
        return html.escape(value, quote=True) if escape else value

    return PLACEHOLDER.sub(value_of, source)


def render_subject(source: str, values: dict[str, str]) -> str:
    return " ".join(render(source, values).replace("\r", " ").replace("\n", " ").split())


def document(body: str, *, lang: str, policy: str | None = None) -> str:
    """The email's HTML document around a rendered body: fixed, never an operator's.

    `policy`, a Content-Security-Policy, goes in a meta tag: for the preview, which a
    dashboard may show as a document of its own (an iframe's srcdoc gets no headers).
    """
    meta = (
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">'
        if policy
        else ""
    )
    return (
        f'<!doctype html><html lang="{html.escape(lang)}"><head><meta charset="utf-8">{meta}'
        '</head><body style="font-family:Arial,sans-serif;line-height:1.5">'
        f"{body}</body></html>"
    )
