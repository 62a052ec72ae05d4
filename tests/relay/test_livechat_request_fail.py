"""A Legacy Chat request nobody took (the Chat REST API's ChatRequestFail Messages event) ends the chat and the
conversation's session alike: the admin and the partner API show it over, as when the chat ends any other way
(relay/desks/livechat_events.py)."""

from __future__ import annotations

import pytest

from relay.desks.livechat_events import record_batch
from relay.desks.livechat_models import LiveChatSession
from relay.models import Conversation
from tests.factories import make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db


def test_a_chat_request_nobody_took_ends_the_conversation_s_session_too():
    sender = make_sender(make_account(make_tenant()))
    conversation = Conversation.objects.create(
        tenant=sender.tenant, sender=sender, customer="+447700900123", session_status="Waiting"
    )
    chat = LiveChatSession.objects.create(
        tenant=sender.tenant, conversation=conversation, session_id="s-1", affinity="a-1"
    )
    failed = {"type": "ChatRequestFail", "message": {"reason": "Unavailable", "postChatUrl": ""}}

    after = record_batch(chat.pk, [failed], ack=1, offset=1)

    assert after.status == LiveChatSession.Status.ENDED and after.end_reason.startswith("unavailable")
    assert Conversation.objects.get(pk=conversation.pk).session_status == "Ended"
