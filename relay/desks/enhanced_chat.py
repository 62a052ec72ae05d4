"""Enhanced Chat (Messaging for In-App and Web): Salesforce's chat product after Legacy Chat (docs/enhanced-chat.md).

Each customer conversation is an Enhanced Chat conversation of its own end user
(:class:`~.enhanced_chat_models.EnhancedChatSession`):

* customer → agent (the inbound line's worker): no open conversation → an end user's access token, the row
  stored (token encrypted), then ``POST conversation`` with the pre-chat fields (:func:`prechat`) and the
  conversation id stored before the call, so a retry creates it once. Each message is a text, or a file where
  the API takes it (else the link and the reason), with a message id derived from Switchboard's own, so a retry
  after a lost answer is the same message.
* agent → customer: ``relay_listen`` holds every open conversation's event stream
  (relay/desks/enhanced_chat_feed.py); :mod:`.enhanced_chat_events` records what it says.

A token is renewed with the continuation token before it expires (here before a send, and by the listener for
quiet conversations); a token Salesforce refuses anyway, or a conversation closed under us, ends the row and
the retry opens a new conversation: the message waits, it is never dropped. A rate limit (429) is transient:
the line waits as long as Salesforce asks, and the message says it is held back by the rate limit.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..errors import ExternalError
from ..lines.attempts import attempt
from ..models import Conversation, Message
from ..providers.registry import get_provider
from ..salesforce.interactions import normalize_mime
from .base import Desk, mark_delivered
from .enhanced_chat_api import CONVERSATION_GONE, TOKEN_REFUSED, EnhancedChatApi, stable_id
from .enhanced_chat_events import close_session, record_event
from .enhanced_chat_models import EnhancedChatPrechatField, EnhancedChatSession
from .render import as_text, media_link_note, stored_event
from .routing import routing_attributes

Status = EnhancedChatSession.Status
#: A token is renewed when it has less than this left (the listener looks every few seconds).
RENEW_BEFORE = timedelta(minutes=30)
#: The file API's limits (docs/enhanced-chat.md, "Files"); a file over them goes as a link with the reason.
MAX_FILE_BYTES = 5 * 1024 * 1024
FILE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "application/pdf",
        "text/plain",
        "audio/mpeg",
        "audio/ogg",
        "audio/aac",
        "audio/mp4",
        "video/mp4",
        "video/3gpp",
        "application/msword",
    }
)
PHONE_FIELD = "Switchboard_Phone"
CHANNEL_FIELD = "Switchboard_Channel"
NAME_FIELD = "Switchboard_Name"


def api_for(connection) -> EnhancedChatApi:
    return EnhancedChatApi(
        connection.interaction_base_url, connection.tenant.org_id, connection.es_developer_name
    )


class EnhancedChatDesk(Desk):
    name = "enhanced_chat"
    agent_feed = "enhanced_chat"  # relay_listen holds the open conversations' streams (enhanced_chat_feed.py)

    @property
    def api(self) -> EnhancedChatApi:
        return api_for(self.connection)

    # --- customer → agent -----------------------------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        conversation = message.conversation
        message_id = stable_id("message", message.tenant_id, message.pk)
        with attempt(message, target="salesforce", action="enhanced_chat_message"):
            session = self._session_for(conversation)
            token = fresh_token(session, self.api)
            try:
                self._send(token, session, message, message_id)
            except ExternalError as exc:
                self._after_refusal(session, token, exc)
                raise
        mark_delivered(message, salesforce_entry_id=message_id)

    def agent_available(self, conversation: Conversation) -> bool | None:
        return None  # the Enhanced Chat API says nothing about agents before a conversation is routed

    def end_session(self, conversation: Conversation) -> None:
        """The customer ends the conversation (``DELETE conversation/{id}``)."""
        session = EnhancedChatSession.objects.filter(
            conversation=conversation, status__in=EnhancedChatSession.OPEN_STATES
        ).first()
        if session is None:
            return
        try:
            self.api.close(fresh_token(session, self.api), session.conversation_uuid)
        except ExternalError as exc:
            if exc.code not in (CONVERSATION_GONE, TOKEN_REFUSED) and exc.status != 400:
                raise
        close_session(session, "customer")

    # --- agent → customer -----------------------------------------------------------------------------------

    def acknowledge(self, conversation: Conversation, items: list[tuple[str, str, int]]) -> None:
        """The provider's delivery and read reports of agent messages (relay/outbound/notices.py), as the
        end user's acknowledgements: ``(entry identifier, "Delivered" | "Read", time in ms)``, at most 25."""
        sessions = {
            session.pk: session
            for session in EnhancedChatSession.objects.filter(conversation=conversation).order_by("-pk")
        }
        if not sessions:
            raise ExternalError("No Enhanced Chat conversation to acknowledge in.", permanent=True)
        newest = next(iter(sessions.values()))
        held_by = _sessions_of_entries(conversation, [entry for entry, _kind, _at in items])
        by_session: dict[int, list[tuple[str, str, str]]] = {}
        for entry, kind, _at in items:
            # Each in the conversation its message came in: an agent's message of an earlier conversation,
            # reported once the customer is in a newer one, is refused in the newer one (and the whole call).
            session = sessions.get(held_by.get(entry, newest.pk), newest)
            ack = (stable_id("ack", entry, kind), "Read" if kind == "Read" else "Delivery", entry)
            by_session.setdefault(session.pk, []).append(ack)
        for session_pk, acks in by_session.items():
            session = sessions[session_pk]
            self.api.acknowledge(fresh_token(session, self.api), session.conversation_uuid, acks)

    def receive(self, event: dict) -> None:
        """One stream event of a conversation: ``{"session": pk, "id", "event", "data"}`` (enhanced_chat_feed)."""
        record_event(event["session"], event.get("id", ""), event.get("event", ""), event.get("data", ""))

    # --- the conversation -----------------------------------------------------------------------------------

    def _session_for(self, conversation: Conversation) -> EnhancedChatSession:
        """The conversation's open Enhanced Chat conversation, created (once) when there is none."""
        session = EnhancedChatSession.objects.filter(
            conversation=conversation, status__in=EnhancedChatSession.OPEN_STATES
        ).first()
        api = self.api
        if session is None:
            user = api.new_end_user()
            try:
                with transaction.atomic():
                    session = EnhancedChatSession.objects.create(
                        tenant_id=conversation.tenant_id,
                        conversation=conversation,
                        conversation_uuid=str(uuid.uuid4()),  # lowercase, as the API wants
                        access_token=user.access_token,
                        token_expires_at=user.expires_at,
                        last_event_id=user.last_event_id,
                    )
            except IntegrityError:
                raise ExternalError(
                    "Another Enhanced Chat conversation was opened at the same moment."
                ) from None
        if session.status == Status.OPENING:
            token = fresh_token(session, api)
            api.create_conversation(token, session.conversation_uuid, prechat(self.connection, conversation))
            EnhancedChatSession.objects.filter(pk=session.pk, status=Status.OPENING).update(
                status=Status.OPEN, updated_at=timezone.now()
            )
            session.status = Status.OPEN
        return session

    def _send(self, token: str, session: EnhancedChatSession, message: Message, message_id: str) -> None:
        api, conversation_id = self.api, session.conversation_uuid
        if message.kind != "media":
            api.send_text(token, conversation_id, message_id, as_text(message) or "(empty message)")
            return
        media = stored_event(message).media
        if media is None or not media.url:
            note = media_link_note(message, "the provider gave no link to it")
            api.send_text(token, conversation_id, message_id, note)
            return
        account = message.conversation.sender.account
        try:
            content, mime_type, filename = get_provider(account.provider).download_media(account, media.url)
        except ExternalError as exc:
            if not exc.permanent:
                raise
            note = media_link_note(message, f"download failed: {exc.message}")
            api.send_text(token, conversation_id, message_id, note)
            return
        mime_type = normalize_mime(mime_type or media.mime_type) or "application/octet-stream"
        problem = file_problem(mime_type, len(content))
        if problem is None:
            try:
                api.send_file(
                    token,
                    conversation_id,
                    message_id,
                    name=media.filename or filename or media.kind,
                    content_type=mime_type,
                    data=content,
                    text=media.caption,
                )
                return
            except ExternalError as exc:
                if exc.status not in (413, 415):
                    raise
                problem = f"Enhanced Chat refused the file ({exc.message})"
        api.send_text(token, conversation_id, message_id, media_link_note(message, problem))

    def _after_refusal(self, session: EnhancedChatSession, token: str, exc: ExternalError) -> None:
        """A refused token is renewed; a conversation that is gone (closed by the agent a moment ago, say) is
        ended here, so the retry opens a new one. The caller re-raises ``exc`` (transient: the retry comes)."""
        if exc.code == TOKEN_REFUSED:
            try:
                renew_token(session.pk, self.api, refused=token)
            except ExternalError as renewal:
                if renewal.code == TOKEN_REFUSED:  # the end user is gone for good: a new conversation next
                    close_session(session, "token refused")
            return
        gone = exc.code == CONVERSATION_GONE
        if not gone and exc.status == 400:
            try:
                gone = not self.api.is_open(token, session.conversation_uuid)
            except ExternalError:
                return
        if gone:
            close_session(session, "closed")
            exc.permanent = False  # not the message's fault: it goes to the new conversation
            exc.retry_after = 0


