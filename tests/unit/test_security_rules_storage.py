"""Security rules in what is stored and how it is read (issue 15).

- Every read that decides on a guess, a link or a forgot request is strongly consistent: an
  eventually consistent read could see a throttle before its last failure, a link before
  it was consumed, an account before it was disabled. moto is always consistent, so the
  tests look at the requests themselves (`reads`), one test per read path.
- What TTL may delete, and when: a link item outlives its validity (the 410 is decided in
  code, TTL only cleans up).
- The token handed out: 256 bits, in a link built from STOREFRONT_BASE_URL (or
  PASSWORD_PAGE_URL); a session's token: the username and 256 bits, a valid bearer token
  that reads back as its username.
- What is kept to the day: `last_login_at`, to the UTC day whatever the machine's zone.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import botocore.client
import pytest

from portal_accounts.config import get_settings
from portal_accounts.credentials import links
from portal_accounts.models import AccountModel, LinkTokenModel, ThrottleModel
from tests.unit.clients import GOOD_PASSWORD, link_in, seed_account
from tests.unit.test_storefront_recovery import assert_gone, request_link

MARIO = "mario.rossi@example.com"
WRONG = "not the right password at all"
GONE = "This link is not valid any more: request a new one from the login page."


@contextmanager
def reads() -> Iterator[list[tuple[str, object]]]:
    """The GetItem requests made in the block, as (table, ConsistentRead), whichever client
    sends them (as tests/faults.py wraps botocore)."""
    seen: list[tuple[str, object]] = []
    make_api_call = botocore.client.BaseClient._make_api_call

    def recording(client, operation, params):
        if operation == "GetItem":
            seen.append((params["TableName"], params.get("ConsistentRead")))
        return make_api_call(client, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", recording):
        yield seen


def consistency_of(seen, model) -> set[object]:
    """The ConsistentRead values of the GetItems on the model's table (at least one)."""
    values = {consistent for table, consistent in seen if table == model.Meta.table_name}
    assert values, f"no GetItem on {model.Meta.table_name}: {seen}"
    return values


# ---- strongly consistent reads -----------------------------------------------------------


def test_verifying_a_link_reads_the_link_and_the_account_consistently(shop, postman):
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    with reads() as seen:
        assert shop.verify(token)["statusCode"] == 200
    assert consistency_of(seen, LinkTokenModel) == {True}
    assert consistency_of(seen, AccountModel) == {True}


def test_a_forgot_request_reads_the_account_consistently(shop, postman):
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.forgot(MARIO)["statusCode"] == 202
    with reads() as seen:
        postman.drain()
    assert len(postman.sent_to(MARIO)) == 1
    assert consistency_of(seen, AccountModel) == {True}


def test_a_forgot_request_refused_by_the_interval_reads_again_consistently(
    shop, postman, frozen_clock
):
    """The second request of a burst finds its write refused and reads the account again,
    to tell "an email went out meanwhile" from "the account changed"."""
    seed_account(MARIO, [("Mario", "Rossi")])
    request_link(shop, postman)
    assert shop.forgot(MARIO)["statusCode"] == 202
    with reads() as seen:
        postman.drain()
    assert len(postman.sent_to(MARIO)) == 1  # still the first one only
    account_reads = [c for table, c in seen if table == AccountModel.Meta.table_name]
    assert len(account_reads) >= 2, seen  # the read, then the read again
    assert set(account_reads) == {True}


def test_the_throttle_is_read_consistently(shop, desk, frozen_clock):
    """What the operator's detail shows, and what a blocked login asks again after a
    pause: the throttle as its last attempt left it."""
    seed_account(MARIO, [("Mario", "Rossi")])
    assert shop.login(MARIO, WRONG)["statusCode"] == 401
    with reads() as seen:
        assert desk.get_account(MARIO)["statusCode"] == 200
    assert consistency_of(seen, ThrottleModel) == {True}


def test_an_over_long_token_is_refused_without_a_read(shop):
    """No token we issue is longer than 256 characters: longer ones (and empty ones) are
    refused before any lookup."""
    for token in ("x" * 257, "x" * 512):  # longer ones the API refuses as bad input
        with reads() as seen:
            assert_gone(shop.verify(token))
        assert seen == []
    with reads() as seen:
        assert_gone(shop.verify("x" * 256))  # as long as allowed: looked up, unknown
    assert consistency_of(seen, LinkTokenModel) == {True}


# ---- what TTL may delete -----------------------------------------------------------------


def test_a_link_item_outlives_its_validity_by_a_day(shop, postman, frozen_clock):
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    item = LinkTokenModel.get(links.hash_token(token))
    lifetime = timedelta(seconds=get_settings().reset_link_ttl_seconds)
    assert item.valid_until == frozen_clock.current + lifetime
    assert item.expires_at == item.valid_until + timedelta(days=1)


# ---- the token and its link --------------------------------------------------------------


def test_a_link_token_carries_256_random_bits(shop, postman):
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    assert len(token) == 43  # 32 bytes in base64url, unpadded


def test_the_base_urls_trailing_slash_is_not_doubled(shop, postman, monkeypatch):
    monkeypatch.setenv("STOREFRONT_BASE_URL", "https://shop.example.com/")
    get_settings.cache_clear()
    seed_account(MARIO, [("Mario", "Rossi")])
    request_link(shop, postman)
    link, _ = link_in(postman.sent_to(MARIO)[-1])
    assert link.startswith("https://shop.example.com/reset-password?token=")


