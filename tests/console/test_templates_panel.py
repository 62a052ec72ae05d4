"""The template panel against the sandbox: the template cache and its sync, the one validated send, and the
panel's pages (Celery eager; the browser and end-to-end tests drive the same pages with a real worker)."""

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from relay.models import Message
from relay.outbound.template_send import send_template
from relay.outbound.template_sync import sync_all_whatsapp_templates, sync_sender
from tenants.models import Sender, WhatsAppTemplate
from tests.console.templates_panel_support import (
    ADA,
    CUSTOMER,
    OTHER_TENANTS_SESSION,
    add_template,
    demo_tenant,
    globex,
    link_contact_and_case,
    open_messaging_session,
    token,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

GOOD = {
    "header_media_url": "https://cdn.example.com/parcel.jpg",
    "body_1": "Frank",
    "url_1": "10234",
    "reply_1": "call-me",
}


@pytest.fixture
def acme(sandbox):
    return demo_tenant(sandbox)


@pytest.fixture
def whatsapp(acme):
    return Sender.objects.get(tenant=acme, channel="whatsapp")


def phone(sim) -> list[dict]:
    return sim.get("/__sim/infobip/messages", params={"direction": "OUTBOUND"}).json()


# --- the cache -------------------------------------------------------------------------------------------


def test_sync_caches_the_senders_templates_and_follows_changes(acme, whatsapp, sim):
    first = sync_sender(whatsapp)
    assert first.ok and first.fetched == 10
    cached = WhatsAppTemplate.objects.for_tenant(acme).filter(sender=whatsapp)
    assert cached.filter(status="APPROVED").count() == 8
    assert cached.get(name="feedback_request").status == "PENDING"

    added = add_template(sim)  # approved since the last sync
    sim.patch(
        f"/__sim/infobip/accounts/demo-account-key/templates/{added['id']}", json={"status": "APPROVED"}
    )
    assert sync_all_whatsapp_templates() == {"senders": 1, "failed": 0}  # the periodic task
    assert cached.get(name="delivery_update").structure["header"]["format"] == "IMAGE"
    assert "whatsapp-template-sync" in settings.CELERY_BEAT_SCHEDULE


def test_a_failed_sync_keeps_the_cache(acme, whatsapp, sim):
    sync_sender(whatsapp)
    sim.post(
        "/__sim/faults", json={"service": "infobip", "path": "/templates", "status": 500, "outage": True}
    )
    result = sync_sender(whatsapp)
    assert not result.ok and "Infobip failed" in result.error
    assert WhatsAppTemplate.objects.filter(sender=whatsapp).count() == 10


# --- the send (the same function the partner API calls) -------------------------------------------------


def test_send_template_queues_it_through_the_relay_and_it_reaches_the_phone(acme, whatsapp, sim):
    add_template(sim)
    message = send_template(acme, whatsapp.pk, "385919998888", "delivery_update", "en", GOOD)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.kind == "template"
    assert message.conversation.customer == CUSTOMER
    sent = [m for m in phone(sim) if m["kind"] == "TEMPLATE"]
    assert len(sent) == 1
    assert sent[0]["rendered"]["body"] == "Hi Frank, your parcel is at the depot."
    assert sent[0]["rendered"]["header"]["media_url"] == GOOD["header_media_url"]
    assert [b.get("url") or b.get("payload") for b in sent[0]["rendered"]["buttons"][:2]] == [
        "https://track.example.com/10234",
        "call-me",
    ]
    assert message.delivery_attempts.get().outcome == "ok"

    again = send_template(acme, whatsapp, CUSTOMER, "delivery_update", "en", GOOD, idempotency_key="k1")
    same = send_template(acme, whatsapp, CUSTOMER, "delivery_update", "en", GOOD, idempotency_key="k1")
    assert again.pk == same.pk and len(phone(sim)) == 2


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"customer": "+44 12"}, "customer", "not a valid customer number"),
        ({"template_name": "win_back_offer"}, "template", "rejected"),
        ({"template_name": "no_such_template"}, "template", "has no template"),
        ({"values": {**GOOD, "body_1": ""}}, "body_1", "empty placeholder"),
        ({"values": {**GOOD, "reply_1": "p" * 129}}, "reply_1", "at most 128"),
        ({"values": {**GOOD, "header_media_url": "http:/bad"}}, "header_media_url", "https://"),
    ],
)
def test_bad_input_is_refused_per_field_and_nothing_is_sent(acme, whatsapp, sim, change, field, says):
    add_template(sim)
    arguments = {"customer": CUSTOMER, "template_name": "delivery_update", "values": GOOD, **change}
    with pytest.raises(ValidationError) as raised:
        send_template(
            acme, whatsapp, arguments["customer"], arguments["template_name"], "en", arguments["values"]
        )
    assert says in " ".join(raised.value.message_dict[field])
    assert not Message.objects.exists() and not phone(sim)


