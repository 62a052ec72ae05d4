"""Words for people: the console pages' labels and the admin's message labels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.templatetags.console_labels import ago, channel_label, count_of, provider_words
from relay.models import Conversation, Message
from tests.factories import make_account, make_sender, make_tenant


@pytest.mark.parametrize(
    ("count", "plural", "shown"),
    [
        (0, "flows", "0 flows"),
        (1, "flows", "1 flow"),
        (2, "flows", "2 flows"),
        (1, "queues", "1 queue"),
        (1, "users", "1 user"),
        (1, "channels", "1 channel"),
        (1, "senders", "1 sender"),
        (3, "senders", "3 senders"),
        ([1], "flows", "1 flow"),
    ],
)
def test_counts_agree_with_their_noun(count, plural, shown):
    assert count_of(count, plural) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "just now"), (59, "just now"), (60, "1\xa0minute ago"), (7200, "2\xa0hours ago")],
)
def test_ago_says_just_now_under_a_minute(seconds, shown):
    assert ago(timezone.now() - timedelta(seconds=seconds)) == shown
    assert ago(None) == ""


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("United Kingdom VIRTUAL_LONG_NUMBER", "United Kingdom long number"),
        ("Croatia VIRTUAL_LONG_NUMBER_CALL_TRIGGER", "Croatia long number (call trigger)"),
        ("Germany SHORT_CODE", "Germany short code"),
        ("WHATSAPP", "WhatsApp"),
        ("Spain SOME_NEW_TYPE", "Spain some new type"),  # a type Infobip adds later: still words
        ("USA", "USA"),
        ("", ""),
    ],
)
def test_provider_constants_become_words(raw, shown):
    assert provider_words(raw) == shown
    assert "_" not in provider_words(raw)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("whatsapp", "WhatsApp"), ("WHATSAPP", "WhatsApp"), ("sms", "SMS"), ("viber", "Viber"), ("RCS", "RCS")],
)
def test_channels_as_people_write_them(raw, shown):
    assert channel_label(raw) == shown


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("direction", "kind", "content", "route"),
    [
        ("in", "text", {}, "Customer → agent"),
        ("out", "text", {}, "Agent → customer"),
        ("out", "text", {"system": "welcome"}, "Switchboard → customer"),
        ("out", "template", {"source": "template_panel"}, "Agent → customer"),
        ("in", "history", {}, "Bot transcript → agent"),
    ],
)
def test_a_message_label_says_who_wrote_to_whom(direction, kind, content, route):
    tenant = make_tenant("Acme")
    sender = make_sender(make_account(tenant))
    sender.display_name = "Acme WhatsApp"
    sender.save()
    conversation = Conversation.objects.create(tenant=tenant, sender=sender, customer="+447400123456")
    message = Message(
        tenant=tenant,
        conversation=conversation,
        direction=direction,
        sequence=1,
        kind=kind,
        content=content,
        expires_at=timezone.now(),
    )
    assert str(message) == f"{route} · {kind} · #1 · +447400123456 (Acme WhatsApp)"
    sender.display_name = ""
    assert str(message).endswith("+447400123456 (WhatsApp)")  # no display name: the channel
