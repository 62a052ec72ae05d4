"""Legacy Chat (Live Agent): retired by Salesforce on 2026-02-14; kept for orgs still on it (docs/legacy-chat.md).

Each customer chat is a Chat REST API visitor session (:class:`~.livechat_models.LiveChatSession`):

* customer → agent (the inbound line's worker): no open chat → ask ``Visitor/Availability`` for the chat's
  targets; nobody online → the customer gets the no-agent text once and the line waits
  (:class:`~relay.lines.pipeline.RetryLater`, asking again every ``LIVECHAT_AGENT_POLL_SECONDS``); else
  SessionId, ChasitorInit (:mod:`.livechat_init`) and the first Messages poll for its outcome. Then each message
  is a ChatMessage; files go as links with the reason (the Chat REST API takes no files from a visitor).
* agent → customer (``relay_listen``, :mod:`.livechat_poll`): each open chat is long-polled; its messages are
  recorded by :mod:`.livechat_events` as outbound rows for the provider.

POST sequence numbers are reserved on the row before the call and reused by a retry, so Salesforce applies a
repeated POST once (``X-LIVEAGENT-SEQUENCE``). Only the listener answers a 503 with ReconnectSession (two
reconnects would restate the chat twice); a POST refused with 503 waits for it and tries again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from ..errors import ExternalError
from ..handover.importer import ensure_transcript, finish, handover_of, replay_text, wait_for_agent
from ..handover.models import Handover
from ..lines.attempts import attempt
from ..lines.pipeline import RetryLater
from ..models import Conversation, Message
from ..outbound.record import queue_outbound
from ..untrusted import bounded_id
from .base import Desk, mark_delivered
from .livechat_api import AFFINITY_CHANGED, SESSION_GONE, ChatApi, ChatSession
from .livechat_events import end_chat, record_batch
from .livechat_init import chasitor_init, targets
from .livechat_models import LiveChatSession
from .render import as_text, media_link_note

Status = LiveChatSession.Status
NO_FILES = "Legacy Chat takes no files from a customer, so the agent gets the link"

log = logging.getLogger(__name__)


class LiveChatDesk(Desk):
    name = "livechat"
    agent_feed = "livechat"  # relay_listen long-polls the open chats (relay/desks/livechat_poll.py)

    @property
    def api(self) -> ChatApi:
        return ChatApi(self.connection.chat_api_endpoint)

    # --- customer → agent -----------------------------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        conversation = message.conversation
        if message.kind == "media":
            text = media_link_note(message, NO_FILES)
        else:
            text = as_text(message) or "(empty message)"
        chat = self._chat_for(message, conversation)
        with attempt(message, target="salesforce", action="chat_message"):
            self._post(chat, message, [text])
        mark_delivered(
            message, salesforce_entry_id=bounded_id(f"livechat-in:{chat.session_id}:{message.pk}", 64)
        )

    def import_transcript(self, message: Message) -> None:
        """A bot handover: the bot's conversation as the chat's first messages, each marked with its speaker."""
        handover = handover_of(message, "tenant")
        conversation = message.conversation
        ensure_transcript(message, handover)
        if not LiveChatSession.objects.filter(conversation=conversation, status__in=LiveChatSession.OPEN):
            wait_for_agent(handover, conversation, self.agent_available)
        chat = self._chat_for(message, conversation)
        texts = [replay_text(entry) for entry in handover.entries or [] if isinstance(entry, dict)]
        if texts:
            with attempt(message, target="salesforce", action="chat_history"):
                self._post(chat, message, texts)
        finish(message, handover, conversation, Handover.Method.REPLAY)

    def agent_available(self, conversation: Conversation) -> bool | None:
        """An agent (or the chat's button) can take a chat now; None when the Chat API cannot say."""
        connection = self.connection
        button, overrides = targets(connection, conversation)
        try:
            found = self.api.availability(
                connection.tenant.org_id15, connection.chat_deployment_id, overrides or [button]
            )
        except ExternalError:
            return None
        return any(found.values())

    def end_session(self, conversation: Conversation) -> None:
        """The customer ends the chat (ChatEnd, reason ``client``)."""
        chat = LiveChatSession.objects.filter(
            conversation=conversation, status__in=LiveChatSession.OPEN
        ).first()
        if chat is None:
            return
        with transaction.atomic():
            locked = LiveChatSession.objects.select_for_update().get(pk=chat.pk)
            locked.sequence += 1
            locked.save(update_fields=["sequence", "updated_at"])
        try:
            self.api.post(
                as_session(locked), "Chasitor/ChatEnd", {"reason": "client"}, sequence=locked.sequence
            )
        except ExternalError as exc:
            if exc.code != SESSION_GONE:
                raise
        end_chat(locked, "customer")

    # --- agent → customer -----------------------------------------------------------------------------------

    def receive(self, event: dict) -> None:
        """One Messages batch of a chat (what relay_listen's poller reads): ``{"chat", "messages", "ack", "offset"}``."""
        record_batch(event["chat"], event["messages"], ack=event["ack"], offset=event["offset"])

    def _chat_for(self, message: Message, conversation: Conversation) -> LiveChatSession:
        """The conversation's open chat, or a new one once an agent can take it (else the line waits)."""
        chat = LiveChatSession.objects.filter(
            conversation=conversation, status__in=LiveChatSession.OPEN
        ).first()
        if chat is None and message.kind != "history" and self.agent_available(conversation) is False:
            self._hold(message, conversation)
        if chat is None or chat.status == Status.REQUESTED:
            with attempt(message, target="salesforce", action="chat_request"):
                chat = self._request(conversation, chat)
        if chat.status == Status.ENDED:  # ChatRequestFail: nobody took it after all
            self._hold(message, conversation)
        return chat

    def _request(self, conversation: Conversation, chat: LiveChatSession | None) -> LiveChatSession:
        api = self.api
        if chat is None:
            session = api.new_session()
            try:
                with transaction.atomic():
                    chat = LiveChatSession.objects.create(
                        tenant_id=conversation.tenant_id,
                        conversation=conversation,
                        session_id=session.id[:64],
                        session_key=session.key,
                        affinity=session.affinity[:64],
                        poll_timeout=session.poll_timeout,
                        sequence=1,  # ChasitorInit's, reserved before the call
                    )
            except IntegrityError:
                raise ExternalError(
                    "Another chat of this conversation was opened at the same moment."
                ) from None
        session = as_session(chat)
        try:
            if not (chat.pending or {}).get("init"):
                body = chasitor_init(self.connection, conversation, chat.session_id)
                api.post(
                    session, "Chasitor/ChasitorInit", body, sequence=1
                )  # a retry resends 1: applied once
                # Taken: not sent again, even after a ReconnectSession restarts the sequence (it would be a
                # second request); the sequence's next number is 2 whatever a reconnect left.
                LiveChatSession.objects.filter(pk=chat.pk).update(
                    pending={**(chat.pending or {}), "init": True}, sequence=Greatest(F("sequence"), 1)
                )
            messages = api.poll(session)
        except ExternalError as exc:
            if exc.code == SESSION_GONE:  # timed out or ended before its answer: the retry opens a new chat
                end_chat(chat, "request lost")
                raise ExternalError(
                    "The chat session ended before the request was answered; a new chat is opened.",
                    retry_after=0,
                ) from None
            if exc.code == AFFINITY_CHANGED:
                # relay_listen polls (and reconnects) only chats with an answer: a requested chat is ours.
                reconnect(chat.pk, api)
                raise ExternalError(
                    "The chat moved to another server; asking again.", retry_after=0
                ) from None
            raise
        chat = record_batch(chat.pk, messages, ack=session.ack, offset=session.offset)
        if chat.status == Status.REQUESTED:
            raise ExternalError("The chat request has no answer yet; asking again.", retry_after=1)
        return chat

    def _hold(self, message: Message, conversation: Conversation) -> None:
        """No agent: the customer is told once, and the message waits for one within the delivery window."""
        text = conversation.tenant.no_agent_text
        if text:
            queue_outbound(
                conversation,
                {"kind": "text", "text": text, "system": "no_agent"},
                salesforce_entry_id=f"livechat-no-agent:{message.pk}",
            )
        raise RetryLater(
            timezone.now() + timedelta(seconds=settings.LIVECHAT_AGENT_POLL_SECONDS),
            reason="Waiting for a Legacy Chat agent to come online (no agent is available).",
        )

    def _post(self, chat: LiveChatSession, message: Message, texts: list[str]) -> None:
        """ChatMessage each text in order, under sequence numbers reserved on the row for this message."""
        first, done = _reserve(chat, message, len(texts))
        session = as_session(chat)
        api = self.api
        for index in range(done, len(texts)):
            try:
                api.post(session, "Chasitor/ChatMessage", {"text": texts[index]}, sequence=first + index)
            except ExternalError as exc:
                if exc.code == SESSION_GONE:  # the chat timed out or ended: the retry opens a new one
                    end_chat(chat, "session gone")
                    raise ExternalError(
                        "The chat ended before this message reached it; a new chat is opened.", retry_after=0
                    ) from None
                if exc.code == AFFINITY_CHANGED:  # the listener reconnects the session; try again then
                    raise ExternalError(
                        "The chat is moving to another server; trying again.", retry_after=1
                    ) from None
                raise
            LiveChatSession.objects.filter(pk=chat.pk).update(
                pending={"message": message.pk, "first": first, "done": index + 1, "count": len(texts)}
            )
        LiveChatSession.objects.filter(pk=chat.pk, pending__message=message.pk).update(pending={})


def _reserve(chat: LiveChatSession, message: Message, count: int) -> tuple[int, int]:
    """(the first sequence number of ``message``'s POSTs, how many were sent), reserved under the row lock."""
    with transaction.atomic():
        locked = LiveChatSession.objects.select_for_update().get(pk=chat.pk)
        pending = locked.pending or {}
        if pending.get("message") == message.pk:
            first, done = int(pending["first"]), int(pending.get("done", 0))
        else:
            first, done = locked.sequence + 1, 0
            locked.sequence += count
            locked.pending = {"message": message.pk, "first": first, "done": 0, "count": count}
            locked.save(update_fields=["sequence", "pending", "updated_at"])
    chat.affinity, chat.sequence = locked.affinity, locked.sequence
    return first, done


def reconnect(pk: int, api: ChatApi) -> None:
    """ReconnectSession with the stored offset, then ChasitorResyncState (the visitor's state on the new server,
    before anything else is sent); the new affinity and the restarted POST sequence stored."""
    with transaction.atomic():
        chat = LiveChatSession.objects.select_for_update().select_related("conversation__tenant").get(pk=pk)
        session: ChatSession = as_session(chat)
        api.reconnect(session)
        try:
            api.resync_state(session, chat.conversation.tenant.org_id15)
        except ExternalError as exc:
            # Refused (no chat taken yet: the 503 came before ChasitorInit, which is sent again), or not answered:
            # the chat's messages do not depend on it, and the new affinity must be kept either way.
            log.log(
                logging.INFO if exc.permanent else logging.WARNING,
                "Legacy Chat session %s: ChasitorResyncState failed: %s",
                chat.pk,
                exc,
            )
        pending = dict(chat.pending or {})
        if pending.get("message") is not None:
            done, count = int(pending.get("done", 0)), int(pending.get("count", 1))
            pending["first"] = 1 - done  # the next unsent text goes as 1
            chat.sequence = count - done
        else:
            chat.sequence = 0
        chat.pending, chat.affinity = pending, session.affinity[:64]
        chat.save(update_fields=["pending", "affinity", "sequence", "updated_at"])


def as_session(chat: LiveChatSession) -> ChatSession:
    return ChatSession(
        id=chat.session_id,
        key=str(chat.session_key),
        affinity=chat.affinity,
        poll_timeout=chat.poll_timeout,
        sequence=chat.sequence,
        ack=chat.ack,
        offset=chat.offset,
    )
