"""Usernames: one account per address as a person reads it (NFKC, no look-alike scripts).

Through the operator and storefront routes: a fullwidth m (U+FF4D) is the ASCII m, a
Cyrillic a (U+0430) inside a Latin domain or local part is refused with a 422 naming the
field, and a login finds the account whichever of the equivalent forms is typed.
"""

from __future__ import annotations

import pytest

from portal_accounts import usernames as identity
from tests.unit.clients import GOOD_PASSWORD

MARIA = "maria.rossi@example.com"
FULLWIDTH_MARIA = "\uff4daria.rossi@example.com"  # FULLWIDTH LATIN SMALL LETTER M
SHOUTED_MARIA = "\uff2d\uff21\uff32\uff29\uff21.rossi@EXAMPLE.com"  # fullwidth MARIA
CYRILLIC_DOMAIN = "maria.rossi@ex\u0430mple.com"  # CYRILLIC SMALL LETTER A
CYRILLIC_LOCAL = "m\u0430ria.rossi@example.com"
GREEK_LOCAL = "\u03c1aola@example.com"  # GREEK SMALL LETTER RHO, a p to the eye


def account_of(desk, email: str):
    customer_id = desk.customer("Maria", "Rossi", email)
    return desk.create_account(customer_id, temporary=False)


def test_a_fullwidth_address_is_the_same_username(desk):
    created = account_of(desk, FULLWIDTH_MARIA)
    assert created["statusCode"] == 201, created
    assert created["json"]["username"] == MARIA
    again = account_of(desk, MARIA)
    assert again["statusCode"] == 409, again
    assert again["json"]["type"] == "username_taken"


@pytest.mark.parametrize("typed", [MARIA, FULLWIDTH_MARIA, SHOUTED_MARIA])
def test_login_finds_the_account_whichever_form_is_typed(desk, shop, typed):
    assert account_of(desk, MARIA)["statusCode"] == 201
    response = shop.login(typed, GOOD_PASSWORD)
    assert response["statusCode"] == 200, (typed, response)


@pytest.mark.parametrize("email", [CYRILLIC_DOMAIN, CYRILLIC_LOCAL, GREEK_LOCAL])
def test_a_look_alike_mix_of_scripts_is_a_422_naming_the_field(desk, email):
    response = desk.create_customer(email=email)
    assert response["statusCode"] == 422, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    [error] = response["json"]["errors"]
    assert error["field"] == "email"
    assert "scripts" in error["reason"], error


def test_an_update_to_a_look_alike_address_is_refused_too(desk):
    customer_id = desk.customer("Maria", "Rossi", MARIA)
    response = desk.update_customer(customer_id, {"email": CYRILLIC_DOMAIN})
    assert response["statusCode"] == 422, response
    assert response["json"]["errors"][0]["field"] == "email"
    assert desk.get_customer(customer_id)["json"]["email"] == MARIA


def test_forgot_refuses_a_look_alike_address_like_any_invalid_one(shop):
    response = shop.forgot(CYRILLIC_DOMAIN)
    assert response["statusCode"] == 422, response
    assert response["json"]["errors"][0]["field"] == "email"


@pytest.mark.parametrize(
    "email",
    [
        "мария@пример.рф",  # one script throughout: Cyrillic
        "μαρία@παράδειγμα.gr",  # Greek labels, a Latin TLD: scripts are checked per label
        "山田たろう@example.jp",  # Han with Hiragana: a combination UTS 39 allows
        "josé.o'neil+palestra@bücher.de",
        "mario-2@example-1.com",
    ],
)
def test_addresses_in_one_script_per_part_are_accepted(desk, email):
    response = desk.create_customer(email=email)
    assert response["statusCode"] == 201, response


def test_a_punycode_domain_is_the_same_username_as_its_unicode_form(desk, shop):
    created = account_of(desk, "maria@xn--bcher-kva.de")
    assert created["statusCode"] == 201, created
    assert created["json"]["username"] == "maria@bücher.de"
    assert shop.login("maria@bücher.de", GOOD_PASSWORD)["statusCode"] == 200
    assert shop.login("MARIA@XN--BCHER-KVA.DE", GOOD_PASSWORD)["statusCode"] == 200


def test_a_punycode_homograph_is_refused():
    with pytest.raises(ValueError, match="scripts"):
        identity.normalise_email("maria@xn--exmple-4nf.com")  # ex\u0430mple


def test_lookup_key_and_normalise_email_agree():
    for typed in (MARIA, FULLWIDTH_MARIA, " Maria.Rossi@Example.COM ", "maria@xn--bcher-kva.de"):
        assert identity.lookup_key(typed) == identity.normalise_email(typed), typed
