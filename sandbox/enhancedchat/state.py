"""Enhanced Chat state: deployments, tokens, conversations, and how their entries reach the event streams.

A Custom Client Embedded Service deployment (``esDeveloperName``) belongs to an org and has a Messaging
channel of type EmbeddedMessaging (a ``MessagingChannel`` row routed to the deployment's queue).
A conversation is the shared Messaging state's :class:`Conversation` under the client's own
``conversationId``, so its sessions are ``MessagingSession`` rows the agent console lists, accepts,
answers and ends. The console's actions go through ``MessagingService.publish``, which hands entries of
these conversations (channel definition ``EnhancedChat:<deployment>``) to :meth:`EnhancedChatService.route`:
they become server-sent events on the end user's stream instead of platform events.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..salesforce.ids import to15
from ..salesforce.messaging import Conversation, Entry, now_ms
from ..salesforce.org import Org, sf_datetime
from . import tokens
from .limits import Limits, Windows
from .streams import EventLog

if TYPE_CHECKING:
    from ..world import World

CHANNEL_KIND = "EnhancedChat"  # prefix of the channel definition key of our conversations
CHANNEL_TYPE = "embedded_messaging"
END_USER_APP = "iamessage"
# RoutingResult failureType values other than None, as Salesforce's clients know them (S6 constants.js; S10).
ROUTING_FAILURE_TYPES = frozenset({"Unknown", "SubmissionError", "RoutingError", "Cancelled"})
DEFAULT_TOKEN_LIFETIME = 6 * 3600  # undocumented: our choice
# What Enhanced Chat clients render (Message Types and Format Types), registered for the console's choices.
CAPABILITIES = {
    "channelCapabilities": [
        {
            "messageTypeCapabilities": [
                {
                    "messageType": "StaticContentMessage",
                    "formatTypeCapabilities": [{"formatType": "Text"}, {"formatType": "Attachments"}],
                },
                {
                    "messageType": "ChoicesMessage",
                    "formatTypeCapabilities": [{"formatType": "Buttons"}, {"formatType": "QuickReplies"}],
                },
            ]
        }
    ]
}


class ApiError(Exception):
    """A refusal: HTTP status, the message of the ``{"message", "code"}`` body, optional Retry-After."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass
class Deployment:
    developer_name: str
    channel_id: str  # MessagingChannel Id
    channel_address: str
    user_verification: bool = False
    verification_secret: str = ""
    prechat_fields: list[str] | None = None  # None: every routing attribute is taken
    token_lifetime_seconds: float = DEFAULT_TOKEN_LIFETIME
    # Messaging Settings, "Session-Based Chat: End chat when session ends" (S9): a session's end, by the
    # agent, a bot or the end user, ends the conversation too. Not possible with User Verification.
    session_based_chat: bool = True
    # The channel's Omni-Channel flow takes a path without a Route Work action and returns this
    # reasonForNotRouting (S10): every new session's initial routing fails, and the RoutingResult says so
    # (failureType, failureReason). None: sessions are routed.
    reason_for_not_routing: str | None = None
    routing_failure_type: str = "RoutingError"

    def as_json(self) -> dict:
        return {
            "developerName": self.developer_name,
            "messagingChannelId": self.channel_id,
            "channelAddressIdentifier": self.channel_address,
            "userVerification": self.user_verification,
            "prechatFields": self.prechat_fields,
            "tokenLifetimeSeconds": self.token_lifetime_seconds,
            "sessionBasedChat": self.session_based_chat,
            "reasonForNotRouting": self.reason_for_not_routing,
            "routingFailureType": self.routing_failure_type,
        }


@dataclass
class ChatState:
    """What the API knows of a conversation beyond the shared Conversation."""

    conversation_id: str
    org_id: str
    deployment: str
    subject: str
    started_ms: int = field(default_factory=now_ms)
    ended_ms: int | None = None
    ignored_routing_attributes: dict = field(default_factory=dict)
    undelivered: list[str] = field(default_factory=list)  # end-user message ids no agent has yet
    unread: list[str] = field(default_factory=list)  # delivered, not yet answered by the agent
    system_entries: list[Entry] = field(default_factory=list)  # routing results: listed, not in the console

    @property
    def closed(self) -> bool:
        return self.ended_ms is not None


