"""A reset link does not wait behind a credentials campaign (issue 10, finding 7).

Over HTTP against the local stack: 200 credentials emails are queued, then a customer asks
for a reset link; the link's email goes out while credentials emails are still waiting.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.integration.clients import Client

CAMPAIGN = 200
# The local stack sends at SesMaxSendRate (14/s): 200 emails take about 15 s.
CAMPAIGN_TIMEOUT_SECONDS = 120


def _sent_to(api: Client, address: str) -> list[dict]:
    emails = api.get("/_local/emails").json()
    return [e for e in emails if (e["to"] or "").lower() == address.lower()]


def test_a_forgot_request_is_answered_and_emailed_before_a_campaign_is_out(
    api, anonymous, operator_token
):
    campaign_customer, campaign_account = api.customer_with_account()
    campaign_to = campaign_account["username"]
    _, account = api.customer_with_account()
    username = account["username"]
    credentials = (
        f"/operator/customers/{campaign_customer['customer_id']}/account/credentials-email"
    )

    def queue_one(_: int) -> int:
        return Client(api.base_url, operator_token).post(credentials).status_code

    # Queued faster than the stack sends them: a backlog, as at an onboarding.
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(queue_one, range(CAMPAIGN))) == {202}
    assert len(_sent_to(api, campaign_to)) < CAMPAIGN  # still going out

    forgot = anonymous.post("/auth/password/forgot", json={"email": username})
    assert forgot.status_code == 202

    deadline = time.monotonic() + CAMPAIGN_TIMEOUT_SECONDS
    while not _sent_to(api, username):
        assert time.monotonic() < deadline, "the reset link never came"
        time.sleep(0.05)
    sent_before_the_link = len(_sent_to(api, campaign_to))
    assert sent_before_the_link < CAMPAIGN, "the reset link waited for the whole campaign"

    # And the campaign still goes out whole (nor does it hold up the tests after this one).
    while len(_sent_to(api, campaign_to)) < CAMPAIGN:
        assert time.monotonic() < deadline, "the campaign never finished"
        time.sleep(0.2)
