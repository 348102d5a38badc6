"""F1: list accounts by status, search by a few letters, paginate with opaque cursors."""

from __future__ import annotations

import base64
import json

import pytest

from portal_accounts.models import AccountModel, CustomerModel, SearchEntryModel
from tests.unit.clients import seed_account


def forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def assert_bad_query(response, field: str) -> None:
    assert response["statusCode"] == 422, response
    assert response["headers"]["Content-Type"] == "application/problem+json"
    assert field in [error["field"] for error in response["json"]["errors"]]


# ---- listing ------------------------------------------------------------------------------


def test_listing_shows_each_account_with_its_customers(desk):
    account = seed_account("c1@example.com", [("Mario", "Rossi"), ("Luca", "Rossi")])
    response = desk.list_accounts()
    assert response["statusCode"] == 200
    assert response["json"]["next_cursor"] is None
    [item] = response["json"]["items"]
    assert item["username"] == account.username
    assert item["status"] == "active"
    assert item["last_login_at"] is None
    assert sorted((c["first_name"], c["last_name"]) for c in item["customers"]) == [
        ("Luca", "Rossi"),
        ("Mario", "Rossi"),
    ]
    assert all(c["customer_id"] for c in item["customers"])


def test_listing_filters_by_status(desk):
    seed_account("a1@example.com", [("Anna", "Neri")])
    seed_account("a2@example.com", [("Bruno", "Neri")])
    seed_account("d1@example.com", [("Carla", "Neri")], status="disabled")
    assert desk.usernames() == ["a1@example.com", "a2@example.com"]
    assert desk.usernames(status="active") == ["a1@example.com", "a2@example.com"]
    assert desk.usernames(status="disabled") == ["d1@example.com"]
    assert desk.all_pages(status="all") == ["a1@example.com", "a2@example.com", "d1@example.com"]


def test_an_empty_registry_lists_nothing(desk):
    for status in ("active", "disabled", "all"):
        assert desk.all_pages(status=status) == []
    assert desk.list_accounts(q="ross")["json"] == {
        "items": [],
        "next_cursor": None,
        "partial": False,
    }


def test_pagination_returns_every_account_exactly_once(desk):
    usernames = sorted(f"user{n:02d}@example.com" for n in range(12))
    for username in usernames:
        seed_account(username, [("Anna", "Neri")])
    for limit in (1, 4, 5, 12, 13, 100):
        assert desk.all_pages(limit=limit) == usernames, limit


def test_status_all_walks_active_then_disabled_exactly_once(desk):
    active = sorted(f"on{n}@example.com" for n in range(7))
    disabled = sorted(f"off{n}@example.com" for n in range(5))
    for username in active:
        seed_account(username, [("Anna", "Neri")])
    for username in disabled:
        seed_account(username, [("Bruno", "Neri")], status="disabled")
    # Page ends before, exactly at and after the active -> disabled boundary.
    for limit in (1, 3, 5, 6, 7, 8, 12, 100):
        assert desk.all_pages(status="all", limit=limit) == active + disabled, limit
        assert desk.all_pages(status="disabled", limit=limit) == disabled, limit
        assert desk.all_pages(limit=limit) == active, limit


# ---- search -------------------------------------------------------------------------------


@pytest.fixture
def registry(desk):
    """A few accounts whose emails do not contain the names, so each match is explained."""
    return {
        "mario_rossi": seed_account("c1@example.com", [("Mario", "Rossi")]).username,
        "mario_bianchi": seed_account("c2@example.com", [("Mario", "Bianchi")]).username,
        "luca_rossini": seed_account("c3@example.com", [("Luca", "Rossini")]).username,
        "jose": seed_account("c4@example.com", [("José", "Álvarez")]).username,
        "nord": seed_account("segreteria.kappa@palestra-nord.it", [("Irene", "Gallo")]).username,
    }


def found(desk, q, **query) -> set[str]:
    return set(desk.all_pages(q=q, **query))


def test_search_by_the_start_of_a_last_name(desk, registry):
    assert found(desk, "ross") == {registry["mario_rossi"], registry["luca_rossini"]}
    assert found(desk, "rossi") == {registry["mario_rossi"], registry["luca_rossini"]}
    assert found(desk, "rossin") == {registry["luca_rossini"]}
    assert found(desk, "bi") == {registry["mario_bianchi"]}


