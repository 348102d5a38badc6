"""The password policy and hashing (SPEC: Rules → Passwords; NIST SP 800-63B-4, ASVS 5 V6)."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from argon2 import PasswordHasher

from portal_accounts.config import get_settings
from portal_accounts.credentials import passwords
from portal_accounts.errors import WeakPassword
from portal_accounts.models import AccountModel, AuditEventModel
from tests.unit.clients import GOOD_PASSWORD

USERNAME = "mario.rossi@example.com"
NAMES = ["Mario", "Rossi"]


def refusal(password: str, **context) -> str | None:
    """The policy's reason for refusing the password, or None when it is accepted."""
    try:
        passwords.check_policy(password, **context)
    except WeakPassword as refused:
        assert refused.status == 422
        assert [e["field"] for e in refused.errors] == ["password"]
        return refused.errors[0]["reason"]
    return None


@pytest.fixture
def min_length(monkeypatch):
    def set_min(value: int) -> None:
        monkeypatch.setenv("PASSWORD_MIN_LENGTH", str(value))
        get_settings.cache_clear()

    yield set_min
    get_settings.cache_clear()


# ---- length -------------------------------------------------------------------------------


def test_default_minimum_is_15_characters():
    assert refusal("fiume lampada t") is None  # 15
    assert refusal("fiume lampada ") == "too_short"  # 14


def test_minimum_follows_password_min_length(min_length):
    min_length(20)
    assert refusal("fiume lampada treno") == "too_short"  # 19
    assert refusal("fiume lampada treno!") is None  # 20
    min_length(15)
    assert refusal("fiume lampada treno") is None


def test_length_is_counted_in_characters_not_bytes():
    # 15 characters, 45 bytes in UTF-8: long enough. 14 characters: too short.
    assert refusal("猫が屋根の上で静かに眠っている") is None
    assert refusal("猫が屋根の上で静かに眠ってい") == "too_short"


def test_a_128_character_non_ascii_passphrase_is_accepted():
    passphrase = ("ἀβγδ ζηθι κλμν ξοπρ " * 7)[:128]
    assert len(passphrase) == 128
    assert len(passphrase.encode()) > 128
    assert refusal(passphrase) is None


def test_129_characters_are_refused_as_too_long():
    passphrase = ("ἀβγδ ζηθι κλμν ξοπρ " * 7)[:129]
    assert len(passphrase) == 129
    assert refusal(passphrase) == "too_long"


def test_passwords_between_73_and_128_characters_are_judged_not_crashed_on():
    # Long random-ish passphrases: the strength meter must not choke on their length.
    for length in (73, 100, 128):
        passphrase = ("fiume lampada treno giallo ombrello " * 4)[:length]
        assert refusal(passphrase) is None, length


# ---- what is allowed ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "passphrase",
    [
        "correct horse battery staple",  # spaces
        "καλημέρα κόσμε φίλε μου",  # Greek
        "猫が屋根の上で静かに眠っている",  # Japanese
        "η γάτα κοιμάται στη στέγη",
        "aurora boreale sopra il lago",  # no digits, no capitals: no composition rules
    ],
)
def test_spaces_and_any_script_are_allowed(passphrase):
    assert refusal(passphrase, username=USERNAME, names=NAMES) is None


# ---- what is refused ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["passwordpassword", "123456789012345", "aaaaaaaaaaaaaaaa", "qwertyuiopasdfgh"],
)
def test_common_or_guessable_passwords_are_refused(password):
    assert refusal(password) == "common_or_guessable"


@pytest.mark.parametrize(
    "password",
    [
        "mario.rossi@example.com tramonto",  # the username
        "mario.rossi lanterna verde molo",  # its local part
        "lanterna verde MARIO molo antico",  # the first name, any case
        "lanterna verde rossi molo antico",  # the last name
        "lanterna verde Róssi molo antico",  # ... also with an accent added
        "Palestra Aurora lanterna verde",  # the business name (set in tests/conftest.py)
        "palestra aurora lanterna verde",
        "PalestraAurora lanterna verde",  # ... without its space
        "palestra-aurora lanterna verde",  # ... or with punctuation
        "lanterna verde m.a.r.i.o molo",  # a name with punctuation inside
    ],
)
def test_context_words_are_refused(password):
    assert refusal(password, username=USERNAME, names=NAMES) == "context_word"


def test_the_business_name_is_refused_even_without_a_username():
    assert refusal("ciao Palestra Aurora ciao") == "context_word"


def test_each_word_of_a_compound_surname_is_refused_and_short_ones_are_not():
    names = ["Anna", "De Luca"]
    assert refusal("lanterna verde DeLuca molo", names=names) == "context_word"
    assert refusal("lanterna verde luca molo antico", names=names) == "context_word"
    # Words under 3 letters ("de") are too common to refuse on their own.
    assert refusal("lanterna verde de molo antico", names=names) is None


