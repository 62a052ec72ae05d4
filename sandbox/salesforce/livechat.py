"""Legacy Chat (Live Agent) Chat REST API under ``/sim/livechat/chat/rest/...``, its sim hooks and agent page.

Faithful to the Chat REST API guide (reference/salesforce.md §4): the four ``X-LIVEAGENT-*`` headers,
``200 OK`` text answers to the visitor's POSTs, the ``System/Messages`` long poll (200 / 204 / 503),
``ReconnectSession`` after a 503, and errors as the real host gives them: a short plain-text body with
the documented status (400 bad request, 403 unknown or finished session, 404 unknown resource,
405 wrong method, 503 affinity changed).

Org-scoped requests to an org without ``legacy_chat_enabled`` (the default: Salesforce retired Legacy
Chat on 2026-02-14) get ``404`` with a plain-text notice, as a decommissioned resource would.

Test hooks (JSON) live under ``/__sim/livechat/...``; the agent page is ``/__sim/livechat/console?org=``.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..inputs import parse_json, whole_number
from ..templating import templates
from .livechat_state import CLIENT_POLL_TIMEOUT, Chat, VisitorSession

if TYPE_CHECKING:
    from ..world import World
    from .livechat_state import LiveChatService
    from .org import Org

REST = "/sim/livechat/chat/rest"
HOOKS = "/__sim/livechat"

H_VERSION = "X-LIVEAGENT-API-VERSION"
H_AFFINITY = "X-LIVEAGENT-AFFINITY"
H_KEY = "X-LIVEAGENT-SESSION-KEY"
H_SEQUENCE = "X-LIVEAGENT-SEQUENCE"

SESSION_GONE = "Session required but was invalid or not found"  # the real 403 body
AFFINITY_CHANGED = "Invalid Affinity Token"  # the real 503 ("503 Invalid Affinity Token response")
RETIRED = (
    "Chat is not available for this organization: the legacy chat product was retired on February 14, 2026."
)
MIN_API_VERSION = 29.0  # every resource we serve exists since 29.0
ID_PATTERNS = {
    "org": re.compile(r"00D[0-9A-Za-z]{12}([0-9A-Za-z]{3})?"),
    "deployment": re.compile(r"572[0-9A-Za-z]{12}([0-9A-Za-z]{3})?"),
    "button": re.compile(r"573[0-9A-Za-z]{12}([0-9A-Za-z]{3})?"),
    "agent": re.compile(r"005[0-9A-Za-z]{12}([0-9A-Za-z]{3})?"),
}


class ChatApiError(Exception):
    """An error answer of the Chat REST API host: a status and a short plain-text body."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text

    def response(self) -> PlainTextResponse:
        return PlainTextResponse(self.text, status_code=self.status)


def invalid(noun: str, detail: str) -> ChatApiError:
    """Salesforce's wording for a bad body, e.g. "Request is not a valid ChatEnd - ChatEnd requires ..."."""
    return ChatApiError(400, f"Request is not a valid {noun} - {detail}")


def requires(noun: str, prop: str) -> ChatApiError:
    return invalid(noun, f"{noun} requires a non-null value on the {prop} property")


def ok() -> PlainTextResponse:
    return PlainTextResponse("OK")


def _valid_id(kind: str, value) -> bool:
    return isinstance(value, str) and ID_PATTERNS[kind].fullmatch(value) is not None


def _id_list(values: list[str]) -> list[str]:
    """``Availability.ids`` as sent: ``[a,b]``, ``a,b`` or the parameter repeated."""
    ids = []
    for value in values:
        for part in value.strip().strip("[]").split(","):
            part = part.strip().strip("\"'")
            if part:
                ids.append(part)
    return ids


