"""A plain placeholder syntax, `{{ name }}`, and nothing else.

Chosen over a template engine on purpose: operators edit these texts, and a placeholder
substitution cannot run code, loop, or reach anything but the fixed variables of its
template. Values are HTML-escaped in the HTML part; subjects lose CR/LF.
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
        return html.escape(value) if escape else value

    return PLACEHOLDER.sub(value_of, source)


def render_subject(source: str, values: dict[str, str]) -> str:
    return " ".join(render(source, values).replace("\r", " ").replace("\n", " ").split())