def test_a_password_of_only_the_username_is_refused():
    # NIST SP 800-63B: no password made of the username. The names here share nothing
    # with it, so the username alone must be what refuses it.
    context = {"username": "tramonto.blu@example.com", "names": ["Eleonora", "Castellani"]}
    assert refusal("tramonto.blu@example.com", **context) == "context_word"
    assert refusal("TRAMONTO.BLU@EXAMPLE.COM lanterna", **context) == "context_word"
    # A short username: its parts are under three letters, the whole of it is not.
    assert refusal("lanterna verde ab@xy.io molo", username="ab@xy.io") == "context_word"


def test_a_password_of_only_a_name_is_refused():
    context = {"username": "tramonto.blu@example.com", "names": ["Eleonora", "Castellani"]}
    assert refusal("eleonora castellani", **context) == "context_word"
    assert refusal("lanterna verde castellani molo", **context) == "context_word"


def test_the_usernames_domain_name_is_refused():
    context = {"username": "mario@palestraboreale.it"}
    assert refusal("lanterna palestraboreale molo", **context) == "context_word"
    assert refusal("lanterna verde molo antico", **context) is None  # "it": too short


def test_each_word_of_a_multi_word_first_name_is_refused():
    names = ["Anna Maria", "Rossi"]
    assert refusal("lanterna verde maria molo antico", names=names) == "context_word"
    assert refusal("lanterna verde anna molo antico", names=names) == "context_word"


def test_each_word_of_the_usernames_local_part_and_of_a_hyphenated_name_is_refused():
    context = {"username": "tramonto.blu@example.com", "names": ["Anna-Maria", "Rossi"]}
    assert refusal("lanterna tramonto verde molo", **context) == "context_word"
    assert refusal("lanterna verde maria molo antico", **context) == "context_word"


def test_the_domains_suffix_is_no_context_word():
    # "example" is refused (the domain's name), not "com": "comodo" is an everyday word.
    context = {"username": "mario@example.com"}
    assert refusal("lanterna comoda sul molo antico", **context) is None


@pytest.mark.parametrize("name", ["Eva", "Ada"])
def test_three_letter_names_are_refused(name):
    # The minimum is three letters: short first names are still the customer's own.
    assert refusal(f"lanterna verde {name.lower()} molo antico", names=[name, "Rossi"]) == (
        "context_word"
    )


def test_two_letter_words_of_a_name_are_allowed():
    assert refusal("lanterna li verde wu molo antico", names=["Li", "Wu"]) is None


@pytest.mark.parametrize(
    ("password", "score"),
    [("qwerty1234567890!", 2), ("baseball20242024", 2), ("monkeybanana2020", 3)],
)
def test_zxcvbn_score_three_is_the_threshold(password, score):
    # zxcvbn scores 0-4; 3 ("safely unguessable: moderate protection from offline
    # slow-hash attacks") is the lowest accepted.
    from zxcvbn import zxcvbn

    assert zxcvbn(password)["score"] == score  # the examples stay on either side
    assert refusal(password) == ("common_or_guessable" if score < 3 else None)


def test_one_word_of_the_business_name_alone_is_allowed():
    # "Palestra Aurora" (tests/conftest.py): the name is refused in any spacing, its
    # words are everyday words.
    assert refusal("aurora boreale sopra il lago") is None
    assert refusal("la mia palestra sul lago blu") is None


# ---- hashing ------------------------------------------------------------------------------


def argon2_parameters(encoded: str) -> tuple[str, dict[str, int]]:
    match = re.fullmatch(r"\$(argon2(?:id|i|d))\$v=\d+\$([^$]+)\$[^$]+\$[^$]+", encoded)
    assert match, encoded
    params = dict(part.split("=") for part in match.group(2).split(","))
    return match.group(1), {k: int(v) for k, v in params.items()}


def test_hashes_are_argon2id_with_at_least_owasp_parameters():
    variant, params = argon2_parameters(passwords.hash_password(GOOD_PASSWORD))
    assert variant == "argon2id"
    assert params["m"] >= 19456
    assert params["t"] >= 2


def test_hashing_is_salted_and_verifies_only_the_same_password():
    first = passwords.hash_password(GOOD_PASSWORD)
    assert first != passwords.hash_password(GOOD_PASSWORD)
    assert passwords.verify_password(first, GOOD_PASSWORD)
    assert not passwords.verify_password(first, GOOD_PASSWORD + " ")
    assert not passwords.verify_password(first, GOOD_PASSWORD.upper())  # no case folding


def test_no_truncation_past_72_bytes():
    common = "è" * 36  # 72 bytes in UTF-8: where bcrypt would stop looking
    first, second = common + " fiume", common + " lampo"
    assert first.encode()[:72] == second.encode()[:72]
    stored = passwords.hash_password(first)
    assert passwords.verify_password(stored, first)
    assert not passwords.verify_password(stored, second)


def test_verify_is_false_without_a_hash():
    assert passwords.verify_password(None, GOOD_PASSWORD) is False
    assert passwords.verify_password("", GOOD_PASSWORD) is False