def file_problem(mime_type: str, size: int) -> str | None:
    """Why the file API would refuse a file, or None."""
    if mime_type not in FILE_TYPES and not mime_type.startswith(
        "application/vnd.openxmlformats-officedocument."
    ):
        return f"Enhanced Chat takes no {mime_type} files"
    if size <= 0:
        return "the file is empty"
    if size > MAX_FILE_BYTES:
        return f"the file has {size / 1024 / 1024:.1f} MB; Enhanced Chat takes at most 5 MB"
    return None


def prechat(connection, conversation: Conversation) -> dict[str, str]:
    """The conversation's ``routingAttributes``: the deployment's hidden pre-chat fields. The tenant's own
    (:class:`EnhancedChatPrechatField`), the sender's routing rule (queue, agent, sticky agent, flow: the same
    names as for Messaging, README "Routing"), the customer's number or id, channel and name."""
    attributes = {
        row.name: row.value for row in EnhancedChatPrechatField.objects.filter(tenant_id=connection.tenant_id)
    }
    attributes.update(routing_attributes(conversation))
    attributes[PHONE_FIELD] = conversation.customer
    attributes[CHANNEL_FIELD] = f"{conversation.sender.get_channel_display()} ({conversation.sender.address})"
    if conversation.customer_name:
        attributes[NAME_FIELD] = conversation.customer_name[:255]
    return attributes


