"""Conversations, Messaging sessions and conversation entries (the Interaction Service's state).

What Salesforce keeps for BYOC for Messaging, per org:

* a conversation per (channel address, end user): its stable ``conversationIdentifier``, its entries
  in order (customer messages, history imports, agent messages, system entries), the routing
  attributes the partner sent and the sessions opened on it;
* ``MessagingEndUser`` and ``MessagingSession`` rows in ``org.records`` (so the REST API and SOQL see
  them), a ``Conversation`` row per conversation and a ``ConversationEntry`` row per entry;
* acknowledgements and delivery failures, attached to the agent entry they reference;
* registered capabilities per channel definition, files (``ContentVersion`` bytes) and every outbound
  platform event published, for the agent console and the control API to inspect.

Outbound entries are published as the CCD's custom platform event (``EventType__c = "Interaction"``,
``Payload__c`` = the ``InteractionEvent`` JSON of ``outbound-custom-event-payload.yaml``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .. import epoch
from .ids import to15, to18
from .org import Org, sf_datetime

if TYPE_CHECKING:
    from ..world import World

log = logging.getLogger("sandbox.messaging")

OPEN_STATUSES = ("New", "Waiting", "Active", "Consent", "Paused", "Inactive")
END_USER_APP = "custom"
REQUEST_LOG_LIMIT = 500


def now_ms() -> int:
    return int(time.time() * 1000)


def end_user_participant(subject: str) -> dict:
    return {"appType": END_USER_APP, "subject": subject, "role": "EndUser"}


def agent_participant(user_id: str) -> dict:
    return {"appType": "agent", "subject": to15(user_id), "role": "Agent"}


def system_participant(conversation_identifier: str) -> dict:
    return {"appType": "conversation", "subject": conversation_identifier, "role": "System"}


class InteractionError(Exception):
    """A request Salesforce refuses: its Interaction Service error code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class StoredFile:
    """A file in Salesforce Files (a ContentVersion), downloadable through a distribution link."""

    content_version_id: str
    org_id: str
    name: str
    mime_type: str
    data: bytes
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def url(self, base_url: str) -> str:
        return (
            f"{base_url}/sim/files/sfc/dist/version/download/"
            f"?oid={to15(self.org_id)}&ids={to15(self.content_version_id)}&d={self.token}"
        )


@dataclass
class Entry:
    """One conversation entry, in the outbound ``ConversationEntry`` shape plus bookkeeping."""

    identifier: str
    entry_type: str
    sender: dict
    sender_display_name: str
    entry_payload: dict
    client_timestamp: int
    transcripted_timestamp: int
    session_id: str | None
    source: str  # "interaction" (partner -> SF), "history", "agent" or "system"
    seq: int = 0
    acknowledgements: list[dict] = field(default_factory=list)
    delivery_failures: list[dict] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)
    replay_id: str | None = None  # hex replay id of the published platform event, if published

    def conversation_entry(self) -> dict:
        """The ``ConversationEntry`` (outbound YAML) of this entry: the ``payload`` of an event."""
        return {
            "identifier": self.identifier,
            "senderDisplayName": self.sender_display_name,
            "sender": dict(self.sender),
            "entryType": self.entry_type,
            "entryPayload": self.entry_payload,
            "transcriptedTimestamp": self.transcripted_timestamp,
            "clientTimestamp": self.client_timestamp,
            "clientDuration": 0,
        }

    def as_json(self) -> dict:
        return {
            **self.conversation_entry(),
            "sessionId": self.session_id,
            "source": self.source,
            "seq": self.seq,
            "acknowledgements": self.acknowledgements,
            "deliveryFailures": self.delivery_failures,
            "replayId": self.replay_id,
        }

    @property
    def text(self) -> str:
        """Best-effort human text of a message entry (for the console and ConversationEntry.Message)."""
        message = self.entry_payload.get("abstractMessage") or {}
        static = message.get("staticContent") or {}
        if static.get("text"):
            return static["text"]
        choices = message.get("choices") or {}
        if choices.get("text"):
            return choices["text"]
        response = message.get("choicesResponse") or {}
        titles = [
            ((opt.get("optionTitle") or {}).get("title") or opt.get("optionIdentifier", ""))
            for opt in response.get("selectedOptions") or []
        ]
        if titles:
            return ", ".join(titles)
        if static.get("attachments"):
            return ", ".join(a.get("name", "") for a in static["attachments"])
        return ""