def test_search_by_first_name(desk, registry):
    assert found(desk, "mar") == {registry["mario_rossi"], registry["mario_bianchi"]}
    assert found(desk, "ire") == {registry["nord"]}


def test_search_ignores_case_and_accents(desk, registry):
    assert found(desk, "ROSS") == {registry["mario_rossi"], registry["luca_rossini"]}
    assert found(desk, "jose") == {registry["jose"]}
    assert found(desk, "JOSÉ") == {registry["jose"]}
    assert found(desk, "alva") == {registry["jose"]}
    assert found(desk, "Álv") == {registry["jose"]}


def test_search_by_email_local_part_and_domain(desk, registry):
    assert found(desk, "segret") == {registry["nord"]}
    assert found(desk, "kappa") == {registry["nord"]}
    # The domain's words have no tokens (issue 10): alone they find nothing, with a word
    # of the local part or of a name they narrow.
    assert found(desk, "nord") == set()
    assert found(desk, "palestra-n") == set()
    assert found(desk, "kappa nord") == {registry["nord"]}
    assert found(desk, "irene palestra") == {registry["nord"]}
    assert found(desk, "kappa example") == set()


def test_several_words_narrow_the_search(desk, registry):
    assert found(desk, "mario ros") == {registry["mario_rossi"]}
    assert found(desk, "ros mario") == {registry["mario_rossi"]}
    assert found(desk, "mario bian") == {registry["mario_bianchi"]}
    assert found(desk, "luca ross") == {registry["luca_rossini"]}
    assert found(desk, "luca bianchi") == set()


def test_search_finds_nothing_for_letters_inside_a_word(desk, registry):
    assert found(desk, "ossi") == set()
    assert found(desk, "xyz") == set()


def test_search_items_have_the_listing_shape(desk, registry):
    [item] = desk.list_accounts(q="bianchi")["json"]["items"]
    assert item["username"] == registry["mario_bianchi"]
    assert item["status"] == "active"
    assert [(c["first_name"], c["last_name"]) for c in item["customers"]] == [("Mario", "Bianchi")]


def test_an_account_with_two_matching_customers_is_found_once(desk):
    username = seed_account("c9@example.com", [("Rosa", "Rossi"), ("Mario", "Rossi")]).username
    assert desk.all_pages(q="ros") == [username]


def test_search_respects_the_status_filter(desk, registry):
    disabled = seed_account("c8@example.com", [("Paolo", "Rossetti")], status="disabled")
    assert disabled.username not in found(desk, "ross")
    assert found(desk, "ross", status="disabled") == {disabled.username}
    assert found(desk, "ross", status="all") == {
        registry["mario_rossi"],
        registry["luca_rossini"],
        disabled.username,
    }


def test_a_search_needs_a_word_of_two_letters(desk):
    seed_account("c1@example.com", [("R", "Rossi")])
    for q in ("r", "R", "é", "a b", "--", "r ."):
        assert_bad_query(desk.list_accounts(q=q), "q")


def test_an_overlong_search_is_refused(desk):
    assert_bad_query(desk.list_accounts(q="a" * 101), "q")


def test_search_pagination_returns_every_match_exactly_once(desk):
    matching = {
        seed_account(f"f{n:02d}@example.com", [("Anna", "Ferrari")]).username for n in range(12)
    }
    seed_account("other1@example.com", [("Anna", "Fabbri")])
    seed_account("other2@example.com", [("Bruno", "Ferrari")], status="disabled")
    for limit in (1, 5, 12, 100):
        for q in ("ferr", "anna ferr", "FERRARI"):
            pages = desk.all_pages(q=q, limit=limit)
            assert len(pages) == len(set(pages)) == 12, (q, limit)
            assert set(pages) == matching, (q, limit)
    pages = desk.all_pages(q="ferr", status="all", limit=5)
    assert set(pages) == matching | {"other2@example.com"}
    assert len(pages) == 13


# ---- stale index entries ------------------------------------------------------------------


