"""What a Service Console agent does to a Messaging session, and the platform events Salesforce publishes.

Each action changes the MessagingSession row and the conversation, then publishes the CCD's custom
platform event with an ``InteractionEvent`` payload (outbound YAML): ``ParticipantChanged`` and
``SessionStatusChanged`` on accept and end, ``Message`` for replies (text, a file served through a
content-distribution link, or a ``ChoicesMessage`` where the registered capabilities allow it), and
typing indicators when the channel definition has them enabled. The console page and its JSON API
both call these functions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .interaction_spec import OUTBOUND, schema_error
from .messaging import Conversation, Entry, SessionInfo, agent_participant, now_ms
from .org import Org, sf_datetime


class AgentError(Exception):
    """An action the console refuses (HTTP status and a message for people)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Attachment:
    name: str
    mime_type: str
    data: bytes


def agent_user(org: Org, user_id: str) -> dict:
    row = org.records.get("User", user_id or "")
    if row is None:
        raise AgentError(404, f"no user {user_id!r} in org {org.org_id}")
    if not row.get("IsAgent"):
        raise AgentError(403, f"{row['Username']} is not an Omni-Channel agent")
    return row


def agents(org: Org) -> list[dict]:
    return [u for u in org.records.all("User") if u.get("IsAgent")]


def set_presence(world, org: Org, user_id: str, online: bool) -> dict:
    """Go online or offline in Omni-Channel (``User.IsOnline``, also read by the Legacy Chat simulator)."""
    agent = agent_user(org, user_id)
    return org.records.update("User", agent["Id"], {"IsOnline": bool(online)})


def _session(world, org: Org, session_id: str) -> tuple[dict, SessionInfo, Conversation]:
    messaging = world.messaging
    row = messaging.session_row(org, session_id or "")
    info = messaging.session_info(org, session_id or "") if row else None
    if row is None or info is None:
        raise AgentError(404, f"no Messaging session {session_id!r}")
    return row, info, messaging.conversation(org, info.conversation_identifier)


def _own_active(
    world, org: Org, session_id: str, user_id: str
) -> tuple[dict, SessionInfo, Conversation, dict]:
    agent = agent_user(org, user_id)
    row, info, conversation = _session(world, org, session_id)
    if row["Status"] != "Active":
        raise AgentError(409, f"session {row['Name']} is {row['Status']}, not Active")
    if info.agent_id != agent["Id"]:
        raise AgentError(409, f"session {row['Name']} belongs to another agent")
    return row, info, conversation, agent


def accept(world, org: Org, session_id: str, user_id: str) -> dict:
    """Accept a waiting session: Waiting -> Active; ParticipantChanged(add) and SessionStatusChanged(Active)."""
    agent = agent_user(org, user_id)
    if not agent.get("IsOnline"):
        raise AgentError(409, f"{agent['Name']} is offline; go online in Omni-Channel first")
    row, info, conversation = _session(world, org, session_id)
    if row["Status"] != "Waiting":
        raise AgentError(409, f"session {row['Name']} is {row['Status']}, not Waiting")
    messaging = world.messaging
    row, previous = messaging.set_session_status(
        org, row["Id"], "Active", AcceptTime=sf_datetime(), AgentType="User", OwnerId=agent["Id"]
    )
    info.agent_id = agent["Id"]
    messaging.publish_participant_changed(org, conversation, row["Id"], agent, "add")
    messaging.publish_session_status(
        org,
        conversation,
        row,
        previous,
        sender=agent_participant(agent["Id"]),
        sender_name=agent["Name"],
        created_by_id=agent["Id"],
    )
    return row


def end(world, org: Org, session_id: str, user_id: str) -> dict:
    """End the session as the agent: Ended; SessionStatusChanged(sessionEndedByRole Agent), ParticipantChanged(remove)."""
    row, info, conversation, agent = _own_active(world, org, session_id, user_id)
    return world.messaging.end_session(
        org, conversation, row["Id"], ended_by_role="Agent", created_by_id=agent["Id"]
    )


def typing(world, org: Org, session_id: str, user_id: str, started: bool) -> Entry:
    row, info, conversation, agent = _own_active(world, org, session_id, user_id)
    ccd = world.messaging.channel_definition(org, conversation.channel_definition)
    if ccd and ccd.get("IsTypingIndicatorDisabled"):  # Enhanced Chat conversations have no CCD
        raise AgentError(409, f"typing indicators are disabled on {ccd['DeveloperName']}")
    entry_type = "TypingStartedIndicator" if started else "TypingStoppedIndicator"
    identifier, stamp = str(uuid.uuid4()), now_ms()
    entry = _agent_entry(
        agent,
        row,
        entry_type,
        {"entryType": entry_type, "id": identifier, "timestamp": stamp},
        identifier,
        stamp,
    )
    info.agent_typing = started
    world.messaging.add_entry(org, conversation, entry)
    world.messaging.publish(org, conversation, entry, created_by_id=agent["Id"])
    return entry


