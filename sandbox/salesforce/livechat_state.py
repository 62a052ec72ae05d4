"""Legacy Chat (Live Agent) state: visitor sessions, chat requests, buttons, deployments and routing.

The Chat REST API host is shared by all orgs (``System/SessionId`` carries no org), so visitor sessions
live here, keyed by their session key. A session becomes bound to an org by ``Chasitor/ChasitorInit``,
which creates a :class:`Chat` (and the org's ``LiveChatVisitor`` and ``LiveChatTranscript`` records).

Buttons and deployments are ``LiveChatButton`` / ``LiveChatDeployment`` rows in ``org.records``.
Agents are ``User`` rows with ``IsAgent``; ``IsOnline`` (toggled by the agent consoles) decides
availability. Which agents serve a button: the button's explicit agents (a button "pinned" to one
agent, as connectors do to tie an agent to a phone number), else the members of its queue
(``GroupMember`` rows), else every agent of the org.

Server → visitor events are queued per session with an increasing ``sequence``; ``System/Messages``
returns those after the client's ``ack`` and forgets the acknowledged ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import itertools
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .ids import same, to15, to18
from .org import sf_datetime

if TYPE_CHECKING:
    from ..world import World
    from .org import Org

CLIENT_POLL_TIMEOUT = 40  # seconds, what real SessionId answers
CONNECTION_TIMEOUT_MS = 150_000
DEFAULT_WAIT_SECONDS = 30  # estimated wait per chat ahead in the queue
SIM_GEOLOCATION = {
    "countryCode": "GB",
    "countryName": "United Kingdom",
    "region": "ENG",
    "city": "London",
    "organization": "Switchboard Sandbox",
    "latitude": 51.5072,
    "longitude": -0.1276,
}


def _millis() -> int:
    return int(time.time() * 1000)


@dataclass
class Outgoing:
    """One server → visitor message waiting in a session's queue."""

    sequence: int
    offset: int
    type: str
    message: dict

    def wire(self) -> dict:
        return {"type": self.type, "message": self.message}


@dataclass
class Chat:
    """A chat request and, once accepted, the chat itself (the simulated agent console's unit of work)."""

    id: str  # the LiveChatTranscript record id
    org_id: str
    session: VisitorSession
    deployment_id: str
    button_id: str | None  # the button the request was routed through (None: agent only)
    target_agent_id: str | None  # routed directly to this agent
    visitor_name: str
    visitor_record_id: str
    visitor_id: str
    init_body: dict
    receive_queue_updates: bool
    status: str = "Waiting"  # Waiting → InProgress → Completed; Missed when the request failed
    agent_id: str | None = None
    ended_by: str | None = None  # "Visitor" | "Agent"
    requested_at: float = field(default_factory=time.time)
    order: int = 0  # arrival order, for queue positions
    transcript: list[dict] = field(
        default_factory=list
    )  # {"type": Agent|Chasitor, name, content, timestamp, sequence}
    visitor_sent: list[dict] = field(default_factory=list)  # every visitor request applied, in order
    visitor_typing: bool = False

    @property
    def prechat_details(self) -> list:
        return self.init_body.get("prechatDetails") or []

    @property
    def prechat_entities(self) -> list:
        return self.init_body.get("prechatEntities") or []

    def summary(self) -> dict:
        return {
            "id": self.id,
            "orgId": self.org_id,
            "sessionId": self.session.id,
            "status": self.status,
            "buttonId": self.button_id,
            "targetAgentId": self.target_agent_id,
            "deploymentId": self.deployment_id,
            "agentId": self.agent_id,
            "visitorName": self.visitor_name,
            "endedBy": self.ended_by,
            "visitorTyping": self.visitor_typing,
            "messageCount": len(self.transcript),
        }

    def detail(self) -> dict:
        return {
            **self.summary(),
            "visitorId": self.visitor_id,
            "liveChatVisitorId": self.visitor_record_id,
            "prechatDetails": self.prechat_details,
            "prechatEntities": self.prechat_entities,
            "chasitorInit": self.init_body,
            "transcript": self.transcript,
            "visitorMessages": [e["content"] for e in self.transcript if e["type"] == "Chasitor"],
            "visitorSent": self.visitor_sent,
            "pendingMessages": [m.wire() | {"sequence": m.sequence} for m in self.session.outbox],
        }