def test_a_stale_name_in_the_index_never_shows(desk):
    account = seed_account("c1@example.com", [("Mario", "Rossi")])
    [customer_id] = account.customers.as_dict()
    # The account changes but its index entries are not updated (a sync cut off half-way).
    account.update(actions=[AccountModel.customers[customer_id]["last_name"].set("Bianchi")])
    assert desk.usernames(q="ross") == []
    assert desk.usernames(q="mario ross") == []


def test_a_stale_status_in_the_index_never_shows(desk):
    account = seed_account("c1@example.com", [("Mario", "Rossi")])
    account.update(actions=[AccountModel.status.set("disabled")])
    assert desk.usernames(q="ross") == []  # the index still says active: it is re-checked
    assert desk.usernames(q="ross", status="all") == ["c1@example.com"]
    [item] = desk.list_accounts(q="ross", status="all")["json"]["items"]
    assert item["status"] == "disabled"


def test_an_index_entry_of_a_deleted_account_never_shows(desk):
    account = seed_account("c1@example.com", [("Mario", "Rossi")])
    AccountModel("c1@example.com").delete()
    for customer_id in account.customers.as_dict():
        CustomerModel(customer_id).delete()
    assert desk.usernames(q="ross") == []
    assert desk.usernames() == []


# ---- bad queries and cursors --------------------------------------------------------------


def test_limit_must_be_between_1_and_100(desk):
    for limit in ("0", "101", "-1", "abc", "1.5"):
        for query in ({}, {"q": "ross"}):
            assert_bad_query(desk.list_accounts(limit=limit, **query), "limit")


def test_limit_bounds_are_inclusive(desk):
    assert desk.list_accounts(limit=1)["statusCode"] == 200
    assert desk.list_accounts(limit=100)["statusCode"] == 200


def test_unknown_status_is_refused(desk):
    assert_bad_query(desk.list_accounts(status="deleted"), "status")


def seed_pages(desk) -> None:
    for n in range(4):
        seed_account(f"user{n}@example.com", [("Anna", "Ferrari")])
        seed_account(f"off{n}@example.com", [("Anna", "Ferrari")], status="disabled")


GARBAGE_CURSORS = [
    "garbage",
    "!!!not base64!!!",
    "e30",  # "{}" unpadded
    forge([]),
    forge({"k": "x"}),
    forge({"k": {"status": {"S": "active"}}, "s": "active"}),  # a key part missing
    forge({"k": {"status": {"S": "active"}, "username": {"N": "1"}}, "s": "active"}),
    forge({"k": {"status": {"S": "active"}, "username": {"S": "a"}, "x": {"S": "b"}}}),
    forge({"k": {"status": {"S": "active"}, "username": {"S": "a"}}, "s": "deleted"}),
    forge({"k": {"status": {"S": "active"}, "username": {"S": "a"}}}),  # no phase
    forge({"k": {"status": {"S": "active"}, "username": {"S": ["a"]}}, "s": "active"}),
    forge({"k": {"token": {"S": "ferr"}, "entry": {"S": "active#x"}}}),
    # Key values DynamoDB itself refuses (a ValidationException, a 500 if let through):
    # empty, or over 1,024 bytes.
    forge({"k": {"status": {"S": "active"}, "username": {"S": ""}}, "s": "active"}),
    forge({"k": {"status": {"S": "active"}, "username": {"S": "x" * 1025}}, "s": "active"}),
    forge({"k": {"token": {"S": "rossi"}, "entry": {"S": ""}}}),
    forge({"k": {"token": {"S": "rossi"}, "entry": {"S": "x" * 1025}}}),
    # The word index's keys: the word and the phase must be the query's, the partition
    # the word's, the entry under both.
    forge({"k": {"prefix": {"S": "ro"}, "entry": {"S": "active#rossi#x"}}}),
    forge({"k": {"prefix": {"S": "ro"}, "entry": {"S": "active#rossi#x"}}, "t": "rossi"}),
    forge({"k": {"prefix": {"S": "ro"}, "entry": {"S": "active#rossi#x"}}, "s": "active"}),
    forge({"k": {}, "s": "deleted", "t": "rossi"}),
    forge(
        {
            "k": {"prefix": {"S": "fe"}, "entry": {"S": "active#rossi#x"}},
            "s": "active",
            "t": "rossi",
        }
    ),
    forge(
        {
            "k": {"prefix": {"S": "ro"}, "entry": {"S": "active#ferri#x"}},
            "s": "active",
            "t": "rossi",
        }
    ),
    forge({"k": {"prefix": {"S": "ro"}, "entry": {"S": ""}}, "s": "active", "t": "rossi"}),
    forge({"k": {"prefix": {"S": "ro"}}, "s": "active", "t": "rossi"}),
    forge(
        {
            "k": {"prefix": {"S": "ro"}, "entry": {"S": "active#rossi#" + "x" * 1025}},
            "s": "active",
            "t": "rossi",
        }
    ),
    "a" * 2049,
]


