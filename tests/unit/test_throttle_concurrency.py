"""The guess throttle under racing requests: real threads against the moto server, which
serialises requests the way DynamoDB makes each write atomic (tests/unit/conftest.py)."""

from __future__ import annotations

import threading

from portal_accounts import clock
from portal_accounts.config import get_settings
from portal_accounts.signin import auth
from tests.unit.clients import GOOD_PASSWORD, OTHER_GOOD_PASSWORD, Shop, seed_account
from tests.unit.test_storefront_concurrency import race

MARIO = "mario.rossi@example.com"
WRONG = "not the right password at all"


def counting_checks(monkeypatch) -> list[int]:
    checks: list[int] = []
    lock = threading.Lock()
    original = auth.verify_password

    def counting(password_hash, password):
        with lock:
            checks.append(1)
        return original(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    return checks


def test_right_passwords_in_parallel_all_log_in(moto_server, monkeypatch):
    """Each check holds its attempt for a while (until all eight are checking, or 0.3 s),
    so every login is counted before any is cleared: none may take another's budget."""
    arrived: list[int] = []
    everyone = threading.Event()
    lock = threading.Lock()
    original = auth.verify_password

    def slow(password_hash, password):
        with lock:
            arrived.append(1)
            if len(arrived) == 8:
                everyone.set()
        everyone.wait(timeout=0.3)
        return original(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", slow)
    with clock.frozen():
        seed_account(MARIO, [("Mario", "Rossi")])
        shop = Shop()
        responses = race(8, lambda: shop.login(MARIO, GOOD_PASSWORD))
    statuses = [r["statusCode"] for r in responses]
    assert statuses == [200] * 8, statuses
    assert len({r["json"]["token"] for r in responses}) == 8


def test_once_a_window_opens_racing_guesses_get_one_check(moto_server, monkeypatch):
    with clock.frozen() as frozen:
        seed_account(MARIO, [("Mario", "Rossi")])
        shop = Shop()
        for _ in range(get_settings().login_max_failures):
            assert shop.login(MARIO, WRONG)["statusCode"] == 401
        assert shop.login(MARIO, WRONG)["statusCode"] == 429
        frozen.advance(seconds=1)  # the window opens: one attempt in it, however many race
        checks = counting_checks(monkeypatch)
        responses = race(12, lambda: shop.login(MARIO, WRONG))
    statuses = sorted(r["statusCode"] for r in responses)
    assert len(checks) == 1, statuses
    assert statuses == [401] + [429] * 11


def test_racing_wrong_current_passwords_get_at_most_the_free_checks(moto_server, monkeypatch):
    with clock.frozen():
        seed_account(MARIO, [("Mario", "Rossi")])
        shop = Shop()
        session = shop.token(MARIO, GOOD_PASSWORD)
        checks = counting_checks(monkeypatch)
        responses = race(12, lambda: shop.change_password(session, WRONG, OTHER_GOOD_PASSWORD))
    statuses = [r["statusCode"] for r in responses]
    limit = get_settings().login_max_failures
    assert len(checks) == limit, statuses
    assert sorted(statuses) == [403] * limit + [429] * (12 - limit)