def fresh_token(session: EnhancedChatSession, api: EnhancedChatApi) -> str:
    """The session's token, renewed first when it expires within :data:`RENEW_BEFORE`."""
    expires = session.token_expires_at
    if expires is not None and expires - timezone.now() < RENEW_BEFORE:
        return renew_token(session.pk, api)
    return str(session.access_token)


def renew_token(pk: int, api: EnhancedChatApi, *, refused: str | None = None) -> str:
    """A continuation token for the session's end user, stored: when the token expires soon, or when it is
    ``refused``. A worker and the listener renewing at once renew once (the row is locked and read again)."""
    with transaction.atomic():
        session = EnhancedChatSession.objects.select_for_update().get(pk=pk)
        current, expires = str(session.access_token), session.token_expires_at
        if refused is not None and current != refused:
            return current  # renewed by someone else meanwhile
        if refused is None and (expires is None or expires - timezone.now() >= RENEW_BEFORE):
            return current
        renewed = api.continue_token(current)
        session.access_token, session.token_expires_at = renewed.access_token, renewed.expires_at
        session.save(update_fields=["access_token", "token_expires_at", "updated_at"])
    return renewed.access_token


def _sessions_of_entries(conversation: Conversation, entries: list[str]) -> dict[str, int]:
    """The Enhanced Chat conversation (session pk) each agent message entry came in, as its row recorded it (rows
    from before it was recorded are left out: the newest conversation is theirs)."""
    rows = Message.objects.filter(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        content__entry_identifier__in=entries,
    ).values_list("content", flat=True)
    found: dict[str, int] = {}
    for content in rows:
        session = content.get("enhanced_chat_session") if isinstance(content, dict) else None
        if isinstance(session, int):
            found[str(content.get("entry_identifier"))] = session
    return found