def test_another_tenants_or_a_disabled_sender_is_refused(acme, whatsapp, sim):
    _, globex_sender = globex()
    with pytest.raises(ValidationError) as raised:
        send_template(acme, globex_sender.pk, CUSTOMER, "welcome_back", "en", {})
    assert raised.value.message_dict == {"sender": ["Choose one of this org's WhatsApp senders."]}
    Sender.objects.filter(pk=whatsapp.pk).update(enabled=False)
    with pytest.raises(ValidationError) as raised:
        send_template(acme, whatsapp.pk, CUSTOMER, "welcome_back", "en", {})
    assert "disabled" in raised.value.message_dict["sender"][0]
    assert not Message.objects.exists() and not phone(sim)


# --- the pages -----------------------------------------------------------------------------------------


def panel_headers(tenant, record_id: str = "") -> dict:
    """What the panel's htmx requests carry: the console token in a header, from our own origin."""
    return {"X-Console-Token": token(tenant, record_id), "Sec-Fetch-Site": "same-origin"}


def test_panel_prefills_the_customer_and_offers_the_sessions_salesforce_values(acme, whatsapp, client):
    session_id = open_messaging_session(acme)
    linked = link_contact_and_case(acme, session_id)
    response = client.get("/console/templates/", headers=panel_headers(acme, session_id))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'value="{CUSTOMER}"' in page
    picker = response.context["session"].picker_json
    assert {"label": "Contact first name", "value": "Frank"} in picker
    assert {"label": "Case number", "value": linked["case_number"]} in picker
    assert {"label": "Your name", "value": "Ada Agent"} in picker
    assert "(this conversation)" in page
    # ?id= works too, for a panel opened without a record in the signed request.
    by_id = client.get("/console/templates/", {"id": session_id[:15]}, headers=panel_headers(acme))
    assert by_id.status_code == 200 and by_id.context["session"].record_id[:15] == session_id[:15]


def test_another_tenants_or_a_malformed_session_id_is_refused(acme, client):
    globex()
    response = client.get("/console/templates/", {"id": OTHER_TENANTS_SESSION}, headers=panel_headers(acme))
    assert response.status_code == 404
    assert "from one of your own Messaging Sessions" in response.content.decode()
    response = client.get("/console/templates/", {"id": "001-not-a-session"}, headers=panel_headers(acme))
    assert response.status_code == 400 and "is not a Messaging Session id" in response.content.decode()
    assert client.get("/console/templates/").status_code == 403  # no console session at all


def test_without_salesforce_the_panel_still_works_by_hand_and_says_why(acme, sim, client):
    session_id = open_messaging_session(acme)
    sim.post("/__sim/faults", json={"service": "core", "path": "/query", "status": 503, "outage": True})
    response = client.get("/console/templates/", headers=panel_headers(acme, session_id))
    assert response.status_code == 200
    assert "Salesforce values could not be loaded" in response.content.decode()
    assert response.context["session"].picker_json == [{"label": "Your name", "value": "Ada Agent"}]


def test_no_sender_says_so_and_points_to_the_wizard(acme, client):
    Sender.objects.filter(tenant=acme).update(enabled=False)
    page = client.get("/console/templates/", headers=panel_headers(acme)).content.decode()
    assert "No WhatsApp sender is set up for this org yet" in page
    assert 'id="template-list"' not in page