class VisitorSession:
    """A ``System/SessionId`` session: credentials, the client's sequence and the server's message queue."""

    def __init__(self) -> None:
        self.id = str(uuid.uuid4())
        digest = hashlib.sha1(secrets.token_bytes(16)).digest()  # noqa: S324 - an opaque token, not security
        self.key = f"{self.id}!{_millis()}!{base64.b64encode(digest).decode()}"
        self.affinity = secrets.token_hex(4)
        self.created_at = time.time()
        self.last_client_sequence = 0  # highest X-LIVEAGENT-SEQUENCE applied
        self.outbox: list[Outgoing] = []
        self._sequence = itertools.count(1)
        self._offset_base = secrets.randbelow(90_000_000) + 10_000_000
        self.last_sequence = 0
        self.chat: Chat | None = None
        self.reconnect_pending = False  # the affinity changed; requests with the old token get 503
        self.resyncs = 0  # ChasitorResyncState requests received (after a ReconnectSession)
        self.final_sequence: int | None = None  # set when the chat is over: the session closes once acked
        self._changed = asyncio.Event()

    # -- server → visitor queue ---------------------------------------------------------------
    def push(self, type_: str, message: dict) -> Outgoing:
        seq = next(self._sequence)
        self.last_sequence = seq
        item = Outgoing(sequence=seq, offset=self._offset_base + seq * 97, type=type_, message=message)
        self.outbox.append(item)
        self.notify()
        return item

    def notify(self) -> None:
        """Wake the long poll waiting on this session."""
        self._changed.set()
        self._changed = asyncio.Event()

    def acknowledge(self, ack: int) -> None:
        self.outbox = [m for m in self.outbox if m.sequence > ack]

    @property
    def ended(self) -> bool:
        return self.final_sequence is not None

    def close_after_last_message(self) -> None:
        self.final_sequence = self.last_sequence

    async def wait_for_change(self, timeout: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    # -- affinity handover (503 → ReconnectSession) -------------------------------------------
    def change_affinity(self) -> None:
        self.affinity = secrets.token_hex(4)
        self.reconnect_pending = True
        self.notify()

    def reconnect(self, offset: int, session_data: dict) -> str:
        """Finish a handover: the client has everything up to ``offset``; restate the session first."""
        self.reconnect_pending = False
        self.last_client_sequence = 0  # resetSequence: the client starts again at 1
        remaining = [m for m in self.outbox if m.offset > offset]
        self.outbox = []
        self.push("ChasitorSessionData", session_data)
        for old in remaining:
            self.push(old.type, old.message)
        return self.affinity


class LiveChatService:
    def __init__(self, world: World) -> None:
        self.world = world
        self.sessions: dict[str, VisitorSession] = {}  # by session key
        self.chats: dict[str, Chat] = {}  # by LiveChatTranscript id
        self._button_agents: dict[tuple[str, str], list[str]] = {}  # (org, button) → explicit agent ids
        self._wait_seconds: dict[str, int] = {}  # org → estimated wait per chat ahead
        self._arrivals = itertools.count(1)

    def reset(self) -> None:
        for session in self.sessions.values():
            session.notify()
        self.sessions.clear()
        self.chats.clear()
        self._button_agents.clear()
        self._wait_seconds.clear()

    # -- configuration --------------------------------------------------------------------------
    def load_org(self, org: Org, spec: dict) -> None:
        """Create the org's deployments and buttons from the fixture's ``livechat`` section.

        ``{"deployments": [{"developer_name", "id"?}], "buttons": [{"developer_name", "queue"? (queue
        DeveloperName), "agents"? (usernames or user ids), "id"?}], "estimated_wait_seconds"?}``
        """
        records = org.records
        for dep in spec.get("deployments", []):
            records.insert(
                "LiveChatDeployment",
                {
                    "DeveloperName": dep["developer_name"],
                    "MasterLabel": dep.get("master_label", dep["developer_name"]),
                    "ChatWindowTitle": dep.get("window_title", dep["developer_name"]),
                },
                record_id=dep.get("id"),
            )
        for spec_button in spec.get("buttons", []):
            queue = None
            if spec_button.get("queue"):
                queue = records.first("Group", Type="Queue", DeveloperName=spec_button["queue"])
                if queue is None:
                    raise ValueError(f"livechat button {spec_button['developer_name']}: unknown queue")
            agent_ids = []
            for ref in spec_button.get("agents", []):
                user = records.get("User", ref) or org.user_by_username(ref)
                if user is None:
                    raise ValueError(
                        f"livechat button {spec_button['developer_name']}: unknown agent {ref!r}"
                    )
                agent_ids.append(user["Id"])
            button = records.insert(
                "LiveChatButton",
                {
                    "DeveloperName": spec_button["developer_name"],
                    "MasterLabel": spec_button.get("master_label", spec_button["developer_name"]),
                    "Type": "Standard",
                    "RoutingType": "Choice" if queue is None else "MostAvailable",
                    "QueueId": queue["Id"] if queue else None,
                    "IsActive": spec_button.get("active", True),
                },
                record_id=spec_button.get("id"),
            )
            if agent_ids:
                self._button_agents[(org.org_id, button["Id"])] = agent_ids
        if "estimated_wait_seconds" in spec:
            self._wait_seconds[org.org_id] = int(spec["estimated_wait_seconds"])

    def enabled_org(self, org_id: str) -> Org | None:
        """The org if it exists and still has Legacy Chat (off = retired)."""
        org = self.world.orgs.get(org_id) if isinstance(org_id, str) else None
        return org if org is not None and org.legacy_chat_enabled else None

    # -- agents and availability ------------------------------------------------------------------
    @staticmethod
    def agents(org: Org) -> list[dict]:
        return [u for u in org.records.all("User") if u.get("IsAgent") and u.get("IsActive", True)]

    @staticmethod
    def agent_online(org: Org, user_id: str) -> bool:
        user = org.records.get("User", user_id)
        return bool(user and user.get("IsAgent") and user.get("IsActive", True) and user.get("IsOnline"))

    def serving_agents(self, org: Org, button: dict) -> list[dict]:
        explicit = self._button_agents.get((org.org_id, button["Id"]))
        if explicit:
            return [u for u in self.agents(org) if u["Id"] in explicit]
        if button.get("QueueId"):
            members = {
                m.get("UserOrGroupId") for m in org.records.filter("GroupMember", GroupId=button["QueueId"])
            }
            if members:
                return [u for u in self.agents(org) if u["Id"] in {to18(m) for m in members if m}]
        return self.agents(org)

    def button_online(self, org: Org, button: dict) -> bool:
        return button.get("IsActive", True) and any(
            u.get("IsOnline") for u in self.serving_agents(org, button)
        )

    def serves(self, org: Org, button_id: str, user_id: str) -> bool:
        button = org.records.get("LiveChatButton", button_id)
        return button is not None and any(same(u["Id"], user_id) for u in self.serving_agents(org, button))

    def entity_available(self, org: Org, ref: str) -> bool:
        """Availability of a button id, an agent id or ``agentId_buttonId`` (agent, else the button)."""
        ref = (ref or "").strip()
        if "_" in ref:
            agent_id, _, button_id = ref.partition("_")
            return self.entity_available(org, agent_id) or self.entity_available(org, button_id)
        if ref.startswith("005"):
            return self.agent_online(org, ref)
        if ref.startswith("573"):
            button = org.records.get("LiveChatButton", ref)
            return button is not None and self.button_online(org, button)
        return False

    def estimated_wait(self, org: Org, position: int) -> int:
        return max(position, 1) * self._wait_seconds.get(org.org_id, DEFAULT_WAIT_SECONDS)

    def estimated_wait_for(self, org: Org, ref: str) -> int:
        """The wait a new request to ``ref`` (button, agent or ``agent_button``) would have, in seconds."""
        agent_ref, _, button_ref = ref.partition("_") if "_" in ref else ("", "", ref)
        if ref.startswith("005") and "_" not in ref:
            agent_ref, button_ref = ref, ""
        agent = org.records.get("User", agent_ref) if agent_ref else None
        if agent is not None and self.agent_online(org, agent["Id"]):
            ahead = [
                c for c in self.chats.values() if c.status == "Waiting" and c.target_agent_id == agent["Id"]
            ]
        else:
            button = org.records.get("LiveChatButton", button_ref) if button_ref else None
            button_id = button["Id"] if button else None
            ahead = [
                c
                for c in self.chats.values()
                if c.status == "Waiting" and c.button_id == button_id and c.target_agent_id is None
            ]
        return self.estimated_wait(org, len(ahead) + 1)

    # -- visitor side -----------------------------------------------------------------------------
    def new_session(self) -> VisitorSession:
        session = VisitorSession()
        self.sessions[session.key] = session
        return session

    def session_by_key(self, key: str | None) -> VisitorSession | None:
        return self.sessions.get(key or "")

    def drop_session(self, session: VisitorSession) -> None:
        self.sessions.pop(session.key, None)

    def route(self, org: Org, body: dict) -> tuple[str | None, str | None]:
        """Where a chat request goes: ``(button_id, target_agent_id)``, or ``(None, None)`` if nobody is free.

        ``buttonOverrides`` wins over ``buttonId``/``agentId``/``doFallback``; its targets are tried in order.
        """
        targets: list[str]
        overrides = body.get("buttonOverrides") or []
        if overrides:
            targets = [str(t) for t in overrides]
        elif body.get("agentId"):
            agent = str(body["agentId"])
            targets = [f"{agent}_{body.get('buttonId')}"] if body.get("doFallback") else [agent]
        else:
            targets = [str(body.get("buttonId") or "")]
        for target in targets:
            if "_" in target:
                agent_ref, _, button_ref = target.partition("_")
            elif target.startswith("005"):
                agent_ref, button_ref = target, ""
            else:
                agent_ref, button_ref = "", target
            button = org.records.get("LiveChatButton", button_ref) if button_ref.startswith("573") else None
            if agent_ref and self.agent_online(org, agent_ref):
                return (button["Id"] if button else None), org.records.get("User", agent_ref)["Id"]
            if button is not None and self.button_online(org, button):
                return button["Id"], None
        return None, None

    def chasitor_init(self, session: VisitorSession, org: Org, body: dict) -> Chat:
        """Record the chat request and queue ``ChatRequestSuccess`` or ``ChatRequestFail``."""
        records = org.records
        deployment = records.get("LiveChatDeployment", str(body.get("deploymentId") or ""))
        button_id, agent_id = self.route(org, body) if deployment is not None else (None, None)
        requested_button = records.get("LiveChatButton", str(body.get("buttonId") or ""))
        visitor = records.insert("LiveChatVisitor", {"SessionKey": session.key})
        now = sf_datetime()
        transcript = records.insert(
            "LiveChatTranscript",
            {
                "Status": "Waiting",
                "ChatKey": session.id,
                "LiveChatVisitorId": visitor["Id"],
                "LiveChatDeploymentId": deployment["Id"] if deployment else None,
                "LiveChatButtonId": button_id or (requested_button["Id"] if requested_button else None),
                "OwnerId": agent_id,
                "RequestTime": now,
                "UserAgent": body.get("userAgent"),
                "Browser": body.get("userAgent"),
                "Location": "London, ENG, United Kingdom",
            },
        )
        chat = Chat(
            id=transcript["Id"],
            org_id=org.org_id,
            session=session,
            deployment_id=deployment["Id"] if deployment else str(body.get("deploymentId")),
            button_id=button_id,
            target_agent_id=agent_id,
            visitor_name=str(body.get("visitorName") or "Visitor"),
            visitor_record_id=visitor["Id"],
            visitor_id=str(uuid.uuid4()),
            init_body=body,
            receive_queue_updates=bool(body.get("receiveQueueUpdates")),
            order=next(self._arrivals),
        )
        session.chat = chat
        self.chats[chat.id] = chat
        chat.visitor_sent.append({"type": "ChasitorInit", "body": body, "timestamp": _millis()})
        if button_id is None and agent_id is None:
            self._finish(chat, status="Missed", ended_by=None)
            session.push(
                "ChatRequestFail", {"reason": "Unavailable", "attachedRecords": [], "postChatUrl": ""}
            )
            session.close_after_last_message()
            return chat
        position = self.queue_position(chat)
        session.push(
            "ChatRequestSuccess",
            {
                "queuePosition": position,
                "estimatedWaitTime": self.estimated_wait(org, position),
                "geoLocation": SIM_GEOLOCATION,
                "url": "",
                "oref": "",
                "postChatUrl": "",
                "customDetails": [
                    {
                        "label": d.get("label"),
                        "value": d.get("value"),
                        "transcriptFields": d.get("transcriptFields", []),
                        "displayToAgent": d.get("displayToAgent", True),
                        "entityMaps": d.get("entityMaps", []),
                    }
                    for d in chat.prechat_details
                    if isinstance(d, dict)
                ],
                "visitorId": chat.visitor_id,
                "connectionTimeout": CONNECTION_TIMEOUT_MS,
                "transcriptSaveEnabled": False,
                "sensitiveDataRules": [],
            },
        )
        return chat

    def visitor_message(self, chat: Chat, text: str) -> None:
        entry = {
            "type": "Chasitor",
            "name": chat.visitor_name,
            "content": text,
            "timestamp": _millis(),
            "sequence": len(chat.transcript) + 1,
        }
        chat.transcript.append(entry)
        chat.visitor_sent.append({"type": "ChatMessage", "text": text, "timestamp": entry["timestamp"]})
        chat.visitor_typing = False

    def visitor_typing(self, chat: Chat, typing: bool) -> None:
        chat.visitor_typing = typing
        chat.visitor_sent.append(
            {"type": "ChasitorTyping" if typing else "ChasitorNotTyping", "timestamp": _millis()}
        )

    def visitor_end(self, chat: Chat, reason: str) -> None:
        chat.visitor_sent.append({"type": "ChatEnd", "reason": reason, "timestamp": _millis()})
        self._finish(
            chat, status="Completed" if chat.status == "InProgress" else "Missed", ended_by="Visitor"
        )
        chat.session.push("ChatEnded", {"reason": reason, "attachedRecords": []})
        chat.session.close_after_last_message()

    # -- agent side (sim hooks and the console page) ----------------------------------------------
    def can_accept(self, org: Org, chat: Chat, user_id: str) -> str | None:
        """Why ``user_id`` may not accept ``chat`` (None when it may)."""
        user = org.records.get("User", user_id)
        if user is None or not user.get("IsAgent"):
            return "not a chat agent of this org"
        if chat.status != "Waiting":
            return f"chat is {chat.status}, not Waiting"
        if not user.get("IsOnline"):
            return "agent is offline"
        if chat.target_agent_id and same(chat.target_agent_id, user["Id"]):
            return None
        if chat.target_agent_id and not chat.button_id:
            return "chat is routed to another agent"
        if chat.button_id and self.serves(org, chat.button_id, user["Id"]):
            return None
        return "agent does not serve this chat's button"

    def accept(self, org: Org, chat: Chat, user_id: str) -> None:
        user = org.records.get("User", user_id)
        chat.status = "InProgress"
        chat.agent_id = user["Id"]
        org.records.update(
            "LiveChatTranscript",
            chat.id,
            {"Status": "InProgress", "OwnerId": user["Id"], "StartTime": sf_datetime()},
        )
        chat.session.push("ChatEstablished", self._agent_info(user))
        self._send_queue_updates(org, chat)

    def agent_message(self, org: Org, chat: Chat, text: str) -> None:
        user = org.records.get("User", chat.agent_id)
        entry = {
            "type": "Agent",
            "name": user["Name"],
            "content": text,
            "timestamp": _millis(),
            "sequence": len(chat.transcript) + 1,
        }
        chat.transcript.append(entry)
        chat.session.push(
            "ChatMessage",
            {
                "name": user["Name"],
                "text": text,
                "agentId": user["Id"],
                "schedule": {"responseDelayMilliseconds": 0},
            },
        )

    def agent_typing(self, chat: Chat, typing: bool) -> None:
        chat.session.push("AgentTyping" if typing else "AgentNotTyping", {})

    def agent_end(self, org: Org, chat: Chat) -> None:
        was_waiting = chat.status == "Waiting"
        self._finish(chat, status="Missed" if was_waiting else "Completed", ended_by="Agent")
        chat.session.push("ChatEnded", {"reason": "agent", "attachedRecords": []})
        chat.session.close_after_last_message()
        if was_waiting:
            self._send_queue_updates(org, chat)

    def transfer(self, org: Org, chat: Chat, user_id: str) -> None:
        user = org.records.get("User", user_id)
        chat.agent_id = user["Id"]
        org.records.update("LiveChatTranscript", chat.id, {"OwnerId": user["Id"]})
        chat.session.push("ChatTransferred", self._agent_info(user))

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _agent_info(user: dict) -> dict:
        return {
            "name": user["Name"],
            "userId": user["Id"],
            "items": [],
            "sneakPeekEnabled": False,
            "chasitorIdleTimeout": {"isEnabled": False, "warningTime": 0, "timeout": 0},
        }

    def _finish(self, chat: Chat, *, status: str, ended_by: str | None) -> None:
        chat.status = status
        chat.ended_by = ended_by
        org = self.world.orgs.get(chat.org_id)
        if org is not None and org.records.get("LiveChatTranscript", chat.id) is not None:
            fields = {"Status": status, "EndTime": sf_datetime(), "Body": self._transcript_body(chat)}
            if ended_by:
                fields["EndedBy"] = ended_by
            org.records.update("LiveChatTranscript", chat.id, fields)

    @staticmethod
    def _transcript_body(chat: Chat) -> str:
        lines = [
            f"<p><b>{html.escape(e['name'])}</b>: {html.escape(e['content'])}</p>" for e in chat.transcript
        ]
        return "".join(lines)

    def _send_queue_updates(self, org: Org, left: Chat) -> None:
        """Visitors still waiting behind ``left`` move up (``QueueUpdate`` when they asked for updates)."""
        waiting = [
            c
            for c in self.chats.values()
            if c.org_id == org.org_id
            and c.status == "Waiting"
            and c.button_id == left.button_id
            and c.target_agent_id == left.target_agent_id
        ]
        waiting.sort(key=lambda c: c.order)
        for position, chat in enumerate(waiting, start=1):
            if chat.receive_queue_updates:
                chat.session.push(
                    "QueueUpdate",
                    {"position": position, "estimatedWaitTime": self.estimated_wait(org, position)},
                )

    def reconnect(self, session: VisitorSession, offset: int) -> str:
        """``System/ReconnectSession``: a new affinity token; ``ChasitorSessionData`` leads the next poll."""
        chat = session.chat
        position = 0
        if chat is not None and chat.status == "Waiting":
            org = self.world.orgs.get(chat.org_id)
            position = self.queue_position(chat) if org is not None else 0
        data = {
            "queuePosition": position,
            "geoLocation": SIM_GEOLOCATION,
            "url": "",
            "oref": "",
            "postChatUrl": "",
            "sneakPeekEnabled": False,
            "chatMessages": list(chat.transcript) if chat else [],
        }
        return session.reconnect(offset, data)

    def queue_position(self, chat: Chat) -> int:
        ahead = [
            c
            for c in self.chats.values()
            if c.org_id == chat.org_id
            and c.status == "Waiting"
            and c.button_id == chat.button_id
            and c.target_agent_id == chat.target_agent_id
            and c.order <= chat.order
        ]
        return len(ahead)

    def find_chat(self, ref: str) -> Chat | None:
        """A chat by its LiveChatTranscript id (15/18) or its visitor session id."""
        if not ref:
            return None
        for chat in self.chats.values():
            if chat.session.id == ref or (len(ref) in (15, 18) and to15(chat.id) == to15(ref)):
                return chat
        return None

    def session_by_id(self, session_id: str) -> VisitorSession | None:
        return next((s for s in self.sessions.values() if s.id == session_id), None)