def test_a_forged_cursor_is_422_never_500(desk):
    seed_pages(desk)
    for cursor in GARBAGE_CURSORS:
        for query in (
            {},
            {"status": "all"},
            {"status": "disabled"},
            {"q": "rossi"},
            {"q": "rossi", "status": "all"},
        ):
            response = desk.list_accounts(cursor=cursor, limit=2, **query)
            assert response["statusCode"] == 422, (cursor, query)
            assert "cursor" in [e["field"] for e in response["json"]["errors"]], (cursor, query)


def test_a_cursor_cannot_point_into_another_status(desk):
    seed_pages(desk)
    forged = forge(
        {"k": {"status": {"S": "disabled"}, "username": {"S": "off0@example.com"}}, "s": "disabled"}
    )
    assert_bad_query(desk.list_accounts(cursor=forged, limit=2), "cursor")
    active_cursor = desk.list_accounts(limit=2)["json"]["next_cursor"]
    assert active_cursor
    assert_bad_query(desk.list_accounts(status="disabled", cursor=active_cursor), "cursor")


def test_a_cursor_from_another_search_is_422(desk):
    seed_pages(desk)
    cursor = desk.list_accounts(q="ferr", limit=2)["json"]["next_cursor"]
    assert cursor
    assert_bad_query(desk.list_accounts(q="anna", cursor=cursor, limit=2), "cursor")
    assert_bad_query(desk.list_accounts(q="ferrari", cursor=cursor, limit=2), "cursor")
    # ... and a search cursor is no listing cursor, nor the other way round.
    assert_bad_query(desk.list_accounts(cursor=cursor, limit=2), "cursor")
    listing_cursor = desk.list_accounts(limit=2)["json"]["next_cursor"]
    assert_bad_query(desk.list_accounts(q="ferr", cursor=listing_cursor, limit=2), "cursor")


def test_a_search_cursor_cannot_be_replayed_under_another_status(desk):
    # On DynamoDB a start key outside the query's key condition (entry not under the
    # "<status>#" prefix) is a ValidationException, i.e. a 500: it must be refused as 422.
    seed_pages(desk)
    cursor = desk.list_accounts(q="ferr", status="active", limit=2)["json"]["next_cursor"]
    assert cursor
    assert_bad_query(
        desk.list_accounts(q="ferr", status="disabled", cursor=cursor, limit=2), "cursor"
    )
    forged = forge(
        {
            "k": {"prefix": {"S": "fe"}, "entry": {"S": "disabled#ferrari#off0@example.com"}},
            "s": "active",
            "t": "ferr",
        }
    )
    assert_bad_query(desk.list_accounts(q="ferr", cursor=forged, limit=2), "cursor")
    # A cursor at the start of a phase names the query's word too.
    for word in ("ferrari", ["ferr"], None):
        forged = forge({"k": {}, "s": "active", "t": word})
        assert_bad_query(desk.list_accounts(q="ferr", cursor=forged, limit=2), "cursor")


def test_a_stale_entry_of_a_second_word_never_shows_the_account_twice(desk):
    account = seed_account("c1@example.com", [("Marco", "Rossi")])
    # Rosa was unlinked, but the delete of her word's entry was lost: the stale entry
    # says "rosa" is the account's first word for "ros", the fresh one says "rossi".
    stale = {"rosa", *account.indexed_words}
    SearchEntryModel("ro", "active#rosa#c1@example.com", words=stale).save()
    for limit in (1, 2, 25):
        assert desk.all_pages(q="ros", limit=limit) == ["c1@example.com"], limit
        assert desk.all_pages(q="rosa", limit=limit) == [], limit
