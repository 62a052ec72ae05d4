"""Issue 13: no agent reply is lost by the Pub/Sub listener (docs/listener.md). Each scenario runs the
whole product (sandbox, web server, a real Celery worker, ``manage.py relay_listen`` as its own process)
and checks that every reply reaches the customer's phone exactly once, in the order the agent sent it."""

from __future__ import annotations

import pytest

from relay.models import ListenerCursor
from tests.e2e.conftest import agent_replies, open_session, phone_received, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def texts_on_phone(sim, customer: str, prefix: str) -> list[str]:
    return [
        m["content"].get("text")
        for m in phone_received(sim, customer)
        if (m["content"].get("text") or "").startswith(prefix)
    ]


def all_arrive_once(wired, customer: str, expected: list[str]) -> None:
    prefix = expected[0].split()[0]
    wait_for(
        lambda: len(texts_on_phone(wired.sim, customer, prefix)) >= len(expected),
        timeout=60,
        what=f"{len(expected)} replies on the phone",
    )
    assert texts_on_phone(wired.sim, customer, prefix) == expected  # each once, in order


@pytest.fixture
def rare_keepalives(wired):
    """Keep-alives every few minutes, as on Salesforce: a fresh stream has stored no position yet."""
    config = wired.sandbox.world.config
    before, config.keepalive_seconds = config.keepalive_seconds, 300.0
    yield
    config.keepalive_seconds = before


def test_replies_sent_before_a_new_tenants_first_subscription_arrive(wired, request):
    customer = "385919998820"
    session, ada = open_session(wired, "Hello before anyone listens", customer=customer)
    expected = [f"Early {n}" for n in range(1, 4)]
    for text in expected:
        agent_replies(wired, session, ada, text=text)
    request.getfixturevalue("listener")  # relay_listen starts only now
    all_arrive_once(wired, customer, expected)


def test_replies_sent_while_the_listener_restarts_before_it_stored_a_position(
    wired, rare_keepalives, listener
):
    listener.stop()  # subscribed, but nothing read yet: no replay id to resume from
    assert not ListenerCursor.objects.get(tenant=wired.tenant).replay_id
    customer = "385919998821"
    session, ada = open_session(wired, "Hello", customer=customer)
    expected = [f"Restart {n}" for n in range(1, 4)]
    for text in expected[:2]:
        agent_replies(wired, session, ada, text=text)
    listener.start()
    agent_replies(wired, session, ada, text=expected[2])
    all_arrive_once(wired, customer, expected)


def test_replies_sent_while_the_token_is_revoked_twice_in_a_row_arrive(wired, listener):
    customer = "385919998822"
    session, ada = open_session(wired, "Hello", customer=customer)
    agent_replies(wired, session, ada, text="Token 1")
    all_arrive_once(wired, customer, ["Token 1"])

    def issued() -> list[dict]:
        return wired.sim.get(f"/__sim/orgs/{wired.org_id}/tokens").json()

    before = len(issued())
    wired.sim.post(f"/__sim/orgs/{wired.org_id}/tokens/revoke", json={})
    agent_replies(wired, session, ada, text="Token 2")
    wait_for(lambda: len(issued()) > before, what="a new token after the first revocation")
    wired.sim.post(f"/__sim/orgs/{wired.org_id}/tokens/revoke", json={})  # the new one too, at once
    agent_replies(wired, session, ada, text="Token 3")
    agent_replies(wired, session, ada, text="Token 4")
    all_arrive_once(wired, customer, ["Token 1", "Token 2", "Token 3", "Token 4"])
    assert any(not t["revoked"] for t in issued())
    wait_for(
        lambda: ListenerCursor.objects.get(tenant=wired.tenant).last_error == "",
        what="the listener to report a working stream",
    )