def test_list_shows_approved_templates_of_the_chosen_sender_only_and_searches(acme, whatsapp, client):
    headers = {"HTTP_X_CONSOLE_TOKEN": token(acme)}
    nothing = client.get("/console/templates/list/", headers=None, **headers)
    assert "Choose a sender" in nothing.content.decode()
    listed = client.get("/console/templates/list/", {"sender": whatsapp.pk}, **headers)
    names = [t.name for t in listed.context["templates"]]
    assert "order_shipped" in names and "feedback_request" not in names and "win_back_offer" not in names
    search = client.get("/console/templates/list/", {"sender": whatsapp.pk, "q": "market"}, **headers)
    assert {t.category for t in search.context["templates"]} == {"MARKETING"}
    by_name = client.get("/console/templates/list/", {"sender": whatsapp.pk, "q": "order shipped"}, **headers)
    assert {(t.name, t.language) for t in by_name.context["templates"]} == {
        ("order_shipped", "en"),
        ("order_shipped", "pt_BR"),
    }
    _, other = globex()
    refused = client.get("/console/templates/list/", {"sender": other.pk}, **headers)
    assert "This sender is not available." in refused.content.decode()


def test_send_with_bad_values_answers_422_with_each_field_and_stores_nothing(acme, whatsapp, sim, client):
    add_template(sim)
    sync_sender(whatsapp)
    template = WhatsAppTemplate.objects.get(sender=whatsapp, name="delivery_update")
    headers = {"HTTP_X_CONSOLE_TOKEN": token(acme)}
    response = client.post(
        "/console/templates/send/",
        {
            "sender": whatsapp.pk,
            "customer": "12",
            "template": template.pk,
            "header_media_url": "www.example.com/a.jpg",
            "body_1": " ",
            "url_1": "10234",
            "reply_1": "r" * 129,
        },
        **headers,
    )
    assert response.status_code == 422
    page = response.content.decode()
    for expected in ("must start with https://", "empty placeholder", "at most 128", "customer number"):
        assert expected in page
    assert not Message.objects.exists() and not phone(sim)


def test_the_longest_send_key_the_page_may_post_still_sends_once(acme, whatsapp, sim, client):
    """The key is the row's de-duplication id once prefixed, bounded to its column (a 64-character key made
    an id longer than the column: a database error instead of a sent template)."""
    session_id = open_messaging_session(acme)
    add_template(sim)
    sync_sender(whatsapp)
    template = WhatsAppTemplate.objects.get(sender=whatsapp, name="delivery_update")
    headers = {"HTTP_X_CONSOLE_TOKEN": token(acme, session_id)}
    data = {
        "sender": whatsapp.pk,
        "customer": CUSTOMER,
        "template": template.pk,
        "send_key": "k" * 64,
        **GOOD,
    }
    assert client.post("/console/templates/send/", data, **headers).status_code == 200
    assert client.post("/console/templates/send/", data, **headers).status_code == 200  # a double click
    assert Message.objects.count() == 1


def test_send_from_the_panel_records_the_agent_and_the_session(acme, whatsapp, sim, client):
    session_id = open_messaging_session(acme)
    add_template(sim)
    sync_sender(whatsapp)
    template = WhatsAppTemplate.objects.get(sender=whatsapp, name="delivery_update")
    headers = {"HTTP_X_CONSOLE_TOKEN": token(acme, session_id)}
    data = {"sender": whatsapp.pk, "customer": CUSTOMER, "template": template.pk, "send_key": "abc", **GOOD}
    response = client.post("/console/templates/send/", data, **headers)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert client.post("/console/templates/send/", data, **headers).status_code == 200  # a double click
    message = Message.objects.get()
    assert message.content["agent"] == {"id": ADA, "name": "Ada Agent"}
    assert message.content["messaging_session_id"] == session_id
    # A BYOC Messaging org refuses business-side history (10057): recorded once for the admin, then skipped.
    attempt = message.delivery_attempts.get(action="conversationHistory")
    assert attempt.outcome == "permanent" and "10057" in attempt.error
    history = client.get("/console/templates/history/", **headers)
    assert [m.pk for m in history.context["history"]] == [message.pk]
