"""Racing storefront requests, with real threads against the local stack's moto server.

moto in-process (mock_aws) does not make a conditional write or a transaction atomic
against other threads; the moto server of local/aws.py serialises requests the way
DynamoDB makes each of them atomic, so these tests exercise our conditions, not moto.

Every thread sends the same body: the handlers' resolvers are module globals made for one
invocation at a time (as on Lambda), so identical requests keep that out of the picture.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3

from portal_accounts import clock
from portal_accounts.config import get_settings
from portal_accounts.models import AccountModel
from portal_accounts.signin import auth
from tests.unit.clients import (
    GOOD_PASSWORD,
    LINK,
    UNAUTHORIZED,
    Operator,
    Postman,
    Shop,
    authorize,
    open_mailbox,
    seed_account,
)

MARIO = "mario.rossi@example.com"
NEW_PASSWORD = "girasole stanco sul balcone azzurro"
WRONG = "not the right password at all"


def race(threads: int, action) -> list[dict]:
    start = threading.Barrier(threads)

    def run(_):
        start.wait()
        return action()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, range(threads)))


def test_racing_wrong_passwords_get_at_most_the_free_checks(moto_server, monkeypatch):
    assert (
        AccountModel._get_connection().connection.client.meta.endpoint_url
        == os.environ["AWS_ENDPOINT_URL"]
    )
    with clock.frozen():
        seed_account(MARIO, [("Mario", "Rossi")])
        checks = []
        lock = threading.Lock()
        original = auth.verify_password

        def counting(password_hash, password):
            with lock:
                checks.append(1)
            return original(password_hash, password)

        monkeypatch.setattr(auth, "verify_password", counting)
        shop = Shop()
        responses = race(20, lambda: shop.login(MARIO, WRONG))

        statuses = [r["statusCode"] for r in responses]
        limit = get_settings().login_max_failures
        assert set(statuses) <= {401, 429}, statuses
        assert 1 <= len(checks) <= limit + 1, len(checks)
        assert statuses.count(401) == len(checks)
        assert statuses.count(429) == 20 - len(checks)
        for response in responses:
            if response["statusCode"] == 429:
                assert int(response["headers"]["Retry-After"]) > 0


def test_one_reset_link_redeemed_at_once_by_ten_wins_once(moto_server):
    account = seed_account(MARIO, [("Mario", "Rossi")])
    [customer_id] = list(account.customers.as_dict())
    shop = Shop()
    session = shop.token(MARIO, GOOD_PASSWORD)
    assert Operator().reset_password(customer_id, {"mode": "reset_link"})["statusCode"] == 202
    sqs = boto3.client("sqs")
    # The sender issues the link as it sends (no token on the queue): read it from SES.
    open_mailbox()
    postman = Postman(moto_server.names)
    assert postman.deliver(postman.receive()) == set()
    [(_, token)] = set(LINK.findall(postman.sent()[0]["text"]))
    assert shop.verify(token)["statusCode"] == 200

    responses = race(10, lambda: shop.reset(token, NEW_PASSWORD))

    statuses = sorted(r["statusCode"] for r in responses)
    assert statuses == [204] + [410] * 9, statuses
    assert {r["json"]["type"] for r in responses if r["statusCode"] == 410} == {
        "invalid_or_expired_link"
    }
    assert shop.verify(token)["statusCode"] == 410
    assert authorize(session) == UNAUTHORIZED
    assert shop.login(MARIO, NEW_PASSWORD)["statusCode"] == 200
    # One password change, so one "password changed" email.
    queued = sqs.receive_message(QueueUrl=moto_server.names["EmailQueue"], MaxNumberOfMessages=10)
    templates = [json.loads(m["Body"])["template_id"] for m in queued.get("Messages", [])]
    assert templates == ["password_changed"]