# -- the Chat REST API ----------------------------------------------------------------------------
class ChatRestApi:
    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def service(self) -> LiveChatService:
        return self.world.livechat

    # header checks, in the order the host applies them -----------------------------------------
    @staticmethod
    def check_version(request: Request) -> None:
        raw = request.headers.get(H_VERSION)
        if raw is None or not raw.strip():
            raise ChatApiError(400, f"Missing required header: {H_VERSION}")
        if not re.fullmatch(r"\d{1,3}(\.\d{1,2})?", raw.strip()):
            raise ChatApiError(400, f"Invalid value for header {H_VERSION}: {raw}")
        if float(raw) < MIN_API_VERSION:
            raise ChatApiError(400, f"Unsupported API version: {raw}")

    def session(self, request: Request, *, check_affinity: bool = True) -> VisitorSession:
        affinity = request.headers.get(H_AFFINITY)
        if affinity is None:
            raise ChatApiError(400, f"Missing required header: {H_AFFINITY}")
        session = self.service.session_by_key(request.headers.get(H_KEY))
        if session is None:
            raise ChatApiError(403, SESSION_GONE)
        if check_affinity and affinity != session.affinity:
            raise ChatApiError(503, AFFINITY_CHANGED)
        return session

    @staticmethod
    def sequence(request: Request) -> int:
        raw = request.headers.get(H_SEQUENCE)
        if raw is None or not raw.strip():
            raise ChatApiError(400, f"Missing required header: {H_SEQUENCE}")
        sequence = whole_number(raw)
        if sequence is None or sequence < 1:
            raise ChatApiError(400, f"Invalid value for header {H_SEQUENCE}: {raw}")
        return sequence

    def live_chat(self, session: VisitorSession, noun: str) -> tuple[Org, Chat]:
        """The session's chat, for the visitor's in-chat POSTs."""
        if session.ended:
            raise ChatApiError(403, SESSION_GONE)
        chat = session.chat
        if chat is None:
            raise invalid(noun, "no chat has been requested in this session (send ChasitorInit first)")
        org = self.service.enabled_org(chat.org_id)
        if org is None:
            raise ChatApiError(404, RETIRED)
        return org, chat

    @staticmethod
    async def json_body(request: Request, noun: str, *, required: bool = True) -> dict:
        raw = await request.body()
        if not raw.strip():
            if required:
                raise invalid(noun, "the request body is empty")
            return {}
        try:
            body = parse_json(raw)
        except ValueError:
            raise invalid(noun, "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise invalid(noun, "the request body must be a JSON object")
        return body

    # resources ------------------------------------------------------------------------------------
    async def session_id(self, request: Request) -> Response:
        self.check_version(request)
        if request.headers.get(H_AFFINITY) is None:  # the docs: send the literal "null"
            raise ChatApiError(400, f"Missing required header: {H_AFFINITY}")
        session = self.service.new_session()
        return JSONResponse(
            {
                "clientPollTimeout": CLIENT_POLL_TIMEOUT,
                "key": session.key,
                "affinityToken": session.affinity,
                "id": session.id,
            }
        )

    async def chasitor_init(self, request: Request) -> Response:
        self.check_version(request)
        session = self.session(request)
        seq = self.sequence(request)
        if seq <= session.last_client_sequence:
            return ok()  # a replay: acknowledged, not applied twice
        if session.ended:
            raise ChatApiError(403, SESSION_GONE)
        body = await self.json_body(request, "ChasitorInit")
        self.validate_init(body)
        org = self.service.enabled_org(body["organizationId"])
        if org is None:
            raise ChatApiError(404, RETIRED)
        if body["sessionId"] != session.id:
            raise invalid("ChasitorInit", "sessionId does not match the session of X-LIVEAGENT-SESSION-KEY")
        if session.chat is not None:
            raise invalid("ChasitorInit", "a chat has already been requested in this session")
        session.last_client_sequence = seq
        self.service.chasitor_init(session, org, body)
        return ok()

    @staticmethod
    def validate_init(body: dict) -> None:
        noun = "ChasitorInit"
        for prop in (
            "organizationId",
            "deploymentId",
            "sessionId",
            "userAgent",
            "language",
            "screenResolution",
        ):
            if body.get(prop) is None:
                raise requires(noun, prop)
        for prop in ("prechatDetails", "prechatEntities"):
            if body.get(prop) is None:
                raise requires(noun, prop)
            if not isinstance(body[prop], list) or not all(isinstance(item, dict) for item in body[prop]):
                raise invalid(noun, f"{prop} must be an array of objects")
        for prop in ("receiveQueueUpdates", "isPost"):
            if body.get(prop) is None:
                raise requires(noun, prop)
            if not isinstance(body[prop], bool):
                raise invalid(noun, f"{prop} must be a boolean")
        if "doFallback" in body and not isinstance(body["doFallback"], bool):
            raise invalid(noun, "doFallback must be a boolean")
        overrides = body.get("buttonOverrides")
        if overrides is not None and (
            not isinstance(overrides, list) or not all(isinstance(item, str) for item in overrides)
        ):
            raise invalid(noun, "buttonOverrides must be an array of strings")
        if not overrides and body.get("buttonId") is None:
            raise requires(noun, "buttonId")
        if not _valid_id("org", body["organizationId"]):
            raise invalid(noun, f"invalid organizationId: {body['organizationId']}")
        if not _valid_id("deployment", body["deploymentId"]):
            raise invalid(noun, f"invalid deploymentId: {body['deploymentId']}")
        if body.get("buttonId") is not None and not _valid_id("button", body["buttonId"]):
            raise invalid(noun, f"invalid buttonId: {body['buttonId']}")
        if body.get("agentId") is not None and not _valid_id("agent", body["agentId"]):
            raise invalid(noun, f"invalid agentId: {body['agentId']}")
        for target in overrides or []:
            agent, _, button = target.partition("_")
            good = (
                (_valid_id("agent", agent) and _valid_id("button", button))
                if "_" in target
                else (_valid_id("agent", target) or _valid_id("button", target))
            )
            if not good:
                raise invalid(noun, f"invalid buttonOverrides entry: {target}")

    async def messages(self, request: Request) -> Response:
        self.check_version(request)
        session = self.session(request)
        raw_ack = request.query_params.get("ack", "-1")
        try:
            ack = int(raw_ack)
        except ValueError:
            raise ChatApiError(400, f"Invalid value for parameter ack: {raw_ack}") from None
        session.acknowledge(ack)
        if session.ended and ack >= session.final_sequence:
            self.service.drop_session(session)  # the chat is over and the client has its last message
            raise ChatApiError(403, SESSION_GONE)
        deadline = asyncio.get_running_loop().time() + self.world.config.long_poll_seconds
        while True:
            if session.reconnect_pending:
                raise ChatApiError(503, AFFINITY_CHANGED)
            if self.service.session_by_key(session.key) is not session:
                raise ChatApiError(403, SESSION_GONE)
            if session.outbox:
                last = session.outbox[-1]
                return JSONResponse(
                    {
                        "messages": [m.wire() for m in session.outbox],
                        "sequence": last.sequence,
                        "offset": last.offset,
                    }
                )
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return Response(status_code=204)
            await session.wait_for_change(remaining)

    async def chat_message(self, request: Request) -> Response:
        return await self._visitor_post(request, "ChatMessage")

    async def chasitor_typing(self, request: Request) -> Response:
        return await self._visitor_post(request, "ChasitorTyping")

    async def chasitor_not_typing(self, request: Request) -> Response:
        return await self._visitor_post(request, "ChasitorNotTyping")

    async def chat_end(self, request: Request) -> Response:
        return await self._visitor_post(request, "ChatEnd")

    async def _visitor_post(self, request: Request, noun: str) -> Response:
        self.check_version(request)
        session = self.session(request)
        seq = self.sequence(request)
        if seq <= session.last_client_sequence:
            return ok()
        org, chat = self.live_chat(session, noun)
        body = await self.json_body(request, noun, required=noun in ("ChatMessage", "ChatEnd"))
        if noun == "ChatMessage":
            if body.get("text") is None:
                raise requires(noun, "text")
            if not isinstance(body["text"], str):
                raise invalid(noun, "text must be a string")
        if noun == "ChatEnd":
            if body.get("reason") is None:
                raise requires(noun, "reason")
            if not isinstance(body["reason"], str):
                raise invalid(noun, "reason must be a string")
        session.last_client_sequence = seq
        if noun == "ChatMessage":
            self.service.visitor_message(chat, body["text"])
        elif noun in ("ChasitorTyping", "ChasitorNotTyping"):
            self.service.visitor_typing(chat, noun == "ChasitorTyping")
        else:
            self.service.visitor_end(chat, body["reason"])
        return ok()

    async def chasitor_resync_state(self, request: Request) -> Response:
        """``Chasitor/ChasitorResyncState`` {organizationId}: "Reestablishes the chat visitor's state, including the
        details of the chat, after a ReconnectSession request is completed" (no sequence header, no response
        body). Counted on the session, for tests."""
        self.check_version(request)
        session = self.session(request)
        org, chat = self.live_chat(session, "ChasitorResyncState")
        body = await self.json_body(request, "ChasitorResyncState")
        organization = body.get("organizationId")
        if organization is None:
            raise requires("ChasitorResyncState", "organizationId")
        if not isinstance(organization, str) or organization[:15] != chat.org_id[:15]:
            raise invalid("ChasitorResyncState", "organizationId is not the organization of this chat")
        session.resyncs += 1
        return ok()

    async def reconnect_session(self, request: Request) -> Response:
        self.check_version(request)
        session = self.session(request, check_affinity=False)  # the docs send the literal "null" here
        raw = request.query_params.get("ReconnectSession.offset")
        offset = whole_number(raw)
        if offset is None:
            raise ChatApiError(400, f"Invalid value for parameter ReconnectSession.offset: {raw}")
        affinity = self.service.reconnect(session, offset)
        return JSONResponse(
            {
                "messages": [
                    {
                        "type": "ReconnectSession",
                        "message": {"resetSequence": True, "affinityToken": affinity},
                    }
                ]
            }
        )

    def _visitor_org(self, request: Request, noun: str) -> tuple[Org, dict | None]:
        org_id = request.query_params.get("org_id")
        deployment_id = request.query_params.get("deployment_id")
        if not org_id:
            raise invalid(noun, "the org_id parameter is required")
        if not deployment_id:
            raise invalid(noun, "the deployment_id parameter is required")
        if not _valid_id("org", org_id):
            raise invalid(noun, f"invalid org_id: {org_id}")
        if not _valid_id("deployment", deployment_id):
            raise invalid(noun, f"invalid deployment_id: {deployment_id}")
        org = self.service.enabled_org(org_id)
        if org is None:
            raise ChatApiError(404, RETIRED)
        return org, org.records.get("LiveChatDeployment", deployment_id)

    async def availability(self, request: Request) -> Response:
        self.check_version(request)
        org, deployment = self._visitor_org(request, "Availability")
        ids = _id_list(request.query_params.getlist("Availability.ids"))
        if not ids:
            raise invalid("Availability", "the Availability.ids parameter is required")
        need_wait = request.query_params.get("Availability.needEstimatedWaitTime") == "1"
        results = []
        for ref in ids:
            result: dict = {"id": ref}
            # An entity nobody can take (offline, unknown, other deployment) has no isAvailable at all.
            if deployment is not None and self.service.entity_available(org, ref):
                result["isAvailable"] = True
                if need_wait:
                    result["estimatedWaitTime"] = self.service.estimated_wait_for(org, ref)
            results.append(result)
        return JSONResponse({"messages": [{"type": "Availability", "message": {"results": results}}]})

    async def settings(self, request: Request) -> Response:
        self.check_version(request)
        org, deployment = self._visitor_org(request, "Settings")
        ids = _id_list(request.query_params.getlist("Settings.buttonIds"))
        if not ids:
            ids = [b["Id"][:15] for b in org.records.all("LiveChatButton")]
        need_wait = request.query_params.get("Settings.needEstimatedWaitTime") == "1"
        buttons = []
        for ref in ids:
            button = org.records.get("LiveChatButton", ref) if _valid_id("button", ref) else None
            if button is None:
                continue
            available = deployment is not None and self.service.button_online(org, button)
            entry = {"id": ref, "type": "Standard", "endpointUrl": "", "prechatUrl": "", "language": ""}
            entry["isAvailable"] = available
            if need_wait and available:
                entry["estimatedWaitTime"] = self.service.estimated_wait_for(org, ref)
            buttons.append(entry)
        return JSONResponse(
            {
                "messages": [
                    {
                        "type": "Settings",
                        "message": {
                            "pingRate": 50000.0,
                            "contentServerUrl": self.world.config.url("livechat") + "/content",
                            "buttons": buttons,
                        },
                    }
                ]
            }
        )


def _api_route(path: str, handler, methods: list[str]) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ChatApiError as error:
            return error.response()

    return Route(f"{REST}/{path}", endpoint, methods=methods)


# -- sim hooks (JSON) ------------------------------------------------------------------------------
def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_json(request: Request) -> dict:
    raw = await request.body()
    try:
        body = parse_json(raw or b"{}")
    except ValueError:
        raise ValueError("malformed JSON") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _user(org: Org, ref: str | None) -> dict | None:
    if not ref:
        return None
    return org.records.get("User", ref) or org.user_by_username(ref)


class SimHooks:
    """What the simulated agents do, and what the tests inspect."""

    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def service(self) -> LiveChatService:
        return self.world.livechat

    def org_state(self, org: Org) -> dict:
        service = self.service
        return {
            "orgId": org.org_id,
            "legacyChatEnabled": org.legacy_chat_enabled,
            "deployments": [
                {"id": d["Id"], "developerName": d["DeveloperName"]}
                for d in org.records.all("LiveChatDeployment")
            ],
            "buttons": [
                {
                    "id": b["Id"],
                    "developerName": b["DeveloperName"],
                    "queueId": b.get("QueueId"),
                    "servingAgentIds": [u["Id"] for u in service.serving_agents(org, b)],
                    "isAvailable": service.button_online(org, b),
                }
                for b in org.records.all("LiveChatButton")
            ],
            "agents": [
                {
                    "id": u["Id"],
                    "username": u["Username"],
                    "name": u["Name"],
                    "isOnline": bool(u.get("IsOnline")),
                }
                for u in service.agents(org)
            ],
            "chats": [c.summary() for c in service.chats.values() if c.org_id == org.org_id],
        }

    async def org(self, request: Request) -> Response:
        org = self.world.orgs.get(request.path_params["org_id"])
        if org is None:
            return _error(404, "unknown org")
        if request.method == "POST":
            try:
                body = await _read_json(request)
            except ValueError as exc:
                return _error(400, str(exc))
            if "legacy_chat_enabled" in body:
                org.legacy_chat_enabled = bool(body["legacy_chat_enabled"])
        return JSONResponse(self.org_state(org))

    async def config(self, request: Request) -> Response:
        org = self.world.orgs.get(request.path_params["org_id"])
        if org is None:
            return _error(404, "unknown org")
        try:
            self.service.load_org(org, await _read_json(request))
        except (KeyError, TypeError, ValueError) as exc:
            return _error(400, f"bad livechat config: {exc!r}")
        return JSONResponse(self.org_state(org), status_code=201)

    async def presence(self, request: Request) -> Response:
        org = self.world.orgs.get(request.path_params["org_id"])
        if org is None:
            return _error(404, "unknown org")
        user = _user(org, request.path_params["user"])
        if user is None or not user.get("IsAgent"):
            return _error(404, "unknown agent")
        try:
            body = await _read_json(request)
        except ValueError as exc:
            return _error(400, str(exc))
        if not isinstance(body.get("online"), bool):
            return _error(400, "online must be true or false")
        org.records.update("User", user["Id"], {"IsOnline": body["online"]})
        return JSONResponse({"id": user["Id"], "isOnline": body["online"]})

    async def chats(self, request: Request) -> Response:
        org_ref = request.query_params.get("org")
        chats = self.service.chats.values()
        if org_ref:
            org = self.world.orgs.get(org_ref)
            chats = [c for c in chats if org is not None and c.org_id == org.org_id]
        return JSONResponse([c.summary() for c in chats])

    def _chat(self, request: Request) -> tuple[Org | None, Chat | None]:
        chat = self.service.find_chat(request.path_params["chat"])
        org = self.world.orgs.get(chat.org_id) if chat else None
        return org, chat

    async def chat(self, request: Request) -> Response:
        _, chat = self._chat(request)
        if chat is None:
            return _error(404, "unknown chat")
        return JSONResponse(chat.detail())

    async def chat_action(self, request: Request) -> Response:
        org, chat = self._chat(request)
        if chat is None or org is None:
            return _error(404, "unknown chat")
        try:
            body = await _read_json(request)
        except ValueError as exc:
            return _error(400, str(exc))
        problem = self.act(org, chat, request.path_params["action"], body)
        if problem is not None:
            return _error(*problem)
        return JSONResponse(chat.detail())

    def act(self, org: Org, chat: Chat, action: str, body: dict) -> tuple[int, str] | None:
        """Apply one agent action; ``(status, message)`` when it cannot be done."""
        service = self.service
        if action in ("accept", "transfer"):
            user = _user(org, body.get("agent"))
            if user is None:
                return 400, "agent must name a user of this org (username or id)"
            if action == "accept":
                reason = service.can_accept(org, chat, user["Id"])
                if reason is not None:
                    return 409, reason
                service.accept(org, chat, user["Id"])
                return None
            if chat.status != "InProgress":
                return 409, f"chat is {chat.status}, not InProgress"
            if not user.get("IsAgent") or not user.get("IsOnline"):
                return 409, "the target agent is not an online chat agent"
            service.transfer(org, chat, user["Id"])
            return None
        if action == "end":
            if chat.status not in ("Waiting", "InProgress"):
                return 409, f"chat is already {chat.status}"
            service.agent_end(org, chat)
            return None
        if chat.status != "InProgress":
            return 409, f"chat is {chat.status}, not InProgress"
        if action == "messages":
            if not isinstance(body.get("text"), str) or not body["text"]:
                return 400, "text is required"
            service.agent_message(org, chat, body["text"])
            return None
        if action == "typing":
            if not isinstance(body.get("typing"), bool):
                return 400, "typing must be true or false"
            service.agent_typing(chat, body["typing"])
            return None
        return 404, f"unknown action {action}"

    async def affinity_change(self, request: Request) -> Response:
        session = self.service.session_by_id(request.path_params["session_id"])
        if session is None:
            return _error(404, "unknown session")
        session.change_affinity()
        return JSONResponse({"reconnectPending": True})

    # -- the agent page --------------------------------------------------------------------------
    def console_context(self, request: Request) -> dict | None:
        org = self.world.orgs.get(request.query_params.get("org", ""))
        if org is None:
            return None
        state = self.org_state(org)
        agent = _user(org, request.query_params.get("agent")) or next(iter(self.service.agents(org)), None)
        chat = self.service.find_chat(request.query_params.get("chat", ""))
        if chat is not None and chat.org_id != org.org_id:
            chat = None
        users = {u["Id"]: u["Name"] for u in org.records.all("User")}
        buttons = {b["Id"]: b["MasterLabel"] for b in org.records.all("LiveChatButton")}
        return {
            "org": org,
            "state": state,
            "agent": agent,
            "chat": chat,
            "chats": sorted(
                (c for c in self.service.chats.values() if c.org_id == org.org_id), key=lambda c: -c.order
            ),
            "users": users,
            "buttons": buttons,
            "notice": request.query_params.get("notice", ""),
        }

    async def console(self, request: Request) -> Response:
        context = self.console_context(request)
        if context is None:
            return PlainTextResponse("unknown org: pass ?org=<org id>", status_code=404)
        return templates.TemplateResponse(request, "livechat/console.html", context)

    async def console_panel(self, request: Request) -> Response:
        context = self.console_context(request)
        if context is None:
            return PlainTextResponse("unknown org", status_code=404)
        return templates.TemplateResponse(request, "livechat/_panel.html", context)

    async def console_action(self, request: Request) -> Response:
        form = await request.form()
        org = self.world.orgs.get(str(form.get("org", "")))
        if org is None:
            return PlainTextResponse("unknown org", status_code=404)
        action = request.path_params["action"]
        agent = _user(org, str(form.get("agent", "")))
        chat_ref = str(form.get("chat", ""))
        notice = ""
        if action == "presence":
            if agent is not None and agent.get("IsAgent"):
                org.records.update("User", agent["Id"], {"IsOnline": form.get("online") == "true"})
        else:
            chat = self.service.find_chat(chat_ref)
            if chat is None or chat.org_id != org.org_id:
                notice = "Unknown chat"
            else:
                body = {"agent": agent["Id"] if agent else None, "text": str(form.get("text", ""))}
                problem = self.act(org, chat, action, body)
                notice = problem[1] if problem else ""
        query = f"org={org.org_id}&agent={agent['Id'] if agent else ''}&chat={chat_ref}"
        if notice:
            query += "&notice=" + re.sub(r"[^\w .,:-]", "", notice).replace(" ", "+")
        return RedirectResponse(f"{HOOKS}/console?{query}", status_code=303)


def routes(world: World) -> list:
    api = ChatRestApi(world)
    hooks = SimHooks(world)
    return [
        _api_route("System/SessionId", api.session_id, ["GET"]),
        _api_route("System/Messages", api.messages, ["GET"]),
        _api_route("System/ReconnectSession", api.reconnect_session, ["GET"]),
        _api_route("Chasitor/ChasitorInit", api.chasitor_init, ["POST"]),
        _api_route("Chasitor/ChasitorResyncState", api.chasitor_resync_state, ["POST"]),
        _api_route("Chasitor/ChatMessage", api.chat_message, ["POST"]),
        _api_route("Chasitor/ChasitorTyping", api.chasitor_typing, ["POST"]),
        _api_route("Chasitor/ChasitorNotTyping", api.chasitor_not_typing, ["POST"]),
        _api_route("Chasitor/ChatEnd", api.chat_end, ["POST"]),
        _api_route("Visitor/Availability", api.availability, ["GET"]),
        _api_route("Visitor/Settings", api.settings, ["GET"]),
        Route(f"{HOOKS}/orgs/{{org_id}}", hooks.org, methods=["GET", "POST"]),
        Route(f"{HOOKS}/orgs/{{org_id}}/config", hooks.config, methods=["POST"]),
        Route(f"{HOOKS}/orgs/{{org_id}}/agents/{{user}}/presence", hooks.presence, methods=["POST"]),
        Route(f"{HOOKS}/chats", hooks.chats, methods=["GET"]),
        Route(f"{HOOKS}/chats/{{chat}}", hooks.chat, methods=["GET"]),
        Route(f"{HOOKS}/chats/{{chat}}/{{action}}", hooks.chat_action, methods=["POST"]),
        Route(f"{HOOKS}/sessions/{{session_id}}/affinity-change", hooks.affinity_change, methods=["POST"]),
        Route(f"{HOOKS}/console", hooks.console, methods=["GET"]),
        Route(f"{HOOKS}/console/panel", hooks.console_panel, methods=["GET"]),
        Route(f"{HOOKS}/console/{{action}}", hooks.console_action, methods=["POST"]),
    ]