def reply(
    world,
    org: Org,
    session_id: str,
    user_id: str,
    *,
    text: str | None = None,
    attachment: Attachment | None = None,
    choices: dict | None = None,
    component: dict | None = None,
) -> Entry:
    """Send an agent message: text, a file (with optional text), choices ``{formatType, text, options}``,
    or a messaging component: any documented ``abstractMessage`` (a form, a list picker, a rich link...)."""
    row, info, conversation, agent = _own_active(world, org, session_id, user_id)
    messaging = world.messaging
    capabilities = messaging.state(org).capabilities.get(conversation.channel_definition)
    identifier = str(uuid.uuid4())
    if component is not None:
        message = _component_message(identifier, component, capabilities)
    elif choices is not None:
        message = _choices_message(identifier, choices, capabilities)
    elif attachment is not None:
        _check_attachment(attachment, capabilities)
        stored = messaging.store_file(org, attachment.name, attachment.mime_type, attachment.data)
        static = {
            "formatType": "Attachments",
            "attachments": [
                {
                    "name": stored.name,
                    "id": str(uuid.uuid4()),
                    "mimeType": stored.mime_type,
                    "url": messaging.file_url(stored),
                    "referenceId": str(uuid.uuid4()),
                    "attachmentUploadResult": None,  # as in Salesforce's documented agent events
                }
            ],
        }
        if text:
            static["text"] = text
        message = {"messageType": "StaticContentMessage", "id": identifier, "staticContent": static}
    elif text and text.strip():
        message = {
            "messageType": "StaticContentMessage",
            "id": identifier,
            "staticContent": {"formatType": "Text", "text": text},
        }
    else:
        raise AgentError(400, "a reply needs text, an attachment or choices")
    stamp = now_ms()
    payload = {"entryType": "Message", "id": identifier, "abstractMessage": message, "messageReason": None}
    entry = _agent_entry(agent, row, "Message", payload, identifier, stamp)
    if attachment is not None:
        entry.file_ids.append(stored.content_version_id)
    messaging.add_entry(org, conversation, entry)
    messaging.publish(org, conversation, entry, created_by_id=agent["Id"])
    return entry


def _agent_entry(
    agent: dict, session: dict, entry_type: str, payload: dict, identifier: str, stamp: int
) -> Entry:
    return Entry(
        identifier=identifier,
        entry_type=entry_type,
        sender=agent_participant(agent["Id"]),
        sender_display_name=agent.get("Name") or agent["Username"],
        entry_payload=payload,
        client_timestamp=stamp,
        transcripted_timestamp=stamp,
        session_id=session["Id"],
        source="agent",
    )


# --- capabilities ------------------------------------------------------------------------------


def format_capability(capabilities: dict | None, message_type: str, format_type: str) -> dict | None:
    """The registered FormatTypeCapabilities for a message and format type, or None."""
    for channel in (capabilities or {}).get("channelCapabilities", []):
        for message in channel.get("messageTypeCapabilities", []):
            if message.get("messageType") != message_type:
                continue
            for fmt in message.get("formatTypeCapabilities", []):
                if fmt.get("formatType") == format_type:
                    return fmt
    return None


def _check_attachment(attachment: Attachment, capabilities: dict | None) -> None:
    if not attachment.data:
        raise AgentError(400, "the file is empty")
    if capabilities is None:
        return  # nothing registered: the channel takes Salesforce's default (text and files)
    capability = format_capability(capabilities, "StaticContentMessage", "Attachments")
    if capability is None:
        raise AgentError(409, "the channel did not register StaticContentMessage/Attachments")
    allowed = [
        r["restriction"].get("mimeType")
        for r in capability.get("capabilityFieldRestriction") or []
        if r.get("restriction", {}).get("fieldRestrictionType") == "MimeTypeRestriction"
    ]
    if allowed and attachment.mime_type not in allowed:
        raise AgentError(409, f"{attachment.mime_type} is not among the registered MIME types {allowed}")


# The member that holds each agent message type's content (outbound YAML, allOf of each type).
COMPONENT_MEMBERS = {
    "StaticContentMessage": "staticContent",
    "ChoicesMessage": "choices",
    "FormMessage": "form",
}


def _component_message(identifier: str, component, capabilities: dict | None) -> dict:
    """A messaging component as Salesforce publishes it: a documented abstractMessage (checked against the
    outbound YAML) whose message and format type the channel registered, as for choices."""
    if not isinstance(component, dict):
        raise AgentError(400, "message must be an abstractMessage object")
    message = {**component, "id": identifier}
    message_type = message.get("messageType")
    if message_type not in COMPONENT_MEMBERS:
        raise AgentError(400, f"message.messageType must be one of {', '.join(COMPONENT_MEMBERS)}")
    problem = schema_error(message_type, message, spec=OUTBOUND)
    if problem:
        raise AgentError(400, f"message is not a documented {message_type}: {problem}")
    format_type = message[COMPONENT_MEMBERS[message_type]]["formatType"]
    if format_capability(capabilities, message_type, format_type) is None:
        raise AgentError(409, f"the channel did not register {message_type}/{format_type} capabilities")
    return message


def _choices_message(identifier: str, choices: dict, capabilities: dict | None) -> dict:
    format_type = choices.get("formatType", "Buttons")
    if format_type not in ("Buttons", "QuickReplies"):
        raise AgentError(400, "choices.formatType must be Buttons or QuickReplies")
    if format_capability(capabilities, "ChoicesMessage", format_type) is None:
        raise AgentError(409, f"the channel did not register ChoicesMessage/{format_type} capabilities")
    options = [o for o in choices.get("options") or [] if (o if isinstance(o, str) else o.get("title"))]
    text = choices.get("text")
    if not text or not options:
        raise AgentError(400, "choices need text and at least one option")
    items = []
    for option in options:
        title = option if isinstance(option, str) else option["title"]
        option_id = (None if isinstance(option, str) else option.get("id")) or str(uuid.uuid4())
        items.append(
            {
                "itemType": "TitleOptionItem",
                "optionIdentifier": option_id,
                "titleItem": {"itemType": "TitleItem", "title": title},
            }
        )
    return {
        "messageType": "ChoicesMessage",
        "id": identifier,
        "choices": {"formatType": format_type, "text": text, "optionItems": items},
    }
