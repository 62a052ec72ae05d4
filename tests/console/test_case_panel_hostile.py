"""The Case panel's reply against failures and hostile input: a reply is never reported sent unless it was
stored, and odd requests get a clear 4xx, never a 500 (portal/console/case_panel)."""

from __future__ import annotations

from urllib.parse import urlsplit

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


ODD_CURSORS = ["", "nan", "inf", "-inf", "-1", "0", "1e-320", "1e308", "9" * 400, "1_7e9", "²", "١٧٠٠٠٠٠٠٠٠",
               "0x10", " 1700000000 ", "1700000000.123456789", "\x00", "[]"]  # fmt: skip


def test_any_cursor_is_an_answer_never_a_500():
    _world, client, token = signed_in()
    for since in ODD_CURSORS:
        response = client.get("/console/case/updates/", {"since": since}, **headers(token))
        assert response.status_code == 200, (since, response.status_code)
        assert response.json()["case"]["number"] == "00001026"


ODD_IDS = ["", "x", "5008d00000CaSe1AAA'", "500" + "A" * 200, "500\x008d00000CaSe", "５００８d00000CaSe1",
           "0058d00000AgEnTAAA", "../500", "%00"]  # fmt: skip


def test_any_record_id_on_a_session_without_a_record_is_a_4xx_never_a_500():
    case_world()
    client = Client(raise_request_exception=False)
    token = token_of(open_panel(client, record=""))
    for asked in ODD_IDS:
        for url in ("/console/case/", "/console/case/updates/", "/console/case/templates/"):
            response = client.get(url, {"id": asked}, **headers(token))
            assert response.status_code < 500, (url, asked, response.status_code)
            assert "00001026" not in response.content.decode() or asked == ""


@pytest.mark.parametrize(
    "form",
    [
        {"text": "x", "choices": "\n".join(["a"] * 3)},
        {"text": "x", "choices": "\u2028".join(f"c{i}" for i in range(30))},
        {"text": "\x00"},
        {"text": "x", "choices": "\x00"},
        {"text": "x", "send_key": "k" * 5000},
        {"text": "x" * 100_000},
    ],
)
def test_a_hostile_reply_is_refused_with_a_4xx_and_nothing_stored(form):
    _world, client, token = signed_in()
    response = client.post("/console/case/reply/", form, **headers(token))
    assert 400 <= response.status_code < 500, response.status_code
    assert not Message.objects.filter(direction="out").exists()


def test_a_file_posted_twice_with_one_form_is_kept_once_and_still_served(settings, tmp_path):
    """A double click sends the reply once; the second upload is not kept either (files otherwise stay)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .test_case_panel import PNG

    settings.VAR_DIR = tmp_path
    _world, client, token = signed_in()
    for _ in range(2):
        upload = SimpleUploadedFile("label.png", PNG, content_type="image/png")
        form = {"text": "Your label", "send_key": "d" * 32, "attachment": upload}
        assert client.post("/console/case/reply/", form, **headers(token)).status_code == 200
    [message] = Message.objects.filter(direction="out")
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1
    served = Client().get(urlsplit(message.content["media_url"]).path)
    assert served.status_code == 200 and b"".join(served.streaming_content) == PNG
