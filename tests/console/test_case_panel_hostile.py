"""The Case panel's reply against failures and hostile input: a reply is never reported sent unless it was
stored, and odd requests get a clear 4xx, never a 500 (portal/console/case_panel)."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client

from relay.models import Message

from .case_panel_support import CASE_A, case_world, headers, open_panel, token_of

pytestmark = pytest.mark.django_db


def signed_in():
    world = case_world()
    client = Client(raise_request_exception=False)
    return world, client, token_of(open_panel(client, record=CASE_A))


def test_a_reply_whose_store_failed_is_stored_when_the_same_form_is_sent_again(monkeypatch):
    """The send key makes a double click one reply; a reply that failed to be stored (the database went
    away mid-request: a 503) must not have used it up, or the retry is answered "sent" and the agent's
    message is lost."""
    _world, client, token = signed_in()
    import relay.desks.cases as cases

    real_queue_outbound = cases.queue_outbound
    calls = []

    def database_gone_once(*args, **kwargs):  # fault injection: the first INSERT meets a lost connection
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_queue_outbound(*args, **kwargs)

    monkeypatch.setattr(cases, "queue_outbound", database_gone_once)
    form = {"text": "Your refund is on its way", "send_key": "f" * 32}
    first = client.post("/console/case/reply/", form, **headers(token))
    assert first.status_code == 503  # the middleware says the database is unavailable
    assert not Message.objects.filter(direction="out").exists()
    again = client.post("/console/case/reply/", form, **headers(token))
    assert again.status_code == 200, again.content.decode()[:500]
    assert list(Message.objects.filter(direction="out").values_list("text", flat=True)) == [
        "Your refund is on its way"
    ]
    # And the key is used up now: a third post of the same form is still one reply.
    assert client.post("/console/case/reply/", form, **headers(token)).status_code == 200
    assert Message.objects.filter(direction="out").count() == 1