@dataclass
class Conversation:
    identifier: str
    org_id: str
    channel_address: str
    channel_id: str
    channel_definition: str  # CCD DeveloperName
    end_user_subject: str
    end_user_id: str  # MessagingEndUser Id
    record_id: str  # Conversation Id
    entries: list[Entry] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)
    routing_attributes: dict = field(default_factory=dict)

    def entry(self, identifier: str) -> Entry | None:
        return next((e for e in self.entries if e.identifier == identifier), None)

    def ordered_entries(self) -> list[Entry]:
        """Entries in conversation order: by client timestamp, then by arrival (history comes newest first)."""
        return sorted(self.entries, key=lambda e: (e.client_timestamp, e.seq))

    def as_json(self) -> dict:
        return {
            "conversationIdentifier": self.identifier,
            "channelAddressIdentifier": self.channel_address,
            "messagingChannelId": self.channel_id,
            "channelDefinition": self.channel_definition,
            "endUserClientId": self.end_user_subject,
            "messagingEndUserId": self.end_user_id,
            "conversationId": self.record_id,
            "sessionIds": list(self.session_ids),
            "routingAttributes": dict(self.routing_attributes),
        }


@dataclass
class SessionInfo:
    """What the sim knows about a MessagingSession beyond its record."""

    session_id: str
    conversation_identifier: str
    routing_attributes: dict = field(default_factory=dict)
    requested_routing: dict = field(default_factory=dict)
    agent_id: str | None = None
    typing: bool = False  # the end user is typing
    agent_typing: bool = False


class OrgMessaging:
    """The Interaction Service state of one org."""

    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.by_address: dict[tuple[str, str], str] = {}  # (channel address, end user) -> identifier
        self.sessions: dict[str, SessionInfo] = {}
        self.capabilities: dict[str, dict] = {}  # CCD DeveloperName -> CapabilitiesRequest.capabilities
        self.files: dict[str, StoredFile] = {}
        self.events: list[dict] = []  # every platform event published, in order
        self.requests: list[dict] = []  # every Interaction Service request and its answer
        self.routes: list[dict] = []  # POST/DELETE /route and /routingResult calls (RoutingOwner=Partner)


