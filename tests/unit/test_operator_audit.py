"""The audit trail: every operator action on an account, who did it and when, newest first."""

from __future__ import annotations

import base64
import json

import pytest

from tests.helpers import OPERATOR_CLAIMS
from tests.unit.clients import OTHER_GOOD_PASSWORD, Desk

MARIO = "mario.rossi@example.com"
OPERATOR = {"type": "operator", "id": OPERATOR_CLAIMS["sub"], "email": OPERATOR_CLAIMS["email"]}


@pytest.fixture
def history(frozen_clock, desk):
    """Five operator actions on one account, a minute apart."""
    parent_id, username = desk.account_for("Mario", "Rossi", MARIO)
    child_id = desk.customer("Luca", "Rossi")
    steps = [
        lambda: desk.associate(child_id, username),
        lambda: desk.set_password(username, OTHER_GOOD_PASSWORD, temporary=False),
        lambda: desk.disable(username),
        lambda: desk.enable(username),
        lambda: desk.dissociate(child_id),
    ]
    for step in steps:
        frozen_clock.advance(minutes=1)
        assert step()["statusCode"] in (200, 204)
    return {"username": username, "parent_id": parent_id, "child_id": child_id}


# Disabling and setting a password end the account's sessions: that security event is
# written with the change, listed right after it (newest first: above it).
EXPECTED_ACTIONS = [
    "account.customer_dissociated",
    "account.enabled",
    "sessions.revoked",
    "account.disabled",
    "sessions.revoked",
    "account.password_set",
    "account.customer_associated",
    "account.created",
]


def test_events_are_listed_newest_first_with_who_what_when(desk, history):
    response = desk.events(history["username"])
    assert response["statusCode"] == 200
    events = response["json"]["items"]
    assert [e["action"] for e in events] == EXPECTED_ACTIONS
    assert [e["at"] for e in events] == [
        "2026-01-01T09:05:00Z",
        "2026-01-01T09:04:00Z",
        "2026-01-01T09:03:00Z",
        "2026-01-01T09:03:00Z",
        "2026-01-01T09:02:00Z",
        "2026-01-01T09:02:00Z",
        "2026-01-01T09:01:00Z",
        "2026-01-01T09:00:00Z",
    ]
    assert all(e["actor"] == OPERATOR for e in events)
    assert events[0]["target"] == history["child_id"]
    assert events[0]["details"] == {"last_customer": False}
    assert events[2]["details"] == {"cause": "account.disabled", "scope": "all"}
    assert events[4]["details"] == {"cause": "account.password_set", "scope": "all"}
    assert events[5]["details"] == {"temporary": False}
    assert events[6]["target"] == history["child_id"]
    assert events[7]["target"] == history["parent_id"]
    assert response["json"]["next_cursor"] is None


def test_events_never_carry_the_password(desk, history):
    assert OTHER_GOOD_PASSWORD not in desk.events(history["username"])["body"]


def test_events_paginate_with_a_cursor(desk, history):
    seen, cursor, pages = [], None, 0
    while True:
        response = desk.events(history["username"], limit=2, cursor=cursor)
        assert response["statusCode"] == 200
        assert len(response["json"]["items"]) <= 2
        seen += [e["action"] for e in response["json"]["items"]]
        cursor = response["json"]["next_cursor"]
        pages += 1
        if cursor is None or pages > 10:
            break
    assert seen == EXPECTED_ACTIONS
    assert pages in (4, 5)  # 4 full pages, perhaps an empty last one


def test_events_limit_and_cursor_are_validated(desk, history):
    username = history["username"]
    for limit in ("0", "101", "x"):
        response = desk.events(username, limit=limit)
        assert response["statusCode"] == 422, limit
        assert [e["field"] for e in response["json"]["errors"]] == ["limit"]
    assert len(desk.events(username, limit=1)["json"]["items"]) == 1
    for cursor in ("garbage", base64.urlsafe_b64encode(b'{"k": {}}').decode()):
        response = desk.events(username, cursor=cursor)
        assert response["statusCode"] == 422, cursor
        assert [e["field"] for e in response["json"]["errors"]] == ["cursor"]


def test_a_cursor_of_another_accounts_trail_is_refused(desk, history):
    desk.account_for("Lucia", "Verdi", "lucia.verdi@example.com")
    cursor = desk.events(history["username"], limit=2)["json"]["next_cursor"]
    payload = json.loads(base64.urlsafe_b64decode(cursor))
    assert payload["k"]["subject"]["S"].endswith(history["username"])
    response = desk.events("lucia.verdi@example.com", limit=2, cursor=cursor)
    assert response["statusCode"] == 422
    assert [e["field"] for e in response["json"]["errors"]] == ["cursor"]


def test_events_of_an_unknown_account_are_404(desk):
    response = desk.events("nobody@example.com")
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "application/problem+json"


def test_events_are_per_account(desk, history):
    desk.account_for("Lucia", "Verdi", "lucia.verdi@example.com")
    lucia = desk.events("lucia.verdi@example.com")["json"]["items"]
    assert [e["action"] for e in lucia] == ["account.created"]


def test_the_detail_includes_the_recent_events(desk, history):
    detail = desk.get_account(history["username"])["json"]
    assert [e["action"] for e in detail["recent_events"]] == EXPECTED_ACTIONS
    assert detail["recent_events"][0]["actor"] == OPERATOR
    assert detail["recent_events"][0]["at"] == "2026-01-01T09:05:00Z"


def test_the_detail_shows_at_most_the_latest_events(frozen_clock, desk):
    _, username = desk.account_for("Mario", "Rossi", MARIO)
    for _ in range(7):
        frozen_clock.advance(minutes=1)
        assert desk.disable(username)["statusCode"] == 200
        frozen_clock.advance(minutes=1)
        assert desk.enable(username)["statusCode"] == 200
    recent = desk.get_account(username)["json"]["recent_events"]
    all_events = []
    cursor = None
    while True:
        page = desk.events(username, limit=100, cursor=cursor)["json"]
        all_events += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(all_events) == 22  # created, then 7 x (disabled + sessions revoked, enabled)
    assert 1 <= len(recent) < 15
    assert recent == all_events[: len(recent)]
    assert recent[0]["action"] == "account.enabled"


def test_the_actor_comes_from_each_request_s_claims(frozen_clock, clean_aws):
    scope = {"scope": "portal-accounts/operator"}
    first = Desk({"sub": "op-1", "email": "anna@palestra.example", **scope})
    second = Desk({"sub": "op-2", **scope})
    _, username = first.account_for("Mario", "Rossi", MARIO)
    frozen_clock.advance(minutes=1)
    assert second.disable(username)["statusCode"] == 200
    events = first.events(username)["json"]["items"]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("sessions.revoked", {"type": "operator", "id": "op-2", "email": None}),
        ("account.disabled", {"type": "operator", "id": "op-2", "email": None}),
        ("account.created", {"type": "operator", "id": "op-1", "email": "anna@palestra.example"}),
    ]