def test_an_unknown_link_says_what_to_do(shop):
    answer = shop.verify("unknown-token-" + "A" * 30)
    assert_gone(answer)
    assert answer["json"]["detail"] == GONE


def test_a_consumed_link_says_what_to_do(shop, postman):
    seed_account(MARIO, [("Mario", "Rossi")])
    token = request_link(shop, postman)
    assert shop.reset(token, "girasole stanco sul balcone azzurro")["statusCode"] == 204
    for answer in (shop.verify(token), shop.reset(token, GOOD_PASSWORD)):
        assert_gone(answer)
        assert answer["json"]["detail"] == GONE


def test_a_set_password_link_lives_as_long_as_its_own_setting(clean_aws, frozen_clock):
    """The operator's "set your password" link and the customer's reset link have their
    own lifetimes (SET_PASSWORD_LINK_TTL_SECONDS, RESET_LINK_TTL_SECONDS)."""
    settings = get_settings()
    assert settings.set_password_link_ttl_seconds != settings.reset_link_ttl_seconds
    account = seed_account(MARIO, [("Mario", "Rossi")])
    for purpose, seconds in (
        (links.SET_PASSWORD, settings.set_password_link_ttl_seconds),
        (links.RESET, settings.reset_link_ttl_seconds),
    ):
        _, item, _ = links.issue_actions(account, purpose)
        assert item.valid_until == frozen_clock.current + timedelta(seconds=seconds)


def test_a_password_page_with_a_query_of_its_own_gets_the_token_appended_to_it(
    shop, postman, monkeypatch
):
    """PASSWORD_PAGE_URL may carry a query already (a storefront's own page): the token
    joins it with `&`, it does not start a second query with `?`."""
    monkeypatch.setenv("PASSWORD_PAGE_URL", "https://shop.example.com/account?page=password")
    get_settings.cache_clear()
    try:
        seed_account(MARIO, [("Mario", "Rossi")])
        assert shop.forgot(MARIO)["statusCode"] == 202
        postman.drain()
        [email] = postman.sent_to(MARIO)
        [link] = set(re.findall(r"https://shop\.example\.com/[^\s\"<>]+", email["text"]))
        assert re.fullmatch(
            r"https://shop\.example\.com/account\?page=password&token=[A-Za-z0-9_-]{43}", link
        ), link
    finally:
        monkeypatch.delenv("PASSWORD_PAGE_URL")
        get_settings.cache_clear()


# ---- the session token -------------------------------------------------------------------

# Usernames whose base64url needs no padding, one "=", two "=", and one that ends in "X"
# (a Lithuanian domain the API accepts: "ė" ends in the byte that encodes as "X").
USERNAMES = ["luca@example.it", MARIO, "anna@example.net", "ivo@sportas.lė"]


def test_a_session_token_is_a_bearer_token_of_the_username_and_256_random_bits(shop):
    """The username in base64url, unpadded, a dot, and 32 random bytes in base64url: what
    RFC 6750 allows in `Authorization: Bearer` (no "=" but at the very end), whatever the
    username."""
    for username in USERNAMES:
        seed_account(username, [("Mario", "Rossi")])
        token = shop.token(username, GOOD_PASSWORD)
        assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}", token), (username, token)


def test_a_session_works_whatever_its_usernames_encoding_ends_with(shop):
    """The token's username part reads back as the username (the session is looked up
    with its account by it): a session works for every username the API accepts."""
    for username in USERNAMES:
        seed_account(username, [("Mario", "Rossi")])
        token = shop.token(username, GOOD_PASSWORD)
        me = shop.me(token)
        assert me["statusCode"] == 200, (username, me)
        assert me["json"]["username"] == username


# ---- what is kept to the day -------------------------------------------------------------


@pytest.fixture
def machine_zone() -> Iterator[Callable[[str], None]]:
    """The process's local time zone (TZ, POSIX syntax) set for the test: a developer's
    machine or the local stack may run in any zone (Lambda runs in UTC)."""
    before = os.environ.get("TZ")

    def set_zone(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield set_zone
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.parametrize("zone", ["JST-9", "EST5"])  # 9 hours east of UTC, 5 hours west
def test_the_last_login_is_kept_to_the_utc_day_whatever_the_machines_zone(
    shop, desk, frozen_clock, machine_zone, zone
):
    """`last_login_at` is written by the day's first login, the day being UTC's on both
    sides of the comparison: a login after UTC midnight records itself even when the
    machine's own date has not changed, and one before it does not even when it has."""
    machine_zone(zone)
    seed_account(MARIO, [("Mario", "Rossi")])

    def last_login() -> str | None:
        return desk.get_account(MARIO)["json"]["last_login_at"]

    frozen_clock.advance(hours=14, minutes=59)  # 2026-01-01 23:59 UTC
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert last_login() == "2026-01-01T23:59:00Z"
    frozen_clock.advance(minutes=2)  # 00:01 UTC: the same local date in either zone
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert last_login() == "2026-01-02T00:01:00Z"
    frozen_clock.advance(hours=23, minutes=57)  # 23:58 UTC: past local midnight in both
    assert shop.login(MARIO, GOOD_PASSWORD)["statusCode"] == 200
    assert last_login() == "2026-01-02T00:01:00Z"