class MessagingService:
    def __init__(self, world: World) -> None:
        self.world = world
        self._orgs: dict[str, OrgMessaging] = {}
        self._seq = 0
        self._tasks: set[asyncio.Task] = set()
        # HTTP status per Interaction Service error code (undocumented: open question 1). 10004 is 401,
        # everything else 400 unless overridden through the control API.
        self.error_status: dict[int, int] = {}
        # How the asynchronous upload of an end user's file ends: None completes it; an AttachmentUploadErrorType
        # (outbound-custom-event-payload.yaml, e.g. "StorageLimitExceeded") fails it with that error.
        self.upload_error: str | None = None
        # Conversations of another channel kind (channel definition "<kind>:<name>", e.g. Enhanced Chat)
        # hand their outbound entries to that kind instead of a platform event. Survives reset.
        self.outbound_routes: dict[str, Callable[[Org, Conversation, Entry], None]] = {}

    def reset(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._orgs.clear()
        self.error_status.clear()
        self.upload_error = None

    def http_status(self, code: int) -> int:
        return self.error_status.get(code, 401 if code == 10004 else 400)

    def state(self, org: Org) -> OrgMessaging:
        return self._orgs.setdefault(org.org_id, OrgMessaging())

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # --- lookups ---------------------------------------------------------------------------

    @staticmethod
    def channel_definition(org: Org, developer_name: str) -> dict | None:
        if not developer_name:
            return None
        return org.records.first("ConversationChannelDefinition", DeveloperName=developer_name)

    @staticmethod
    def channel_by_address(org: Org, address: str) -> dict | None:
        return org.records.first("MessagingChannel", ChannelAddressIdentifier=address)

    def conversation(self, org: Org, identifier: str) -> Conversation | None:
        return self.state(org).conversations.get(identifier)

    def conversation_for(self, org: Org, address: str, subject: str) -> Conversation | None:
        identifier = self.state(org).by_address.get((address, subject))
        return self.state(org).conversations.get(identifier) if identifier else None

    def session_row(self, org: Org, session_id: str) -> dict | None:
        return org.records.get("MessagingSession", session_id)

    def session_info(self, org: Org, session_id: str) -> SessionInfo | None:
        row = self.session_row(org, session_id)
        return self.state(org).sessions.get(row["Id"]) if row else None

    def open_session(self, org: Org, conversation: Conversation) -> dict | None:
        """The conversation's newest session unless it has ended."""
        if not conversation.session_ids:
            return None
        row = self.session_row(org, conversation.session_ids[-1])
        return row if row and row["Status"] != "Ended" else None

    def sessions(self, org: Org) -> list[dict]:
        return org.records.all("MessagingSession")

    # --- conversations and sessions ------------------------------------------------------------

    def ensure_conversation(
        self, org: Org, channel: dict, ccd: dict, subject: str, routing_attributes: dict | None = None
    ) -> Conversation:
        state = self.state(org)
        address = channel["ChannelAddressIdentifier"]
        conversation = self.conversation_for(org, address, subject)
        if conversation is None:
            end_user = org.records.first(
                "MessagingEndUser", MessagingPlatformKey=subject, MessagingChannelId=channel["Id"]
            ) or org.records.insert(
                "MessagingEndUser",
                {
                    "Name": subject,
                    "MessagingPlatformKey": subject,
                    "MessagingChannelId": channel["Id"],
                    "MessageType": "Custom",
                    "MessagingConsentStatus": "ImplicitlyOptedIn",
                    "ContactId": None,
                    "AccountId": None,
                },
            )
            identifier = str(uuid.uuid4())
            record = org.records.insert(
                "Conversation",
                {
                    "ConversationIdentifier": identifier,
                    "ConversationChannelId": channel["Id"],
                    "Name": identifier,
                },
            )
            conversation = Conversation(
                identifier=identifier,
                org_id=org.org_id,
                channel_address=address,
                channel_id=channel["Id"],
                channel_definition=ccd["DeveloperName"],
                end_user_subject=subject,
                end_user_id=end_user["Id"],
                record_id=record["Id"],
            )
            state.conversations[identifier] = conversation
            state.by_address[(address, subject)] = identifier
        if routing_attributes:
            conversation.routing_attributes.update(routing_attributes)
        return conversation

    def ensure_session(
        self,
        org: Org,
        conversation: Conversation,
        *,
        routing_attributes: dict | None = None,
        start_ms: int | None = None,
        origin: str = "InboundInitiated",
    ) -> dict:
        """The open session of the conversation, or a new Waiting one when there is none or the last ended."""
        row = self.open_session(org, conversation)
        if row is not None:
            info = self.state(org).sessions[row["Id"]]
            if routing_attributes:
                info.routing_attributes.update(routing_attributes)
            return row
        channel = org.records.get("MessagingChannel", conversation.channel_id)
        attributes = dict(routing_attributes or conversation.routing_attributes)
        routing = requested_routing(org, channel, attributes)
        count = len(org.records.all("MessagingSession")) + 1 + epoch.number_base()
        row = org.records.insert(
            "MessagingSession",
            {
                "Name": f"MS-{count:07d}",
                "Status": "Waiting",
                "Origin": origin,
                "ChannelType": "Custom",
                "MessagingChannelId": conversation.channel_id,
                "MessagingEndUserId": conversation.end_user_id,
                "ConversationId": conversation.record_id,
                "SessionKey": conversation.identifier,
                "StartTime": sf_datetime((start_ms or now_ms()) / 1000),
                "AcceptTime": None,
                "EndTime": None,
                "EndedByType": None,
                "AgentType": None,
                "OwnerId": routing.get("id") if routing.get("kind") in ("queue", "agent") else None,
                "TargetUserId": routing.get("id") if routing.get("kind") == "agent" else None,
                "CaseId": None,
                "LeadId": None,
                "OpportunityId": None,
            },
        )
        self.state(org).sessions[row["Id"]] = SessionInfo(
            session_id=row["Id"],
            conversation_identifier=conversation.identifier,
            routing_attributes=attributes,
            requested_routing=routing,
        )
        conversation.session_ids.append(row["Id"])
        return row

    def set_session_status(self, org: Org, session_id: str, status: str, **fields) -> tuple[dict, str]:
        """Update a session's Status (and other fields); returns (row, previous status)."""
        row = self.session_row(org, session_id)
        previous = row["Status"]
        org.records.update("MessagingSession", row["Id"], {"Status": status, **fields})
        return row, previous

    # --- entries ---------------------------------------------------------------------------------

    def add_entry(self, org: Org, conversation: Conversation, entry: Entry) -> Entry:
        entry.seq = self.next_seq()
        conversation.entries.append(entry)
        actor_type = {"EndUser": "EndUser", "Agent": "Agent", "Chatbot": "Chatbot"}.get(
            entry.sender.get("role"), "System"
        )
        org.records.insert(
            "ConversationEntry",
            {
                "ConversationId": entry.session_id,
                "EntryType": "Text" if entry.entry_type == "Message" else entry.entry_type,
                "Message": entry.text or None,
                "ActorType": actor_type,
                "ActorId": entry.sender.get("subject") if actor_type == "Agent" else None,
                "ActorName": entry.sender_display_name,
                "EntryTime": sf_datetime(entry.client_timestamp / 1000),
                "Seq": entry.seq,
                "ConversationEntryIdentifier": entry.identifier,
            },
        )
        return entry

    def store_file(self, org: Org, name: str, mime_type: str, data: bytes) -> StoredFile:
        row = org.records.insert(
            "ContentVersion",
            {
                "Title": name.rsplit(".", 1)[0] if "." in name else name,
                "PathOnClient": name,
                "FileType": mime_type,
                "ContentSize": len(data),
                "IsLatest": True,
            },
        )
        stored = StoredFile(
            content_version_id=row["Id"], org_id=org.org_id, name=name, mime_type=mime_type, data=data
        )
        self.state(org).files[row["Id"]] = stored
        return stored

    def file(self, org: Org, content_version_id: str) -> StoredFile | None:
        if len(content_version_id or "") not in (15, 18):
            return None
        return self.state(org).files.get(to18(content_version_id))

    def file_url(self, stored: StoredFile) -> str:
        return stored.url(self.world.config.http_base_url)

    # --- outbound events ---------------------------------------------------------------------

    def publish(
        self, org: Org, conversation: Conversation, entry: Entry, *, created_by_id: str
    ) -> str | None:
        """Publish an entry as the CCD's platform event (EventType "Interaction"); returns the replay id."""
        kind, colon, _ = conversation.channel_definition.partition(":")
        route = self.outbound_routes.get(kind) if colon else None
        if route is not None:
            return route(org, conversation, entry)
        ccd = self.channel_definition(org, conversation.channel_definition)
        event = {
            "conversationIdentifier": conversation.identifier,
            "channelAddressIdentifier": conversation.channel_address,
            "recipient": end_user_participant(conversation.end_user_subject),
            "payload": entry.conversation_entry(),
        }
        api_name = ccd["CustomPlatformEvent"]
        fields = {
            ccd["CustomEventTypeField"].rpartition(".")[2]: "Interaction",
            ccd["CustomEventPayloadField"].rpartition(".")[2]: json.dumps(event),
        }
        replay = None
        try:
            replay = self.world.pubsub.publish(org.org_id, api_name, fields, created_by_id=created_by_id)
        except LookupError:  # the CCD names a platform event the org lacks: Salesforce would drop it too
            log.warning(
                "org %s has no platform event %s; %s entry not published",
                org.org_id,
                api_name,
                entry.entry_type,
            )
        entry.replay_id = replay.hex() if isinstance(replay, (bytes, bytearray)) else replay
        self.state(org).events.append(
            {
                "replayId": entry.replay_id,
                "eventApiName": api_name,
                "createdById": created_by_id,
                "createdDate": now_ms(),
                "conversationIdentifier": conversation.identifier,
                "sessionId": entry.session_id,
                "entryType": entry.entry_type,
                "fields": fields,
                "event": event,
            }
        )
        return entry.replay_id

    def publish_session_status(
        self,
        org: Org,
        conversation: Conversation,
        session: dict,
        previous: str,
        *,
        sender: dict,
        sender_name: str,
        created_by_id: str,
        ended_by_role: str | None = None,
    ) -> Entry:
        """Record and publish a SessionStatusChanged entry for the session's current status."""
        identifier = str(uuid.uuid4())
        info = self.state(org).sessions[session["Id"]]
        payload = {
            "entryType": "SessionStatusChanged",
            "id": identifier,
            "conversationIdentifier": conversation.identifier,
            "channelAddressIdentifier": conversation.channel_address,
            "sessionId": session["Id"],
            "sessionStatus": session["Status"],
            "sessionStatusPrev": previous,
            "sessionStartTime": _ms_of(session["StartTime"]),
        }
        if session.get("EndTime"):
            payload["sessionEndTime"] = _ms_of(session["EndTime"])
        if ended_by_role:
            payload["sessionEndedByRole"] = ended_by_role
        stamp = now_ms()
        entry = Entry(
            identifier=identifier,
            entry_type="SessionStatusChanged",
            sender=sender,
            sender_display_name=sender_name,
            entry_payload=payload,
            client_timestamp=stamp,
            transcripted_timestamp=stamp,
            session_id=info.session_id,
            source="system",
        )
        self.add_entry(org, conversation, entry)
        self.publish(org, conversation, entry, created_by_id=created_by_id)
        return entry

    def publish_participant_changed(
        self, org: Org, conversation: Conversation, session_id: str, agent: dict, operation: str
    ) -> Entry:
        identifier = str(uuid.uuid4())
        stamp = now_ms()
        participant = agent_participant(agent["Id"])
        entry = Entry(
            identifier=identifier,
            entry_type="ParticipantChanged",
            sender=participant,
            sender_display_name=agent.get("Name") or agent["Username"],
            entry_payload={
                "entryType": "ParticipantChanged",
                "id": identifier,
                "entries": [
                    {
                        "operation": operation,
                        "participant": participant,
                        "displayName": agent.get("Name") or agent["Username"],
                    }
                ],
            },
            client_timestamp=stamp,
            transcripted_timestamp=stamp,
            session_id=session_id,
            source="system",
        )
        self.add_entry(org, conversation, entry)
        self.publish(org, conversation, entry, created_by_id=agent["Id"])
        return entry

    def end_session(
        self, org: Org, conversation: Conversation, session_id: str, *, ended_by_role: str, created_by_id: str
    ) -> dict:
        """End a session: Status Ended, SessionStatusChanged, and ParticipantChanged(remove) for its agent."""
        info = self.state(org).sessions[to18(session_id)]
        row, previous = self.set_session_status(
            org, session_id, "Ended", EndTime=sf_datetime(), EndedByType=ended_by_role
        )
        if ended_by_role == "Agent" and info.agent_id:
            agent = org.records.get("User", info.agent_id)
            sender, name = agent_participant(agent["Id"]), agent.get("Name") or agent["Username"]
        elif ended_by_role == "EndUser":
            sender, name = end_user_participant(conversation.end_user_subject), conversation.end_user_subject
        else:
            sender, name = system_participant(conversation.identifier), "System"
        self.publish_session_status(
            org,
            conversation,
            row,
            previous,
            sender=sender,
            sender_name=name,
            created_by_id=created_by_id,
            ended_by_role=ended_by_role,
        )
        if info.agent_id:
            agent = org.records.get("User", info.agent_id)
            self.publish_participant_changed(org, conversation, row["Id"], agent, "remove")
        info.typing = False
        return row

    # --- asynchronous work ---------------------------------------------------------------------

    def later(self, coroutine) -> None:
        """Run ``coroutine`` on the sandbox loop without awaiting it (kept until done, cancelled on reset)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def log_request(self, org: Org | None, record: dict) -> None:
        if org is None:
            return
        requests = self.state(org).requests
        requests.append(record)
        del requests[:-REQUEST_LOG_LIMIT]


def _ms_of(sf_stamp: str) -> int:
    """Epoch milliseconds of a Salesforce REST date-time (``2026-11-22T10:14:53.000+0000``)."""
    return int(datetime.strptime(sf_stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def requested_routing(org: Org, channel: dict | None, attributes: dict) -> dict:
    """Where the session asks to go: a queue, agent or flow named in the routing attributes, else the channel's.

    Routing attributes fill channel variables that an Omni-Flow reads; the sim reads a variable whose
    name mentions queue/agent/user/flow and whose value names a queue, user or flow of the org
    (by Id, DeveloperName/Username/ApiName or Name).
    """
    records = org.records
    for key, value in attributes.items():
        name, value = key.lower(), str(value)
        if "queue" in name:
            row = _find(records, "Group", value, ("DeveloperName", "Name"), Type="Queue")
            if row:
                return {
                    "kind": "queue",
                    "id": row["Id"],
                    "name": row["Name"],
                    "source": f"routingAttributes.{key}",
                }
        if "agent" in name or "user" in name:
            row = _find(records, "User", value, ("Username", "Name"))
            if row:
                return {
                    "kind": "agent",
                    "id": row["Id"],
                    "name": row["Name"],
                    "source": f"routingAttributes.{key}",
                }
        if "flow" in name:
            row = _find(records, "Flow", value, ("ApiName", "Label"))
            if row:
                return {
                    "kind": "flow",
                    "id": row["Id"],
                    "name": row["ApiName"],
                    "source": f"routingAttributes.{key}",
                }
    if channel and channel.get("TargetQueueId"):
        queue = records.get("Group", channel["TargetQueueId"])
        if queue:
            return {"kind": "queue", "id": queue["Id"], "name": queue["Name"], "source": "channel"}
    return {"kind": "flow", "id": None, "name": "Omni-Flow of the channel", "source": "channel"}


def _find(records, sobject: str, value: str, name_fields: tuple[str, ...], **equals) -> dict | None:
    by_id = records.get(sobject, value) if len(value) in (15, 18) else None
    if by_id is not None and all(by_id.get(k) == v for k, v in equals.items()):
        return by_id
    for row in records.filter(sobject, **equals):
        if any(row.get(f) == value for f in name_fields):
            return row
    return None