class EnhancedChatService:
    def __init__(self, world: World) -> None:
        self.world = world
        self.limits = Limits()
        self.windows = Windows()
        self.events = EventLog()
        self.deployments: dict[str, dict[str, Deployment]] = {}  # org id -> developer name -> deployment
        self.tokens: dict[str, tokens.AccessToken] = {}
        self.chats: dict[tuple[str, str], ChatState] = {}  # (org id, conversation id)
        # (org id, channel id, subject) -> MessagingEndUser Id: a scan of every row per conversation is
        # quadratic, and benchmarks open ten thousand conversations.
        self.end_users: dict[tuple[str, str, str], str] = {}
        world.messaging.outbound_routes[CHANNEL_KIND] = self.route

    def reset(self) -> None:
        self.limits = Limits()
        self.windows.reset()
        self.events.reset()
        self.deployments.clear()
        self.tokens.clear()
        self.chats.clear()
        self.end_users.clear()

    # --- deployments ---------------------------------------------------------------------------

    def load_org(self, org: Org, spec: dict) -> None:
        for deployment in spec.get("deployments", []):
            self.add_deployment(org, deployment)

    def add_deployment(self, org: Org, spec: dict) -> Deployment:
        """Add a Custom Client deployment and its channel; every field is checked before anything is made."""
        name = spec["developer_name"]
        if not isinstance(name, str) or not name[:1].isalpha() or not name.replace("_", "").isalnum():
            raise ValueError("developer_name: letters, digits and underscores, starting with a letter")
        if name in self.deployments.get(org.org_id, {}):
            raise ValueError(f"deployment {name} exists")
        fields = spec.get("prechat_fields")
        if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
            raise ValueError("prechat_fields must be a list of field names")
        queue = None
        if spec.get("queue"):
            queue = org.records.first("Group", Type="Queue", DeveloperName=spec["queue"])
            if queue is None:
                raise ValueError(f"deployment {name}: unknown queue {spec['queue']!r}")
        lifetime = spec.get("token_lifetime_seconds", DEFAULT_TOKEN_LIFETIME)
        if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
            raise ValueError("token_lifetime_seconds must be a positive number")
        verified = bool(spec.get("user_verification", False))
        session_based = spec.get("session_based_chat", not verified)
        if not isinstance(session_based, bool):
            raise ValueError("session_based_chat must be true or false")
        if session_based and verified:
            raise ValueError("Session-Based Chat can't be enabled for verified users (User Verification)")
        not_routed = spec.get("reason_for_not_routing")
        if not_routed is not None and not isinstance(not_routed, str):
            raise ValueError("reason_for_not_routing must be a text or null")
        failure_type = spec.get("routing_failure_type", "RoutingError")
        if failure_type not in ROUTING_FAILURE_TYPES:
            raise ValueError(f"routing_failure_type must be one of {sorted(ROUTING_FAILURE_TYPES)}")
        # Stable across sandbox boots, like the fixture's other records (a tenant may remember it).
        address = str(
            spec.get("channel_address_identifier") or uuid.uuid5(uuid.NAMESPACE_URL, f"{org.org_id}/{name}")
        )
        channel = org.records.insert(
            "MessagingChannel",
            {
                "DeveloperName": f"{name}_Channel",
                "MasterLabel": f"{name} (Enhanced Chat)",
                "MessageType": "EmbeddedMessaging",
                "ChannelAddressIdentifier": address,
                "ChannelDefinitionId": None,
                "IsActive": True,
                "RoutingType": "OmniQueue" if queue else "OmniFlow",
                "TargetQueueId": queue["Id"] if queue else None,
            },
        )
        deployment = Deployment(
            developer_name=name,
            channel_id=channel["Id"],
            channel_address=address,
            user_verification=verified,
            verification_secret=str(spec.get("verification_secret", "")),
            prechat_fields=fields,
            token_lifetime_seconds=float(lifetime),
            session_based_chat=session_based,
            reason_for_not_routing=not_routed,
            routing_failure_type=failure_type,
        )
        self.deployments.setdefault(org.org_id, {})[name] = deployment
        self.world.messaging.state(org).capabilities[self.channel_key(name)] = CAPABILITIES
        return deployment

    def deployment(self, org: Org, name: str) -> Deployment | None:
        return self.deployments.get(org.org_id, {}).get(name)

    @staticmethod
    def channel_key(deployment: str) -> str:
        return f"{CHANNEL_KIND}:{deployment}"

    # --- tokens ----------------------------------------------------------------------------------

    def take_token_budget(self, org: Org) -> None:
        self._take_org_budget(org, "tokens", self.limits.tokens_per_org_per_minute, "access token")

    def take_renewal_budget(self, org: Org) -> None:
        """Renewing a token (continuation) has its own per-org limit, apart from new access tokens."""
        self._take_org_budget(org, "renewals", self.limits.renewals_per_org_per_minute, "token renewal")

    def _take_org_budget(self, org: Org, kind: str, per_window: int, what: str) -> None:
        wait = self.windows.take(f"{kind}:{org.org_id}", per_window, self.limits.window_seconds)
        if wait is not None:
            raise ApiError(429, f"Too many {what} requests for this org. Retry later.", wait)

    def issue_token(
        self, org: Org, deployment: Deployment, subject: str, *, verified: bool
    ) -> tokens.AccessToken:
        token = tokens.issue(
            org_id=org.org_id,
            deployment=deployment.developer_name,
            subject=subject,
            lifetime_seconds=deployment.token_lifetime_seconds,
            verified=verified,
        )
        self.tokens[token.value] = token
        return token

    def authenticate(self, value: str) -> tokens.AccessToken:
        token = self.tokens.get(value) if value else None
        if token is None or tokens.verify_jwt(value, tokens.SIGNING_KEY) is None:
            raise ApiError(401, "Invalid access token.")
        if not token.valid:
            raise ApiError(401, "The access token has expired or was revoked.")
        return token

    def expire_tokens(self, org: Org) -> int:
        expired = [t for t in self.tokens.values() if t.org_id == org.org_id and t.valid]
        for token in expired:
            token.expires_at = time.time() - 1
        return len(expired)

    # --- conversations ---------------------------------------------------------------------------

    def chat(self, org: Org, token: tokens.AccessToken, conversation_id: str) -> ChatState:
        """The token subject's conversation; another subject's is as unknown as a missing one."""
        chat = self.chats.get((org.org_id, conversation_id))
        if chat is None or chat.subject != token.subject:
            raise ApiError(404, f"Conversation {conversation_id} not found.")
        return chat

    def conversation(self, org: Org, chat: ChatState) -> Conversation:
        return self.world.messaging.state(org).conversations[chat.conversation_id]

    def create_conversation(
        self,
        org: Org,
        deployment: Deployment,
        token: tokens.AccessToken,
        conversation_id: str,
        attributes: dict,
        ignored: dict,
    ) -> ChatState:
        messaging = self.world.messaging
        state = messaging.state(org)
        if (org.org_id, conversation_id) in self.chats or conversation_id in state.conversations:
            raise ApiError(409, f"Conversation {conversation_id} already exists.")
        records = org.records
        key = (org.org_id, deployment.channel_id, token.subject)
        end_user = records.get("MessagingEndUser", self.end_users.get(key, "")) or records.insert(
            "MessagingEndUser",
            {
                "Name": "Guest" if not token.verified else token.subject.rpartition("uid:")[2],
                "MessagingPlatformKey": token.subject,
                "MessagingChannelId": deployment.channel_id,
                "MessageType": "EmbeddedMessaging",
                "MessagingConsentStatus": "ImplicitlyOptedIn",
                "ContactId": None,
                "AccountId": None,
            },
        )
        self.end_users[key] = end_user["Id"]
        record = records.insert(
            "Conversation",
            {
                "ConversationIdentifier": conversation_id,
                "ConversationChannelId": deployment.channel_id,
                "Name": conversation_id,
            },
        )
        conversation = Conversation(
            identifier=conversation_id,
            org_id=org.org_id,
            channel_address=deployment.channel_address,
            channel_id=deployment.channel_id,
            channel_definition=self.channel_key(deployment.developer_name),
            end_user_subject=token.subject,
            end_user_id=end_user["Id"],
            record_id=record["Id"],
            routing_attributes=dict(attributes),
        )
        state.conversations[conversation_id] = conversation
        chat = ChatState(
            conversation_id=conversation_id,
            org_id=org.org_id,
            deployment=deployment.developer_name,
            subject=token.subject,
            ignored_routing_attributes=dict(ignored),
        )
        self.chats[(org.org_id, conversation_id)] = chat
        self.open_session(org, chat, attributes)
        return chat

    def open_session(self, org: Org, chat: ChatState, attributes: dict | None) -> dict:
        """The conversation's open session, or a new Waiting one (routed, and announced on the stream)."""
        messaging = self.world.messaging
        conversation = self.conversation(org, chat)
        row = messaging.open_session(org, conversation)
        if row is not None:
            if attributes:
                messaging.state(org).sessions[row["Id"]].routing_attributes.update(attributes)
            return row
        row = messaging.ensure_session(org, conversation, routing_attributes=attributes or None)
        org.records.update("MessagingSession", row["Id"], {"ChannelType": "EmbeddedMessaging"})
        deployment = self.deployments[org.org_id][chat.deployment]
        not_routed = deployment.reason_for_not_routing
        routing = messaging.state(org).sessions[row["Id"]].requested_routing
        if not_routed is not None:  # the flow ended without Route Work: no queue or rep is offered it
            routing = messaging.state(org).sessions[row["Id"]].requested_routing = {}
            org.records.update("MessagingSession", row["Id"], {"OwnerId": None, "TargetUserId": None})
        identifier = str(uuid.uuid4())
        payload = {
            "entryType": "RoutingResult",
            "id": identifier,
            "recordId": row["Id"],
            "routingType": "Initial",
            "failureType": "None" if not_routed is None else deployment.routing_failure_type,
            "failureReason": not_routed,
            "errorMessages": [],
            "isExternallyRouted": False,
            "workOwnerId": routing.get("id") if routing.get("kind") == "agent" else None,
            "estimatedWaitTime": {"isEWTRequested": False, "estimatedWaitTimeInSeconds": -1},
            "routingConfigurationDetails": {
                "routingConfigurationType": "Queue" if routing.get("kind") == "queue" else "Flow",
                "queueId": routing.get("id") if routing.get("kind") == "queue" else None,
            },
        }
        entry = self._system_entry(conversation, "RoutingResult", payload, identifier)
        chat.system_entries.append(entry)
        self.emit_entry(org, chat, "CONVERSATION_ROUTING_RESULT", entry)
        return row

    def close(self, org: Org, chat: ChatState, *, ended_by: str) -> None:
        """The end user closes the conversation (``DELETE conversation/{id}``): its open session ends (the
        stream says so with CONVERSATION_SESSION_STATUS_CHANGED), then CONVERSATION_CLOSE_CONVERSATION, the
        event S4 sends only when the end user closes the conversation."""
        if chat.closed:
            return
        messaging = self.world.messaging
        conversation = self.conversation(org, chat)
        row = messaging.open_session(org, conversation)
        if row is not None:
            messaging.end_session(
                org, conversation, row["Id"], ended_by_role=ended_by, created_by_id=org.org_id
            )
        self._end_conversation(org, chat, conversation)
        identifier = str(uuid.uuid4())
        payload = {
            "entryType": "ConversationClosed",
            "id": identifier,
            "conversationId": chat.conversation_id,
        }
        self.emit_entry(
            org,
            chat,
            "CONVERSATION_CLOSE_CONVERSATION",
            self._system_entry(conversation, "ConversationClosed", payload, identifier),
        )

    def end_session_only(self, org: Org, chat: ChatState) -> None:
        """The end user ends the session (``DELETE conversation/{id}/session``): with Session-Based Chat the
        conversation ends with it (:meth:`route`), without it the conversation stays open."""
        messaging = self.world.messaging
        conversation = self.conversation(org, chat)
        row = messaging.open_session(org, conversation)
        if row is None:
            return
        messaging.end_session(org, conversation, row["Id"], ended_by_role="EndUser", created_by_id=org.org_id)

    # --- end-user entries --------------------------------------------------------------------------

    def add_end_user_entry(
        self,
        org: Org,
        chat: ChatState,
        token: tokens.AccessToken,
        entry_type: str,
        payload: dict,
        identifier: str,
    ) -> Entry:
        messaging = self.world.messaging
        conversation = self.conversation(org, chat)
        row = messaging.open_session(org, conversation)
        stamp = now_ms()
        entry = Entry(
            identifier=identifier,
            entry_type=entry_type,
            sender={
                "role": "EndUser",
                "appType": END_USER_APP,
                "subject": chat.subject,
                "clientIdentifier": token.client_id,
            },
            sender_display_name="Guest",
            entry_payload=payload,
            client_timestamp=stamp,
            transcripted_timestamp=stamp,
            session_id=row["Id"] if row else None,
            source="enhancedchat",
        )
        messaging.add_entry(org, conversation, entry)
        return entry

    def end_user_message(self, org: Org, chat: ChatState, entry: Entry) -> None:
        """Echo an end-user message on the stream, and acknowledge its delivery if an agent has the session."""
        self.emit_entry(org, chat, "CONVERSATION_MESSAGE", entry)
        chat.undelivered.append(entry.identifier)
        if self._agent_present(org, chat):
            self._acknowledge(org, chat, "Delivery")

    # --- the agent's side (called by MessagingService.publish) -------------------------------------

    def route(self, org: Org, conversation: Conversation, entry: Entry) -> None:
        chat = self.chats.get((org.org_id, conversation.identifier))
        if chat is None:
            return None
        kind, payload = entry.entry_type, entry.entry_payload
        if kind == "Message":
            self._acknowledge(org, chat, "Delivery")
            self._acknowledge(org, chat, "Read")  # the agent answers what it has read
            self.emit_entry(org, chat, "CONVERSATION_MESSAGE", entry)
        elif kind == "TypingStartedIndicator":
            self.emit_entry(org, chat, "CONVERSATION_TYPING_STARTED_INDICATOR", entry)
        elif kind == "TypingStoppedIndicator":
            self.emit_entry(org, chat, "CONVERSATION_TYPING_STOPPED_INDICATOR", entry)
        elif kind == "ParticipantChanged":
            self.emit_entry(org, chat, "CONVERSATION_PARTICIPANT_CHANGED", entry)
            operations = {e.get("operation") for e in payload.get("entries", [])}
            if "add" in operations:
                self._acknowledge(org, chat, "Delivery")
        elif kind == "SessionStatusChanged":
            # S4: every session status change, whoever caused it (agent, end user, system), reaches the
            # stream; an agent's End is never a CONVERSATION_CLOSE_CONVERSATION.
            self.emit_entry(org, chat, "CONVERSATION_SESSION_STATUS_CHANGED", entry)
            deployment = self.deployments[org.org_id][chat.deployment]
            if payload.get("sessionStatus") == "Ended" and deployment.session_based_chat:
                self._end_conversation(org, chat, conversation)  # S9: the conversation ends with the session
        return None

    def _agent_present(self, org: Org, chat: ChatState) -> bool:
        messaging = self.world.messaging
        row = messaging.open_session(org, self.conversation(org, chat))
        info = messaging.state(org).sessions.get(row["Id"]) if row else None
        return bool(row and row["Status"] == "Active" and info and info.agent_id)

    def _acknowledge(self, org: Org, chat: ChatState, kind: str) -> None:
        """Tell the end user an agent received (Delivery) or read (Read) their messages."""
        pending = chat.undelivered if kind == "Delivery" else chat.unread
        if kind == "Delivery":
            chat.unread.extend(pending)
        conversation = self.conversation(org, chat)
        for message_id in list(pending):
            identifier, stamp = str(uuid.uuid4()), now_ms()
            entry_type = f"{kind}Acknowledgement"
            payload = {
                "entryType": entry_type,
                "id": identifier,
                "acknowledgementTimestamp": stamp,
                "acknowledgedConversationEntryIdentifier": message_id,
            }
            entry = self._system_entry(conversation, entry_type, payload, identifier)
            event = (
                "CONVERSATION_DELIVERY_ACKNOWLEDGEMENT"
                if kind == "Delivery"
                else "CONVERSATION_READ_ACKNOWLEDGEMENT"
            )
            self.emit_entry(org, chat, event, entry, related=[message_id])
        pending.clear()

    def _end_conversation(self, org: Org, chat: ChatState, conversation: Conversation) -> None:
        """The conversation is over: read-only (messages to it are refused), EndTime on its record."""
        if chat.closed:
            return
        chat.ended_ms = now_ms()
        org.records.update(
            "Conversation", conversation.record_id, {"EndTime": sf_datetime(chat.ended_ms / 1000)}
        )

    # --- events ------------------------------------------------------------------------------------

    def _system_entry(
        self, conversation: Conversation, entry_type: str, payload: dict, identifier: str
    ) -> Entry:
        stamp = now_ms()
        return Entry(
            identifier=identifier,
            entry_type=entry_type,
            sender={"role": "System", "appType": "conversation", "subject": conversation.identifier},
            sender_display_name="Automated Process",
            entry_payload=payload,
            client_timestamp=stamp,
            transcripted_timestamp=stamp,
            session_id=None,
            source="system",
        )

    def emit_entry(
        self, org: Org, chat: ChatState, event_type: str, entry: Entry, related: list[str] | None = None
    ) -> None:
        """Put an entry on the subject's stream in the documented event shape (``entryPayload`` a JSON string)."""
        sender = dict(entry.sender)
        if sender.get("role") == "Agent":
            sender.setdefault("clientIdentifier", "")
        data = {
            "channelPlatformKey": chat.subject,
            "channelType": CHANNEL_TYPE,
            "channelAddressIdentifier": self.deployments[org.org_id][chat.deployment].channel_address,
            "conversationId": chat.conversation_id,
            "conversationEntry": {
                "senderDisplayName": entry.sender_display_name,
                "identifier": entry.identifier,
                "entryType": entry.entry_type,
                "entryPayload": json.dumps(entry.entry_payload),
                "sender": sender,
                "messageId": entry.identifier,
                "clientTimestamp": entry.client_timestamp,
                "transcriptedTimestamp": entry.transcripted_timestamp,
                "clientDuration": 0,
                "relatedRecords": list(related or []),
            },
        }
        self.events.emit(org.org_id, chat.subject, event_type, data)

    def api_entries(self, org: Org, chat: ChatState) -> list[Entry]:
        """The conversation's entries as the end user's API lists them, oldest first."""
        entries = [*self.conversation(org, chat).entries, *chat.system_entries]
        return sorted(entries, key=lambda e: (e.client_timestamp, e.seq))

    @staticmethod
    def entry_json(org: Org, chat: ChatState, entry: Entry) -> dict:
        return {
            "identifier": entry.identifier,
            "entryType": entry.entry_type,
            "entryPayload": entry.entry_payload,
            "sender": dict(entry.sender),
            "senderDisplayName": entry.sender_display_name,
            "clientTimestamp": entry.client_timestamp,
            "transcriptedTimestamp": entry.transcripted_timestamp,
            "conversationId": chat.conversation_id,
        }

    # --- views for the control API ---------------------------------------------------------------------

    def chats_json(self, org: Org) -> list[dict]:
        messaging = self.world.messaging
        result = []
        for (org_id, _), chat in self.chats.items():
            if org_id != org.org_id:
                continue
            conversation = self.conversation(org, chat)
            result.append(
                {
                    "conversationId": chat.conversation_id,
                    "esDeveloperName": chat.deployment,
                    "subject": chat.subject,
                    "status": "Closed" if chat.closed else "Open",
                    "startTimestamp": chat.started_ms,
                    "endTimestamp": chat.ended_ms,
                    "routingAttributes": dict(conversation.routing_attributes),
                    "ignoredRoutingAttributes": dict(chat.ignored_routing_attributes),
                    "sessionIds": [to15(s) for s in conversation.session_ids],
                    "sessions": [
                        {
                            "id": s,
                            "status": (messaging.session_row(org, s) or {}).get("Status"),
                            "requestedRouting": dict(messaging.state(org).sessions[s].requested_routing),
                        }
                        for s in conversation.session_ids
                    ],
                    "entries": [e.as_json() | {"text": e.text} for e in conversation.ordered_entries()],
                    "events": [
                        {"id": e.id, "type": e.type, "conversationId": e.data.get("conversationId")}
                        for e in self.events.events(org.org_id, chat.subject)
                        if e.data.get("conversationId") == chat.conversation_id
                    ],
                }
            )
        return result
