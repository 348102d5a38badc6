"""No secret in any log: a whole flow through the real handlers, every line they log read.

Operator: customer, account with a temporary password, credentials email (set-password
link), a reset by email link and one with a generated password. Customer: login, session
check, change of password, forgot, reset, login, logout; the sender delivers every email.
The secrets are what that flow hands out: every password, every link token (from the
emails), every session token, their SHA-256 hashes and the argon2 hashes stored; none may
appear in what the functions log (tests/logs.py: their logger at DEBUG, the libraries at
INFO) or print.
"""

from __future__ import annotations

import hashlib
import logging

import pytest

from portal_accounts.models import AccountModel
from tests.logs import captured
from tests.unit.clients import (
    FOURTH_GOOD_PASSWORD,
    GENERATED_PASSWORD,
    GOOD_PASSWORD,
    OTHER_GOOD_PASSWORD,
    THIRD_GOOD_PASSWORD,
    link_in,
)

MARIA = "maria.rossi@example.com"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Secrets:
    def __init__(self) -> None:
        self.found: set[str] = set()

    def add(self, *secrets: str) -> None:
        for secret in secrets:
            assert secret and len(secret) >= 8, secret
            self.found |= {secret, sha256(secret)}
            _, dot, random_part = secret.partition(".")  # a session token's secret half
            if dot and len(random_part) >= 16:
                self.found.add(random_part)

    def stored_hash(self) -> None:
        self.found.add(AccountModel.get(MARIA, consistent_read=True).password_hash)

    def email_link(self, postman) -> str:
        postman.drain()
        link, token = link_in(postman.sent_to(MARIA)[-1])
        self.add(token, link)
        return token

    def email_password(self, postman) -> str:
        postman.drain()
        [password] = set(GENERATED_PASSWORD.findall(postman.sent_to(MARIA)[-1]["text"]))
        self.add(password)
        return password


def run_the_flow(desk, operator, shop, postman, secrets: Secrets) -> None:
    secrets.add(GOOD_PASSWORD, OTHER_GOOD_PASSWORD, THIRD_GOOD_PASSWORD, FOURTH_GOOD_PASSWORD)
    customer_id = desk.customer("Maria", "Rossi", MARIA)
    created = desk.create_account(customer_id, password=GOOD_PASSWORD, temporary=True)
    assert created["statusCode"] == 201, created
    secrets.stored_hash()

    assert operator.send_credentials(customer_id)["statusCode"] == 202
    set_password_token = secrets.email_link(postman)
    assert shop.verify(set_password_token)["statusCode"] == 200
    assert shop.reset(set_password_token, OTHER_GOOD_PASSWORD)["statusCode"] == 204
    secrets.stored_hash()

    login = shop.login(MARIA, OTHER_GOOD_PASSWORD)
    assert login["statusCode"] == 200, login
    token = login["json"]["token"]
    secrets.add(token)
    assert shop.me(token)["statusCode"] == 200
    assert shop.login(MARIA, "a wrong password, logged as a failure")["statusCode"] == 401
    changed = shop.change_password(token, OTHER_GOOD_PASSWORD, THIRD_GOOD_PASSWORD)
    assert changed["statusCode"] == 204, changed
    secrets.stored_hash()

    assert shop.forgot(MARIA)["statusCode"] == 202
    reset_token = secrets.email_link(postman)
    assert shop.reset(reset_token, FOURTH_GOOD_PASSWORD)["statusCode"] == 204
    assert shop.reset(reset_token, FOURTH_GOOD_PASSWORD)["statusCode"] == 410  # used: refused
    secrets.stored_hash()

    assert operator.reset_password(customer_id, {"mode": "reset_link"})["statusCode"] == 202
    secrets.email_link(postman)
    assert operator.reset_password(customer_id)["statusCode"] == 202
    temporary = secrets.email_password(postman)
    secrets.stored_hash()

    second = shop.login(MARIA, temporary)
    assert second["statusCode"] == 200, second
    secrets.add(second["json"]["token"])
    assert shop.logout(second["json"]["token"])["statusCode"] == 204
    assert shop.me(second["json"]["token"])["statusCode"] == 401


@pytest.mark.parametrize("root_level", [logging.INFO, logging.DEBUG], ids=["INFO", "DEBUG"])
def test_no_password_token_session_or_hash_is_ever_logged(
    desk, operator, shop, postman, frozen_clock, capsys, root_level
):
    """Even with the root logger at DEBUG: botocore and PynamoDB, which log request bodies
    at DEBUG, are held at INFO by portal_accounts.observability."""
    secrets = Secrets()
    with captured(root_level=root_level) as logs:
        run_the_flow(desk, operator, shop, postman, secrets)
    printed = capsys.readouterr()
    assert logs.records, "the flow logged nothing: the capture is not listening"
    assert any(r.get("message") == "email sent" for r in logs.records)
    everything = "\n".join([logs.text, printed.out, printed.err])
    assert "$argon2" not in everything
    leaked = sorted(secret[:12] + "..." for secret in secrets.found if secret in everything)
    assert not leaked, f"secrets in the logs: {leaked}"
