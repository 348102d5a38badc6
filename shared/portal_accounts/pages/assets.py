"""The pages' one stylesheet and one module script, served from this origin (no CDN).

The stylesheet carries the business's accent colour (ACCENT_COLOR): buttons, links and
the focus ring. Whatever colour is set, text stays readable (WCAG 2.2 AA): a button's
text is white or near-black, whichever contrasts more with the accent, and links and the
focus ring use the accent only where it reaches 4.5:1 on the white page, else near-black.
"""

from __future__ import annotations

import re

from portal_accounts.config import get_settings

DEFAULT_ACCENT = "#0b5cad"
INK = "#1a1a1a"
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """WCAG's contrast ratio of two #rrggbb colours (1 to 21)."""
    a, b = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def accent() -> str:
    colour = get_settings().accent_color
    return colour if _HEX.fullmatch(colour or "") else DEFAULT_ACCENT


def stylesheet() -> str:
    colour = accent()
    on_accent = "#ffffff" if contrast(colour, "#ffffff") >= contrast(colour, INK) else INK
    link = colour if contrast(colour, "#ffffff") >= 4.5 else INK
    return (
        CSS.replace("__ACCENT__", colour)
        .replace("__ON_ACCENT__", on_accent)
        .replace("__LINK__", link)
    )


CSS = """\
*, *::before, *::after { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5;
  color: #1a1a1a; background: #f4f5f7; }
body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem 1rem; z-index: 1; }
.brand { width: 100%; max-width: 34rem; display: flex; align-items: center; gap: .75rem;
  padding: 1.25rem 1rem .5rem; font-weight: 600; font-size: 1.1rem; }
.brand .logo { max-height: 40px; width: auto; }
main { width: 100%; max-width: 34rem; background: #fff; border-radius: .5rem;
  padding: 1.5rem 1.25rem; margin: 0 .5rem; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
main:focus { outline: none; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.25rem 0 .25rem; }
ul { padding-left: 1.25rem; margin: .25rem 0 1rem; }
.field { margin: 1rem 0; }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
input[type=password], input[type=email], input[type=text] { width: 100%; font: inherit;
  padding: .65rem .75rem; border: 2px solid #595959; border-radius: .35rem; background: #fff;
  color: #1a1a1a; }
input[aria-invalid=true] { border-color: #b00020; }
.error { color: #b00020; font-weight: 600; margin: .35rem 0 0; min-height: 0; }
.error:empty { display: none; }
.summary { border-left: 4px solid #b00020; padding: .5rem .75rem; background: #fdecee; }
button, .button { display: inline-block; font: inherit; font-weight: 600; cursor: pointer;
  padding: .7rem 1.25rem; border: 2px solid __ACCENT__; border-radius: .35rem;
  background: __ACCENT__; color: __ON_ACCENT__; text-decoration: none; min-height: 44px; }
button:disabled { opacity: .7; cursor: progress; }
a { color: __LINK__; }
:focus-visible { outline: 3px solid __LINK__; outline-offset: 2px; }
footer { width: 100%; max-width: 34rem; padding: 1rem; }
.languages form { display: flex; gap: .5rem; flex-wrap: wrap; }
button.link { background: none; border: 2px solid transparent; color: __LINK__;
  text-decoration: underline; padding: .5rem .5rem; min-height: 44px; }
button.link[aria-current=true] { text-decoration: none; font-weight: 700; color: #1a1a1a; }
@media (max-width: 400px) { main { padding: 1.25rem 1rem; } h1 { font-size: 1.3rem; } }
"""

# Progressive: the pages work without it. With it, the link's token leaves the address
# bar (it stays in the form), and the two fields are checked as they are typed (the
# server stays the judge), with errors announced by their aria-live paragraphs.
SCRIPT = """\
const url = new URL(window.location.href);
if (url.searchParams.has("token")) {
  url.searchParams.delete("token");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
}

const form = document.querySelector("form.password-form");
if (form) {
  const min = Number(form.dataset.minLength);
  const password = form.elements.namedItem("password");
  const again = form.elements.namedItem("password_confirmation");
  const show = (input, message) => {
    document.getElementById(`${input.id}-error`).textContent = message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  };
  const length = (text) => Array.from(text).length;
  const checkPassword = () => {
    const value = password.value;
    const message = !value ? form.dataset.required
      : length(value) < min ? form.dataset.tooShort : "";
    show(password, message);
    return !message;
  };
  // While typing, only a second field that has something in it is compared.
  const checkAgain = (submitting) => {
    const compared = submitting || again.value !== "";
    const message = compared && again.value !== password.value ? form.dataset.mismatch : "";
    show(again, message);
    return !message;
  };
  password.addEventListener("change", checkPassword);
  again.addEventListener("input", () => {
    if (again.getAttribute("aria-invalid")) checkAgain(false);
  });
  again.addEventListener("change", () => checkAgain(false));
  form.addEventListener("submit", (event) => {
    const first = checkPassword();
    const second = checkAgain(true);
    if (!first || !second) {
      event.preventDefault();
      (first ? again : password).focus();
      return;
    }
    form.querySelector("button[type=submit]").disabled = true;
  });
}
"""

ASSETS = {
    "page.css": "text/css; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
}


def content(name: str) -> str:
    return stylesheet() if name == "page.css" else SCRIPT
