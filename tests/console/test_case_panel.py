"""The Case chat panel's rules: opened by Canvas on a Case record page, it shows only that Case of the
tenant's (another Case, another tenant, no session: refused), its live feed follows a cursor, and hostile
text from customers and providers arrives as data, never as markup."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.console.case_panel import feed
from portal.console.session import ConsoleSession
from relay.models import Conversation, Message
from tests.factories import ORG_B

from .case_panel_support import (
    CASE_A,
    CASE_A2,
    CASE_B,
    SECRET_B,
    add_message,
    case_world,
    feed_of,
    headers,
    open_panel,
    token_of,
)

pytestmark = pytest.mark.django_db

HOSTILE = [
    "<script>alert('sb')</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><svg onload=alert(1)>",
    '<div hx-get="/console/session/renew/" hx-trigger="load">x</div>',
]


def test_the_panel_opens_on_its_case_with_the_conversation():
    world = case_world()
    add_message(world, "My parcel is late")
    add_message(world, "Let me check", direction="out", status="read", content={"kind": "text", "text": "Let me check", "agent": {"id": "x", "name": "Ada"}})  # fmt: skip
    response = open_panel(Client(), record=CASE_A)
    assert response.status_code == 200, response.content.decode()[:500]
    html = response.content.decode()
    assert "Case 00001026" in html and 'data-console-page="/console/case/"' in html
    assert ConsoleSession.from_token(token_of(response)).record_id == CASE_A  # bound to this Case
    data = feed_of(response)
    assert [(m["direction"], m["text"], m["author"]) for m in data["messages"]] == [
        ("in", "My parcel is late", "Frank"),
        ("out", "Let me check", "Ada"),
    ]
    assert data["messages"][1]["ticks"] == "✓✓" and data["messages"][1]["status_label"] == "Read"
    assert data["window"]["applies"] and data["window"]["open"]
    assert data["case"] == {
        "id": CASE_A,
        "number": "00001026",
        "subject": "Help",
        "status": "New",
        "closed": False,
    }
    assert "frame-ancestors 'self' https://acme.my.salesforce.com" in response["Content-Security-Policy"]


def test_a_15_character_case_id_is_the_same_case():
    case_world()
    response = open_panel(Client(), record=CASE_A[:15])
    assert response.status_code == 200 and feed_of(response)["case"]["id"] == CASE_A


def test_another_case_by_id_is_404_on_the_page_and_its_feed():
    world = case_world()
    case_world(case_id=CASE_A2, customer="+385919990002")
    add_message(world, "only for case 1")
    client = Client()
    token = token_of(open_panel(client, record=CASE_A))
    for url in ("/console/case/", "/console/case/updates/", "/console/case/templates/"):
        response = client.get(url, {"id": CASE_A2}, **headers(token))
        assert response.status_code == 404, (url, response.status_code)
        assert "only for case" not in response.content.decode()
    response = client.post(f"/console/case/reply/?id={CASE_A2}", {"text": "hi"}, **headers(token))
    assert response.status_code == 404
    assert not Message.objects.filter(direction="out").exists()


def test_another_tenants_case_is_not_shown_to_this_tenants_users():
    acme = case_world()
    add_message(acme, "Acme's secret")
    case_world(name="Globex", org_id=ORG_B, secret=SECRET_B, case_id=CASE_B, customer="+385919990009")
    client = Client()
    # Globex's agent, signed by Globex's org, on Acme's Case id: nothing of Acme's.
    response = open_panel(client, org_id=ORG_B, secret=SECRET_B, record=CASE_A)
    assert response.status_code == 200
    assert "Acme's secret" not in response.content.decode()
    assert "has no WhatsApp, SMS or Viber conversation" in response.content.decode()
    token = token_of(response)
    assert client.get("/console/case/updates/", **headers(token)).status_code == 404
    assert client.post("/console/case/reply/", {"text": "hi"}, **headers(token)).status_code == 404
    # A signed request with the wrong org's secret is refused outright.
    assert open_panel(Client(), org_id=ORG_B, secret="not-the-secret", record=CASE_B).status_code == 403


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/console/case/"), ("get", "/console/case/updates/"), ("post", "/console/case/reply/"),
     ("get", "/console/case/templates/")],
)  # fmt: skip
def test_without_a_session_nothing_is_shown_or_sent(method, url):
    world = case_world()
    add_message(world, "private words")
    response = getattr(Client(), method)(url, {"text": "hi"} if method == "post" else {})
    assert response.status_code == 403
    assert "private words" not in response.content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_a_token_used_from_another_site_is_refused():
    case_world()
    client = Client()
    token = token_of(open_panel(client, record=CASE_A))
    response = client.get(
        "/console/case/updates/", HTTP_X_CONSOLE_TOKEN=token, HTTP_SEC_FETCH_SITE="cross-site"
    )
    assert response.status_code == 403 and "another site" in response.content.decode()


def test_off_a_record_the_panel_says_where_it_belongs():
    case_world()
    response = open_panel(Client(), record="")
    assert response.status_code == 200
    assert "Open this panel on a Case record page" in response.content.decode()


def test_a_record_that_is_not_a_case_is_a_clear_400():
    case_world()
    response = open_panel(Client(), record="0Mw8d00000Acme9")
    assert response.status_code == 400 and "not a Case id" in response.content.decode()


def test_the_feed_sends_what_changed_since_its_cursor():
    world = case_world()
    first = add_message(world, "one")
    client = Client()
    token = token_of(open_panel(client, record=CASE_A))
    full = client.get("/console/case/updates/", **headers(token)).json()
    assert [m["text"] for m in full["messages"]] == ["one"] and full["full"]
    # Later: a reply is queued and the first message is looked at again much later; only changes come.
    reply = add_message(world, "two", direction="out", status="pending")
    Message.objects.filter(pk=first.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    changed = client.get("/console/case/updates/", {"since": full["cursor"]}, **headers(token)).json()
    assert [m["text"] for m in changed["messages"]] == ["two"] and not changed["full"]
    assert changed["messages"][0]["ticks"] == "🕓"
    # The provider fails it: the next poll carries the failure and its reason.
    Message.objects.filter(pk=reply.pk).update(
        status="failed", last_error="WhatsApp: the number is not on WhatsApp", updated_at=timezone.now()
    )
    failed = client.get("/console/case/updates/", {"since": changed["cursor"]}, **headers(token)).json()
    assert failed["messages"][0]["status_label"] == "Not delivered"
    assert failed["messages"][0]["error"] == "WhatsApp: the number is not on WhatsApp"
    # A cursor that is not one of ours is a full load, not an error.
    assert client.get("/console/case/updates/", {"since": "nan"}, **headers(token)).json()["full"]


def test_the_feed_shows_only_this_cases_time_of_the_conversation():
    world = case_world()
    world.link.is_closed, world.link.closed_at = True, timezone.now() - timedelta(hours=2)
    world.link.save()
    old = add_message(world, "about the old case")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=3))
    Conversation.objects.filter(pk=world.conversation.pk).update(
        created_at=timezone.now() - timedelta(hours=4)
    )
    world.conversation.refresh_from_db()
    newer = case_world(case_id=CASE_A2)  # the same customer writes again: a new Case
    assert newer.conversation == world.conversation
    add_message(newer, "a new question")
    texts = [m["text"] for m in feed.snapshot(newer.link)["messages"]]
    assert texts == ["a new question"]
    assert [m["text"] for m in feed.snapshot(world.link)["messages"]] == ["about the old case"]


def test_the_whatsapp_window_is_reported_and_other_channels_have_none():
    closed = case_world(inbound_ago=timedelta(hours=25))
    window = feed.snapshot(closed.link)["window"]
    assert window["applies"] and not window["open"] and window["closes_at"]
    sms = case_world(case_id=CASE_A2, channel="sms", customer="+385919990003")
    assert feed.snapshot(sms.link)["window"]["applies"] is False


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_text_arrives_as_data_never_as_markup(payload):
    world = case_world(customer_name=payload)
    add_message(world, payload)
    add_message(world, payload, direction="out", status="failed", last_error=payload,
                content={"kind": "text", "text": payload, "agent": {"name": payload},
                         "buttons": [{"title": payload}], "media_filename": payload, "panel_path": "javascript:alert(1)"})  # fmt: skip
    world.link.subject = world.link.status = payload[:40]
    world.link.save()
    client = Client()
    response = open_panel(client, record=CASE_A)
    html = response.content.decode()
    assert payload not in html, "the markup arrived unescaped"
    for element in ("<script>alert", "<img src=x", "<svg onload", '<div hx-get="/console/session'):
        assert element not in html
    data = feed_of(response)  # the browser decodes the same texts back
    assert {m["text"] for m in data["messages"]} == {payload}
    assert data["messages"][1]["error"] == payload and data["messages"][1]["choices"] == [payload]
    updates = client.get("/console/case/updates/", **headers(token_of(response)))
    assert updates["Content-Type"] == "application/json"
    assert json.loads(updates.content)["messages"][0]["author"] == payload


# --- replies ---------------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64


def signed_in(**world_kwargs):
    world = case_world(**world_kwargs)
    client = Client()
    token = token_of(open_panel(client, record=CASE_A))
    return world, client, token


def reply(client, token, **data):
    data.setdefault("send_key", "")
    return client.post("/console/case/reply/", data, **headers(token))


def test_a_text_reply_is_queued_as_the_agents_message_on_the_case(django_capture_on_commit_callbacks):
    world, client, token = signed_in()
    with django_capture_on_commit_callbacks():
        response = reply(client, token, text="  We are on it.  ")
    assert response.status_code == 200, response.content.decode()[:800]
    assert response["HX-Trigger"] == "case-panel-sent"
    message = Message.objects.get(direction="out")
    assert message.conversation == world.conversation and message.text == "We are on it."
    assert message.content["agent"]["name"] == "Ada Agent" and message.content["source"] == "case_panel"
    assert message.case_entry.case_link == world.link
    # The form comes back empty, ready for the next reply.
    assert "We are on it." not in response.content.decode()


def test_quick_reply_choices_go_with_the_text():
    _world, client, token = signed_in()
    response = reply(client, token, text="Which order?", choices="Order 1\n\nOrder 2\n")
    assert response.status_code == 200, response.content.decode()[:800]
    message = Message.objects.get(direction="out")
    assert message.kind == "choices"
    assert [b["title"] for b in message.content["buttons"]] == ["Order 1", "Order 2"]


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"text": "   "}, "reply-text-error", "Write a message or attach a file"),
        ({"text": "x" * 4097}, "reply-text-error", "at most 4096"),
        ({"text": "Pick", "choices": "\n".join(f"c{i}" for i in range(11))}, "reply-choices-error", "at most 10"),
        ({"text": "Pick", "choices": "y" * 73}, "reply-choices-error", "longer than 72"),
        ({"text": "Pick", "choices": "Yes\nyes"}, "reply-choices-error", "Two choices are the same"),
        ({"text": "", "choices": "Yes\nNo"}, "reply-text-error", "Write the question"),
    ],
)  # fmt: skip
def test_a_bad_reply_is_refused_on_its_field_and_nothing_is_stored(data, field, words):
    _world, client, token = signed_in()
    response = reply(client, token, **data)
    assert response.status_code == 422
    html = response.content.decode()
    assert words in html.split(f'id="{field}"', 1)[1].split("</div>", 1)[0]
    assert not Message.objects.filter(direction="out").exists()


def test_no_free_text_after_the_whatsapp_window_closed():
    _world, client, token = signed_in(inbound_ago=timedelta(hours=25))
    response = reply(client, token, text="Hello again")
    assert response.status_code == 422 and "24-hour window is closed" in response.content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_sms_has_no_window_to_close():
    world = case_world(channel="sms", inbound_ago=timedelta(days=3))
    client = Client()
    token = token_of(open_panel(client, record=CASE_A))
    assert reply(client, token, text="Hello by SMS").status_code == 200
    assert Message.objects.get(direction="out").conversation == world.conversation


def test_no_reply_on_a_closed_case():
    world, client, token = signed_in()
    world.link.is_closed, world.link.closed_at = True, timezone.now()
    world.link.save()
    response = reply(client, token, text="Still there?")
    assert response.status_code == 422 and "This Case is closed" in response.content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_the_same_form_sent_twice_is_one_reply():
    _world, client, token = signed_in()
    assert reply(client, token, text="Once", send_key="k" * 32).status_code == 200
    assert reply(client, token, text="Once", send_key="k" * 32).status_code == 200
    assert Message.objects.filter(direction="out").count() == 1


def test_an_attached_image_is_sent_as_media_the_provider_can_fetch(settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.SWITCHBOARD_VAR_DIR = tmp_path  # not read by the storage; VAR_DIR is
    settings.VAR_DIR = tmp_path
    settings.PUBLIC_BASE_URL = "https://switchboard.example"
    _world, client, token = signed_in()
    upload = SimpleUploadedFile("../../etc/<b>photo.exe", PNG, content_type="text/html")
    response = reply(client, token, text="Your label", attachment=upload)
    assert response.status_code == 200, response.content.decode()[:800]
    message = Message.objects.get(direction="out")
    content = message.content
    assert message.kind == "media" and message.text == "Your label"
    assert content["media_mime_type"] == "image/png"  # from the bytes, not from what the browser said
    assert content["media_filename"] == "bphoto.png"
    assert content["media_url"].startswith("https://switchboard.example/console/case/file/")
    # The provider fetches it without any session; only as its checked type, never as a page.
    path = content["media_url"].removeprefix("https://switchboard.example")
    served = Client().get(path)
    assert served.status_code == 200 and b"".join(served.streaming_content) == PNG
    assert served["Content-Type"] == "image/png" and served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"]
    # A tampered or renamed link is nothing.
    token_part, name = path.removeprefix("/console/case/file/").split("/", 1)
    assert Client().get(f"/console/case/file/{token_part[:-2]}xx/{name}").status_code == 404
    assert Client().get(f"/console/case/file/{token_part}/other.png").status_code == 404
    # The panel links the agent's own file.
    feed_json = client.get("/console/case/updates/", **headers(token)).json()
    assert feed_json["messages"][-1]["file"] == {"name": "bphoto.png", "type": "image/png", "link": path}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"<html><script>alert(1)</script>", "This kind of file cannot be sent"),
        (b"MZ\x90\x00" + b"\x00" * 64, "This kind of file cannot be sent"),
        (b"", "The file is empty"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * (5 * 1024 * 1024), "WhatsApp takes at most 5.0 MB"),
    ],
)
def test_a_file_that_cannot_be_sent_is_refused_and_nothing_is_stored(content, words, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.VAR_DIR = tmp_path
    _world, client, token = signed_in()
    response = reply(
        client, token, text="", attachment=SimpleUploadedFile("f.jpg", content, content_type="image/jpeg")
    )
    assert response.status_code == 422
    assert words in response.content.decode()
    assert not Message.objects.filter(direction="out").exists()
    assert not list(tmp_path.rglob("*")) or not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_pdf_with_a_caption_goes_as_a_document(settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.VAR_DIR = tmp_path
    _world, client, token = signed_in()
    upload = SimpleUploadedFile("Invoice March.pdf", PDF, content_type="application/pdf")
    assert reply(client, token, text="", attachment=upload).status_code == 200
    message = Message.objects.get(direction="out")
    assert message.content["media_filename"] == "Invoice March.pdf"
    path = message.content["media_url"].split("/console/", 1)[1]
    served = Client().get(f"/console/{path}")
    assert served["Content-Disposition"].startswith("attachment")


def test_with_the_window_closed_the_template_panel_opens_for_the_cases_customer():
    world, client, token = signed_in(inbound_ago=timedelta(hours=30))
    page = client.get("/console/case/", **headers(token))
    assert 'href="/console/case/templates/"' in page.content.decode()
    assert feed_of(page)["window"]["open"] is False
    response = client.get("/console/case/templates/", **headers(token))
    assert response.status_code == 200, response.content.decode()[:500]
    html = response.content.decode()
    assert "Send a WhatsApp template" in html
    assert f'value="{world.conversation.customer}"' in html  # the recipient: the Case's customer
    assert f'<option value="{world.conversation.sender.pk}" selected>' in html  # and its sender
    assert "24-hour window closed" in html
    values = json.loads(
        html.split('<script id="sf-values" type="application/json">', 1)[1].split("</script>")[0]
    )
    assert {"label": "Case number", "value": "00001026"} in values


def test_a_body_larger_than_any_reply_is_refused_before_it_is_read():
    _world, client, token = signed_in()
    response = client.post(
        "/console/case/reply/", {"text": "hi"}, CONTENT_LENGTH=str(64 * 1024 * 1024), **headers(token)
    )
    assert response.status_code == 413 and "The file is too large" in response.content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_opened_without_a_record_the_panel_takes_only_this_tenants_case_by_id():
    case_world()
    case_world(name="Globex", org_id=ORG_B, secret=SECRET_B, case_id=CASE_B, customer="+385919990009")
    client = Client()
    token = token_of(open_panel(client, record=""))  # a utility item on a page that is no record
    assert client.get("/console/case/", {"id": CASE_B}, **headers(token)).status_code == 404
    response = client.get("/console/case/", {"id": CASE_A[:15]}, **headers(token))
    assert response.status_code == 200 and feed_of(response)["case"]["id"] == CASE_A
    bound = response["X-Console-Token"]  # from here on the page is bound to that Case
    assert ConsoleSession.from_token(bound).record_id == CASE_A
    assert client.get("/console/case/updates/", {"id": CASE_B}, **headers(bound)).status_code == 404


def test_the_wizard_offers_the_case_panel_snippet_on_the_cases_desk():
    from tests.factories import make_tenant_admin

    world = case_world()
    client = Client()
    client.force_login(make_tenant_admin(world.tenant, "avery"))
    text = client.get("/console/wizard/embed/").content.decode()
    assert (
        'id="aura-case"' in text and "&amp;quot;case&amp;quot;" in text
    )  # the page name, passed with recordId
    world.tenant.salesforce.desk = "messaging"
    world.tenant.salesforce.save(update_fields=["desk"])
    assert 'id="aura-case"' not in client.get("/console/wizard/embed/").content.decode()
