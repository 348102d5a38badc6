"""F14: the customer registry basics (create, read, update) and what an update carries along."""

from __future__ import annotations

from portal_accounts.models import AccountModel, CustomerModel, linked_customers


def test_create_returns_201_with_the_customer(desk, frozen_clock):
    response = desk.create_customer("  Mario ", "Rossi", "Mario.Rossi@Example.com", locale="en")
    assert response["statusCode"] == 201
    body = response["json"]
    assert body["first_name"] == "Mario"  # trimmed
    assert body["last_name"] == "Rossi"
    assert body["email"] == "Mario.Rossi@Example.com"
    assert body["locale"] == "en"
    assert body["account"] is None
    assert body["created_at"] == body["updated_at"] == "2026-01-01T09:00:00Z"
    stored = CustomerModel.get(body["customer_id"])
    assert (stored.first_name, stored.last_name, stored.locale) == ("Mario", "Rossi", "en")


def test_create_defaults_the_locale_to_italian(desk):
    response = desk.create_customer("Lucia", "Verdi")
    assert response["statusCode"] == 201
    assert response["json"]["locale"] == "it"
    assert response["json"]["email"] is None


def test_create_refuses_an_invalid_email(desk):
    for bad in ("mario.rossi", "mario@", "mario rossi@example.com"):
        response = desk.create_customer("Mario", "Rossi", bad)
        assert response["statusCode"] == 422, bad
        assert response["headers"]["Content-Type"] == "application/problem+json"
        assert [e["field"] for e in response["json"]["errors"]] == ["email"]


def test_create_refuses_an_unknown_locale_and_blank_names(desk):
    response = desk.create_customer("Mario", "Rossi", locale="de")
    assert response["statusCode"] == 422
    assert [e["field"] for e in response["json"]["errors"]] == ["locale"]
    response = desk.create_customer("   ", "Rossi")
    assert response["statusCode"] == 422
    assert [e["field"] for e in response["json"]["errors"]] == ["first_name"]


def test_get_returns_the_customer_and_its_account(desk):
    customer_id, username = desk.account_for("Mario", "Rossi", "mario.rossi@example.com")
    response = desk.get_customer(customer_id)
    assert response["statusCode"] == 200
    assert response["json"]["customer_id"] == customer_id
    assert response["json"]["account"] == {"username": username, "status": "active"}
    assert desk.disable(username)["statusCode"] == 200
    assert desk.get_customer(customer_id)["json"]["account"]["status"] == "disabled"


def test_get_unknown_customer_is_404(desk):
    response = desk.get_customer("00000000-0000-0000-0000-000000000000")
    assert response["statusCode"] == 404
    assert response["json"]["status"] == 404
    assert response["headers"]["Content-Type"] == "application/problem+json"


def test_patch_changes_only_the_fields_sent(desk, frozen_clock):
    customer_id = desk.customer("Mario", "Rossi", "mario.rossi@example.com")
    frozen_clock.advance(hours=1)
    response = desk.update_customer(customer_id, {"last_name": "Bianchi"})
    assert response["statusCode"] == 200
    body = response["json"]
    assert body["last_name"] == "Bianchi"
    assert body["first_name"] == "Mario"
    assert body["email"] == "mario.rossi@example.com"
    assert body["locale"] == "it"
    assert body["updated_at"] == "2026-01-01T10:00:00Z"
    assert body["created_at"] == "2026-01-01T09:00:00Z"
    assert desk.get_customer(customer_id)["json"] == body


def test_patch_locale_and_email(desk):
    customer_id = desk.customer("Mario", "Rossi")
    response = desk.update_customer(customer_id, {"locale": "en", "email": "m.rossi@example.com"})
    assert response["statusCode"] == 200
    assert response["json"]["locale"] == "en"
    assert response["json"]["email"] == "m.rossi@example.com"


def test_patch_null_email_clears_it(desk):
    customer_id = desk.customer("Mario", "Rossi", "mario.rossi@example.com")
    response = desk.update_customer(customer_id, {"email": None})
    assert response["statusCode"] == 200
    assert response["json"]["email"] is None
    assert CustomerModel.get(customer_id).email is None


def test_patch_refuses_an_invalid_email_and_keeps_the_old_one(desk):
    customer_id = desk.customer("Mario", "Rossi", "mario.rossi@example.com")
    response = desk.update_customer(customer_id, {"email": "not an email"})
    assert response["statusCode"] == 422
    assert [e["field"] for e in response["json"]["errors"]] == ["email"]
    assert CustomerModel.get(customer_id).email == "mario.rossi@example.com"


def test_patch_unknown_customer_is_404(desk):
    response = desk.update_customer("no-such-customer", {"first_name": "Luca"})
    assert response["statusCode"] == 404


def test_renaming_a_linked_customer_moves_the_account_and_the_search(desk):
    # An email that does not contain the name, so only the name can match the search.
    customer_id, username = desk.account_for("Mario", "Rossi", "cliente42@example.com")
    assert desk.usernames(q="ross") == [username]

    response = desk.update_customer(customer_id, {"first_name": "Marco", "last_name": "Bianchi"})
    assert response["statusCode"] == 200

    entry = linked_customers(AccountModel.get(username))[customer_id]
    assert (entry["first_name"], entry["last_name"]) == ("Marco", "Bianchi")
    detail = desk.get_account(username)["json"]
    assert detail["customers"] == [
        {"customer_id": customer_id, "first_name": "Marco", "last_name": "Bianchi"}
    ]
    listed = desk.list_accounts()["json"]["items"]
    assert listed[0]["customers"][0]["last_name"] == "Bianchi"
    assert desk.usernames(q="bianc") == [username]
    assert desk.usernames(q="marco bia") == [username]
    assert desk.usernames(q="ross") == []
    assert desk.usernames(q="mario") == []


def test_renaming_one_of_two_linked_customers_keeps_the_other(desk):
    parent_id, username = desk.account_for("Mario", "Rossi", "cliente42@example.com")
    child_id = desk.customer("Luca", "Rossi")
    assert desk.associate(child_id, username)["statusCode"] == 200
    assert desk.update_customer(child_id, {"first_name": "Giulio"})["statusCode"] == 200
    customers = {
        c["customer_id"]: c["first_name"] for c in desk.get_account(username)["json"]["customers"]
    }
    assert customers == {parent_id: "Mario", child_id: "Giulio"}
    assert desk.usernames(q="giul") == [username]
    assert desk.usernames(q="luca") == []
    assert desk.usernames(q="ross") == [username]  # both are still Rossi