def test_verify_is_false_for_a_garbage_hash():
    assert passwords.verify_password("not-a-hash", GOOD_PASSWORD) is False


def test_needs_rehash_for_weaker_parameters_only():
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(GOOD_PASSWORD)
    assert passwords.needs_rehash(weak) is True
    assert passwords.needs_rehash(passwords.hash_password(GOOD_PASSWORD)) is False


def test_generated_passwords_pass_the_policy_and_differ():
    generated = {passwords.generate_password() for _ in range(5)}
    assert len(generated) == 5
    for password in generated:
        assert refusal(password) is None
        assert len(password) >= get_settings().password_min_length


def test_generated_passwords_mix_cases_and_digits_without_look_alikes():
    characters = set("".join(passwords.generate_password() for _ in range(20)))
    characters.discard("-")
    assert characters <= set("abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789")
    assert characters & set("abcdefghjkmnpqrstuvwxyz")
    assert characters & set("ABCDEFGHJKMNPQRSTUVWXYZ")
    assert characters & set("23456789")


def test_a_generated_candidate_the_policy_refuses_is_drawn_again(monkeypatch):
    drawn = iter("a" * 25)  # the first candidate: aaaaa-aaaaa-..., too easy to guess
    choice = passwords.secrets.choice
    monkeypatch.setattr(passwords.secrets, "choice", lambda seq: next(drawn, None) or choice(seq))
    password = passwords.generate_password()
    assert re.fullmatch(r"[A-Za-z0-9]{5}(-[A-Za-z0-9]{5}){4}", password)
    assert password != "aaaaa-aaaaa-aaaaa-aaaaa-aaaaa"
    assert refusal(password) is None


def test_the_hasher_is_reachable_as_passwords_hasher():
    # bench/login_latency.py measures passwords.HASHER itself.
    assert passwords.HASHER is passwords.hasher()
    with pytest.raises(AttributeError, match="NO_SUCH_NAME"):
        passwords.NO_SUCH_NAME  # noqa: B018


# ---- what is stored -----------------------------------------------------------------------


def test_the_password_is_never_stored_or_returned(desk):
    customer_id = desk.customer("Lucia", "Verdi", "lucia.verdi@example.com")
    created = desk.create_account(customer_id, password=GOOD_PASSWORD)
    assert created["statusCode"] == 201
    set_again = desk.set_password("lucia.verdi@example.com", "tramonto viola dietro le colline")
    assert set_again["statusCode"] == 204

    client = boto3.client("dynamodb")
    stored = []
    for table in (AccountModel.Meta.table_name, AuditEventModel.Meta.table_name):
        stored += client.scan(TableName=table)["Items"]
    dump = json.dumps(stored)
    assert "lucia.verdi@example.com" in dump  # the scan did see the items
    assert GOOD_PASSWORD not in dump
    assert "tramonto viola dietro le colline" not in dump
    assert GOOD_PASSWORD not in created["body"]
    detail = desk.get_account("lucia.verdi@example.com")
    assert GOOD_PASSWORD not in detail["body"]
    assert "password_hash" not in detail["json"]

    account = AccountModel.get("lucia.verdi@example.com")
    variant, params = argon2_parameters(account.password_hash)
    assert variant == "argon2id" and params["m"] >= 19456 and params["t"] >= 2
    assert passwords.verify_password(account.password_hash, "tramonto viola dietro le colline")


# ---- what setting a password writes -------------------------------------------------------


def test_a_temporary_password_expires_its_lifetime_after_it_was_set(desk, frozen_clock):
    desk.create_account(desk.customer("Lucia", "Verdi", "lucia.verdi@example.com"))
    frozen_clock.advance(hours=5)
    answer = desk.set_password(
        "lucia.verdi@example.com", "tramonto viola dietro le colline", temporary=True
    )
    assert answer["statusCode"] == 204
    detail = desk.get_account("lucia.verdi@example.com")["json"]
    assert detail["password_changed_at"] == "2026-01-01T14:00:00Z"  # when, not before
    assert detail["password_expires_at"] == "2026-01-08T14:00:00Z"  # 7 days later, not before
    assert detail["password_change_required"] is True


def test_a_permanent_password_has_no_expiry_and_records_when_it_was_set(desk, frozen_clock):
    desk.create_account(desk.customer("Lucia", "Verdi", "lucia.verdi@example.com"))
    frozen_clock.advance(hours=5)
    answer = desk.set_password(
        "lucia.verdi@example.com", "tramonto viola dietro le colline", temporary=False
    )
    assert answer["statusCode"] == 204
    detail = desk.get_account("lucia.verdi@example.com")["json"]
    assert detail["password_changed_at"] == "2026-01-01T14:00:00Z"
    assert detail["password_expires_at"] is None
    assert detail["password_change_required"] is False
    # The detail hides an expiry while the password is not temporary: none is stored either.
    assert AccountModel.get("lucia.verdi@example.com").password_expires_at is None
