"""Unique usernames under concurrent creation, with real threads (SPEC: STYLE, concurrency).

moto in-process (mock_aws) does not make a transaction atomic against other threads, so
two racing conditional writes can both win there. This test runs against the moto server
of the local stack instead, which serialises requests the way DynamoDB makes each
transaction atomic.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from portal_accounts.models import (
    AccountModel,
    CustomerModel,
    SearchEntryModel,
    linked_customers,
)
from tests.unit.clients import GOOD_PASSWORD, Desk

THREADS = 8
EMAIL = "famiglia.rossi@example.com"


def test_concurrent_creations_with_the_same_email_let_exactly_one_win(moto_server):
    desk = Desk()
    # Really talking to the serialising server, not to an in-process mock.
    assert (
        AccountModel._get_connection().connection.client.meta.endpoint_url
        == moto_server.endpoint_url
    )
    customer_ids = [desk.customer(f"Nome{chr(65 + n)}", "Rossi", EMAIL) for n in range(THREADS)]
    start = threading.Barrier(THREADS)

    def create(customer_id):
        start.wait()
        return desk.create_account(customer_id, password=GOOD_PASSWORD)

    with ThreadPoolExecutor(THREADS) as pool:
        responses = list(pool.map(create, customer_ids))

    statuses = sorted(r["statusCode"] for r in responses)
    assert statuses == [201] + [409] * (THREADS - 1), statuses
    assert {r["json"]["type"] for r in responses if r["statusCode"] == 409} == {"username_taken"}
    [winner] = [
        cid for cid, r in zip(customer_ids, responses, strict=True) if r["statusCode"] == 201
    ]

    account = AccountModel.get(EMAIL, consistent_read=True)
    assert set(linked_customers(account)) == {winner}
    linked = {cid for cid in customer_ids if CustomerModel.get(cid).account_username}
    assert linked == {winner}
    # The search index knows the winner only.
    [entry] = SearchEntryModel.query("fa", SearchEntryModel.entry.startswith("active#famiglia#"))
    assert entry.entry == f"active#famiglia#{EMAIL}"
    assert desk.usernames(q="rossi") == [EMAIL]
    winner_name = CustomerModel.get(winner).first_name.lower()
    assert desk.usernames(q=winner_name) == [EMAIL]
    losers = [CustomerModel.get(cid).first_name.lower() for cid in customer_ids if cid != winner]
    assert all(desk.usernames(q=name) == [] for name in losers)
