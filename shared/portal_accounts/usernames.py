"""Emails and usernames: a username is the customer's email, validated and normalised.

One address as a person reads it is one username:
- NFKC, not only NFC: compatibility forms fold into the plain ones (a fullwidth m, U+FF4D,
  is "m", the ligature U+FB01 is "fi"), then lower case;
- international domains are kept in Unicode; one typed as punycode (xn--) is decoded, so
  both spellings are one username, and the checks below see what a reader sees;
- no part (the local part, each domain label) may mix scripts whose letters look alike,
  such as a Cyrillic a (U+0430) in a Latin word: that is how a look-alike of someone's account
  is made. The scripts and look-alikes are Unicode's own data (UTS 39, confusables.txt),
  as shipped by the confusable-homoglyphs package. Scripts used together by one writing
  system (Han with Hiragana and Katakana, Hangul or Bopomofo, and Latin with them) are not
  a mix, as in UTS 39's "highly restrictive" level. A label written entirely in another
  script that happens to look Latin is not caught (UTS 39's whole-script confusables):
  refusing those would refuse genuine Cyrillic or Greek addresses too.
"""

from __future__ import annotations

import unicodedata

# UTS 39 (5.2, highly restrictive): the sets of scripts one writing system uses together.
_ONE_WRITING_SYSTEM = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Characters of no script of their own: digits, punctuation, combining marks.
_NO_SCRIPT = frozenset({"COMMON", "INHERITED"})


def _folded(text: str) -> str:
    # Lower-casing may leave a string that is no longer normalised: normalise again.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).lower())


def lookup_key(raw: str) -> str:
    """The key an existing username is stored under, from whatever was typed.

    Cheap on purpose (no validation): finding a login only needs the same folding that
    normalise_email applies, and a malformed one is simply not found.
    """
    key = _folded(raw.strip())
    local, at, domain = key.rpartition("@")
    if at and "xn--" in domain:
        return f"{local}@{_unicode_domain(domain)}"
    return key


def _unicode_domain(domain: str) -> str:
    """A domain with its punycode labels decoded (an undecodable one is left as it is)."""
    import idna  # email-validator's own dependency; loaded only for such domains

    labels = []
    for label in domain.split("."):
        try:
            labels.append(idna.decode(label) if label.startswith("xn--") else label)
        except idna.IDNAError:
            labels.append(label)
    return ".".join(labels)


def normalise_email(raw: str) -> str:
    """The canonical form of an email, or ValueError with a reason a person can act on.

    Syntax only (no DNS: a Lambda must not depend on resolvers). The whole address is
    lower-cased so that usernames compare case-insensitively.
    """
    # Imported here: only the flows that take a new address pay for it at cold start.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(_folded(raw.strip()), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    # email-validator gives the domain in Unicode, a punycode one decoded.
    address = _folded(result.normalized)
    local, _, domain = address.rpartition("@")
    for part in (local, *domain.split(".")):
        _refuse_look_alike_mix(part)
    return address


def _refuse_look_alike_mix(part: str) -> None:
    if part.isascii():
        return
    # Imported here: its data costs about 80 ms to load, for non-ASCII addresses only.
    from confusable_homoglyphs import categories, confusables

    scripts = categories.unique_aliases(part) - _NO_SCRIPT
    if len(scripts) < 2 or any(scripts <= system for system in _ONE_WRITING_SYSTEM):
        return
    if any(confusables.is_confusable(part, preferred_aliases=[s]) for s in scripts):
        named = " and ".join(sorted(s.title() for s in scripts))
        raise ValueError(
            f"'{part}' mixes letters of different scripts that look alike ({named}): "
            "type the address again in one script."
        )


def username_or_none(raw: str | None) -> str | None:
    """The username a customer's email would give, or None when it is missing or invalid."""
    if not raw:
        return None
    try:
        return normalise_email(raw)
    except ValueError:
        return None
