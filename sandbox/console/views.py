"""The simulated Service Console: an agent page and the JSON control API behind it.

Page: ``/__sim/console?org=<org id>&agent=<user id>[&session=<MessagingSession id>]`` - pick an org and
an agent, go online or offline, see waiting and active Messaging sessions (with the routing they
asked for), accept one, read the conversation and answer it. htmx polls the session list and the
transcript; actions are plain form posts that redirect back (no script needed).

JSON API (``/__sim/console/api``), for end-to-end tests of the relay::

    GET  /orgs                                         orgs with their agents
    GET  /orgs/{org}/agents
    PUT  /orgs/{org}/agents/{user}/presence            {"online": true}
    GET  /orgs/{org}/sessions[?status=Waiting&endUser=&channel=]
    GET  /orgs/{org}/sessions/{id}                     session, record, routing, conversation
    GET  /orgs/{org}/sessions/{id}/entries[?all=1]     entries in order (all=1: whole conversation)
    GET  /orgs/{org}/sessions/{id}/events              platform events published for the session
    POST /orgs/{org}/sessions/{id}/accept              {"agent": "005..."}
    POST /orgs/{org}/sessions/{id}/reply               {"agent", "text"} | {"agent", "attachment":
                                                       {"name", "mimeType", "contentBase64"}, "text"?} |
                                                       {"agent", "choices": {"formatType": "Buttons"|
                                                       "QuickReplies", "text", "options": ["Yes", ...]}} |
                                                       {"agent", "message": {abstractMessage without id}}
                                                       (a messaging component: FormMessage, ...)
    POST /orgs/{org}/sessions/{id}/typing              {"agent", "typing": true|false}
    POST /orgs/{org}/sessions/{id}/end                 {"agent"}
    GET  /orgs/{org}/conversations[/{conversationIdentifier}]
    GET  /orgs/{org}/acknowledgements | /delivery-failures | /capabilities | /events | /requests | /routes
    GET  /scrt/error-status, PUT /scrt/error-status    {"10003": 403} (HTTP status per error code)
    GET  /scrt/upload-result, PUT /scrt/upload-result  {"errorType": null | "StorageLimitExceeded" | ...} (how
                                                       end users' file uploads end: MessageUpdated's result)
"""

from __future__ import annotations

import base64
import binascii
import time
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..inputs import parse_json
from ..salesforce import agent as agent_actions
from ..salesforce.ids import to15
from ..salesforce.messaging import Conversation, Entry
from ..salesforce.org import Org
from ..templating import templates

API = "/__sim/console/api"
# AttachmentUploadErrorType (outbound-custom-event-payload.yaml): why Salesforce could not store an end user's file.
UPLOAD_ERROR_TYPES = (
    "StorageLimitExceeded",
    "AttachmentTooLarge",
    "AttachmentNotFound",
    "AttachmentUploadNotEnabled",
    "AttachmentUploadNotAllowed",
    "InternalServerError",
)


# --- serialisation ----------------------------------------------------------------------------------


def session_json(world, org: Org, row: dict) -> dict:
    messaging = world.messaging
    info = messaging.state(org).sessions.get(row["Id"])
    conversation = messaging.conversation(org, info.conversation_identifier) if info else None
    channel = org.records.get("MessagingChannel", row["MessagingChannelId"]) or {}
    agent = org.records.get("User", info.agent_id) if info and info.agent_id else None
    return {
        "id": row["Id"],
        "id15": to15(row["Id"]),
        "name": row["Name"],
        "status": row["Status"],
        "origin": row["Origin"],
        "startTime": row["StartTime"],
        "acceptTime": row.get("AcceptTime"),
        "endTime": row.get("EndTime"),
        "endedByType": row.get("EndedByType"),
        "agentId": info.agent_id if info else None,
        "agentName": agent["Name"] if agent else None,
        "conversationIdentifier": info.conversation_identifier if info else None,
        "channelAddressIdentifier": channel.get("ChannelAddressIdentifier"),
        "channel": channel.get("DeveloperName"),
        "endUserClientId": conversation.end_user_subject if conversation else None,
        "messagingEndUserId": row["MessagingEndUserId"],
        "routingAttributes": dict(info.routing_attributes) if info else {},
        "requestedRouting": dict(info.requested_routing) if info else {},
        "endUserTyping": bool(info and info.typing),
        "agentTyping": bool(info and info.agent_typing),
        "record": dict(row),
    }


def entry_json(world, org: Org, entry: Entry) -> dict:
    data = entry.as_json()
    data["text"] = entry.text
    data["files"] = [
        {
            "contentVersionId": f.content_version_id,
            "name": f.name,
            "mimeType": f.mime_type,
            "size": len(f.data),
        }
        for f in (world.messaging.file(org, fid) for fid in entry.file_ids)
        if f is not None
    ]
    return data


def conversation_json(world, org: Org, conversation: Conversation, *, entries: bool = True) -> dict:
    data = conversation.as_json()
    if entries:
        data["entries"] = [entry_json(world, org, e) for e in conversation.ordered_entries()]
    return data


def agent_json(row: dict) -> dict:
    return {
        "id": row["Id"],
        "username": row["Username"],
        "name": row["Name"],
        "online": bool(row.get("IsOnline")),
    }


# --- helpers ------------------------------------------------------------------------------------------


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> dict:
    try:
        data = parse_json(await request.body() or b"{}")
    except ValueError as exc:
        raise agent_actions.AgentError(400, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise agent_actions.AgentError(400, "the body must be a JSON object")
    return data


def _attachment(data) -> agent_actions.Attachment:
    if not isinstance(data, dict) or not data.get("name") or not data.get("mimeType"):
        raise agent_actions.AgentError(400, "attachment needs name, mimeType and contentBase64")
    try:
        content = base64.b64decode(data.get("contentBase64") or "", validate=True)
    except (binascii.Error, ValueError):
        raise agent_actions.AgentError(400, "attachment.contentBase64 is not base64") from None
    return agent_actions.Attachment(name=data["name"], mime_type=data["mimeType"], data=content)


def entry_time(client_timestamp_ms: int) -> str:
    """When an entry was sent, as the console shows it: the time of day, with the date when not today.

    The Interaction Service reads ``timestamp`` as epoch milliseconds; a partner sending seconds gets
    entries dated January 1970 in a real org, so the console shows that date rather than hiding it.
    """
    moment = time.localtime(client_timestamp_ms / 1000)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M:%S", moment)


def routes(world) -> list:
    messaging = world.messaging

    def with_org(handler):
        async def view(request: Request) -> Response:
            org = world.orgs.get(request.path_params.get("org_id", ""))
            if org is None:
                return _error(404, f"unknown org {request.path_params.get('org_id')!r}")
            try:
                return await handler(request, org)
            except agent_actions.AgentError as error:
                return _error(error.status, error.message)

        return view

    def session_or_error(org: Org, session_id: str) -> dict:
        row = messaging.session_row(org, session_id)
        if row is None or messaging.session_info(org, session_id) is None:
            raise agent_actions.AgentError(404, f"no Messaging session {session_id!r}")
        return row

    # --- JSON API -------------------------------------------------------------------------------

    async def orgs(request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "org_id": o.org_id,
                    "name": o.name,
                    "agents": [agent_json(a) for a in agent_actions.agents(o)],
                }
                for o in world.orgs.all()
            ]
        )

    @with_org
    async def agents(request: Request, org: Org) -> Response:
        return JSONResponse([agent_json(a) for a in agent_actions.agents(org)])

    @with_org
    async def presence(request: Request, org: Org) -> Response:
        data = await _body(request)
        if not isinstance(data.get("online"), bool):
            return _error(400, 'presence needs {"online": true|false}')
        row = agent_actions.set_presence(world, org, request.path_params["user_id"], data["online"])
        return JSONResponse(agent_json(row))

    @with_org
    async def sessions(request: Request, org: Org) -> Response:
        params = request.query_params
        rows = [session_json(world, org, r) for r in messaging.sessions(org)]
        if params.get("status"):
            rows = [r for r in rows if r["status"] == params["status"]]
        if params.get("endUser"):
            rows = [r for r in rows if r["endUserClientId"] == params["endUser"]]
        if params.get("channel"):
            rows = [r for r in rows if params["channel"] in (r["channel"], r["channelAddressIdentifier"])]
        return JSONResponse(rows)

    @with_org
    async def session(request: Request, org: Org) -> Response:
        row = session_or_error(org, request.path_params["session_id"])
        data = session_json(world, org, row)
        conversation = messaging.conversation(org, data["conversationIdentifier"])
        data["conversation"] = conversation_json(world, org, conversation, entries=False)
        return JSONResponse(data)

    @with_org
    async def session_entries(request: Request, org: Org) -> Response:
        row = session_or_error(org, request.path_params["session_id"])
        info = messaging.session_info(org, row["Id"])
        conversation = messaging.conversation(org, info.conversation_identifier)
        entries = conversation.ordered_entries()
        if request.query_params.get("all") not in ("1", "true"):
            entries = [e for e in entries if e.session_id == row["Id"]]
        return JSONResponse([entry_json(world, org, e) for e in entries])

    @with_org
    async def session_events(request: Request, org: Org) -> Response:
        row = session_or_error(org, request.path_params["session_id"])
        return JSONResponse([e for e in messaging.state(org).events if e["sessionId"] == row["Id"]])

    @with_org
    async def accept(request: Request, org: Org) -> Response:
        data = await _body(request)
        row = agent_actions.accept(world, org, request.path_params["session_id"], data.get("agent", ""))
        return JSONResponse(session_json(world, org, row))

    @with_org
    async def reply(request: Request, org: Org) -> Response:
        data = await _body(request)
        attachment = _attachment(data["attachment"]) if data.get("attachment") is not None else None
        choices = data.get("choices")
        if choices is not None and not isinstance(choices, dict):
            return _error(400, "choices must be an object {formatType, text, options}")
        component = data.get("message")
        if component is not None and not isinstance(component, dict):
            return _error(400, "message must be an abstractMessage object {messageType, ...}")
        entry = agent_actions.reply(
            world,
            org,
            request.path_params["session_id"],
            data.get("agent", ""),
            text=data.get("text"),
            attachment=attachment,
            choices=choices,
            component=component,
        )
        return JSONResponse(entry_json(world, org, entry), status_code=201)

    @with_org
    async def typing(request: Request, org: Org) -> Response:
        data = await _body(request)
        if not isinstance(data.get("typing"), bool):
            return _error(400, 'typing needs {"agent", "typing": true|false}')
        entry = agent_actions.typing(
            world, org, request.path_params["session_id"], data.get("agent", ""), data["typing"]
        )
        return JSONResponse(entry_json(world, org, entry), status_code=201)

    @with_org
    async def end(request: Request, org: Org) -> Response:
        data = await _body(request)
        row = agent_actions.end(world, org, request.path_params["session_id"], data.get("agent", ""))
        return JSONResponse(session_json(world, org, row))

    @with_org
    async def conversations(request: Request, org: Org) -> Response:
        return JSONResponse(
            [
                conversation_json(world, org, c, entries=False)
                for c in messaging.state(org).conversations.values()
            ]
        )

    @with_org
    async def conversation(request: Request, org: Org) -> Response:
        found = messaging.conversation(org, request.path_params["conversation_id"])
        if found is None:
            return _error(404, f"no conversation {request.path_params['conversation_id']!r}")
        return JSONResponse(conversation_json(world, org, found))

    def _per_entry(org: Org, attribute: str) -> list[dict]:
        rows = []
        for conv in messaging.state(org).conversations.values():
            for entry in conv.ordered_entries():
                for item in getattr(entry, attribute):
                    rows.append(
                        {
                            "conversationIdentifier": conv.identifier,
                            "sessionId": entry.session_id,
                            "acknowledgedEntryIdentifier": entry.identifier,
                            **item,
                        }
                    )
        return rows

    @with_org
    async def acknowledgements(request: Request, org: Org) -> Response:
        return JSONResponse(_per_entry(org, "acknowledgements"))

    @with_org
    async def delivery_failures(request: Request, org: Org) -> Response:
        rows = _per_entry(org, "delivery_failures")
        for row in rows:
            row["failedEntryIdentifier"] = row.pop("acknowledgedEntryIdentifier")
        return JSONResponse(rows)

    @with_org
    async def capabilities(request: Request, org: Org) -> Response:
        return JSONResponse(messaging.state(org).capabilities)

    @with_org
    async def events(request: Request, org: Org) -> Response:
        return JSONResponse(messaging.state(org).events)

    @with_org
    async def requests_log(request: Request, org: Org) -> Response:
        return JSONResponse(messaging.state(org).requests)

    @with_org
    async def route_log(request: Request, org: Org) -> Response:
        return JSONResponse(messaging.state(org).routes)

    async def error_status(request: Request) -> Response:
        if request.method == "PUT":
            try:
                data = parse_json(await request.body() or b"{}")
                overrides = {int(code): int(status) for code, status in data.items()}
            except (ValueError, TypeError, AttributeError):
                return _error(400, 'send {"<error code>": <HTTP status>, ...}')
            if not all(400 <= s <= 599 for s in overrides.values()):
                return _error(400, "statuses must be 4xx or 5xx")
            messaging.error_status.update(overrides)
        return JSONResponse({str(k): v for k, v in sorted(messaging.error_status.items())})

    async def upload_result(request: Request) -> Response:
        if request.method == "PUT":
            try:
                data = parse_json(await request.body() or b"{}")
            except ValueError:
                data = None
            error = data.get("errorType", "") if isinstance(data, dict) else ""
            if error is not None and error not in UPLOAD_ERROR_TYPES:
                return _error(400, f'send {{"errorType": null or one of {", ".join(UPLOAD_ERROR_TYPES)}}}')
            messaging.upload_error = error
        return JSONResponse({"errorType": messaging.upload_error})

    # --- page -----------------------------------------------------------------------------------

    def page_context(request: Request) -> dict:
        params = request.query_params
        org = world.orgs.get(params.get("org", "")) if params.get("org") else None
        if org is None and len(world.orgs.all()) == 1:
            org = world.orgs.all()[0]
        agent = org.records.get("User", params.get("agent", "")) if org and params.get("agent") else None
        agent = agent if agent and agent.get("IsAgent") else None
        context = {"request": request, "orgs": world.orgs.all(), "org": org, "agent": agent}
        if org is not None:
            context["agents"] = agent_actions.agents(org)
        return context

    def session_lists(org: Org, agent: dict | None) -> dict:
        rows = sorted(
            (session_json(world, org, r) for r in messaging.sessions(org)),
            key=lambda s: s["record"]["CreatedDate"],
        )
        mine = agent["Id"] if agent else None
        return {
            "waiting": [s for s in rows if s["status"] == "Waiting"],
            "mine": [s for s in rows if s["status"] not in ("Waiting", "Ended") and s["agentId"] == mine],
            "others": [s for s in rows if s["status"] not in ("Waiting", "Ended") and s["agentId"] != mine],
            "ended": [s for s in rows if s["status"] == "Ended"][-10:][::-1],
        }

    def transcript_context(org: Org, session_id: str) -> dict | None:
        row = messaging.session_row(org, session_id) if session_id else None
        if row is None or messaging.session_info(org, session_id) is None:
            return None
        data = session_json(world, org, row)
        conv = messaging.conversation(org, data["conversationIdentifier"])
        entries = []
        for entry in conv.ordered_entries():
            item = entry_json(world, org, entry)
            item["fileLinks"] = [
                {"name": f.name, "mimeType": f.mime_type, "url": messaging.file_url(f)}
                for f in (messaging.file(org, fid) for fid in entry.file_ids)
                if f
            ]
            item["time"] = entry_time(entry.client_timestamp)
            entries.append(item)
        capabilities = messaging.state(org).capabilities.get(conv.channel_definition)
        return {
            "session": data,
            "conversation": conv.as_json(),
            "entries": entries,
            "ccd": messaging.channel_definition(org, conv.channel_definition),
            "choice_formats": [
                f
                for f in ("Buttons", "QuickReplies")
                if agent_actions.format_capability(capabilities, "ChoicesMessage", f)
            ],  # fmt: skip
            "events": [e for e in messaging.state(org).events if e["sessionId"] == row["Id"]][-5:][::-1],
        }

    def console_url(org: Org | None, agent: dict | None, session_id: str | None = None) -> str:
        params = {"org": org.org_id if org else "", "agent": agent["Id"] if agent else ""}
        if session_id:
            params["session"] = session_id
        return "/__sim/console?" + urlencode(params)

    async def page(request: Request) -> Response:
        context = page_context(request)
        org, agent = context["org"], context["agent"]
        if org is not None:
            context.update(session_lists(org, agent))
            context["current"] = transcript_context(org, request.query_params.get("session", ""))
            context["capabilities"] = messaging.state(org).capabilities
            context["requests"] = messaging.state(org).requests[-15:][::-1]
        context["flash"] = request.query_params.get("error")
        context["console_url"] = console_url
        return templates.TemplateResponse(request, "console/index.html", context)

    async def sessions_fragment(request: Request) -> Response:
        context = page_context(request)
        if context["org"] is None:
            return Response("")
        context.update(session_lists(context["org"], context["agent"]))
        context["current_id"] = request.query_params.get("session", "")
        context["console_url"] = console_url
        return templates.TemplateResponse(request, "console/_sessions.html", context)

    async def transcript_fragment(request: Request) -> Response:
        context = page_context(request)
        if context["org"] is None:
            return Response("")
        context["current"] = transcript_context(context["org"], request.query_params.get("session", ""))
        if context["current"] is None:
            return Response("")
        return templates.TemplateResponse(request, "console/_transcript.html", context)

    async def ui_action(request: Request) -> Response:
        """Form posts from the page: presence, accept, reply (text, file, choices), typing, end."""
        form = await request.form(max_part_size=30 * 1024 * 1024)
        org = world.orgs.get(str(form.get("org", "")))
        if org is None:
            return RedirectResponse("/__sim/console", status_code=303)
        agent_id = str(form.get("agent", ""))
        agent = org.records.get("User", agent_id)
        action = request.path_params["action"]
        session_id = str(form.get("session", "")) or None
        try:
            if action == "presence":
                agent_actions.set_presence(world, org, agent_id, form.get("online") == "1")
            elif action == "accept":
                agent_actions.accept(world, org, session_id, agent_id)
            elif action == "reply":
                upload = form.get("file")
                if isinstance(upload, UploadFile) and upload.filename:
                    content = await upload.read()
                    mime = upload.content_type or "application/octet-stream"
                    attachment = agent_actions.Attachment(name=upload.filename, mime_type=mime, data=content)
                    agent_actions.reply(
                        world,
                        org,
                        session_id,
                        agent_id,
                        text=str(form.get("text") or ""),
                        attachment=attachment,
                    )
                else:
                    agent_actions.reply(world, org, session_id, agent_id, text=str(form.get("text") or ""))
            elif action == "choices":
                options = [
                    line.strip() for line in str(form.get("options") or "").splitlines() if line.strip()
                ]
                choices = {"formatType": form.get("formatType"), "text": form.get("text"), "options": options}
                agent_actions.reply(world, org, session_id, agent_id, choices=choices)
            elif action in ("typing-start", "typing-stop"):
                agent_actions.typing(world, org, session_id, agent_id, action == "typing-start")
            elif action == "end":
                agent_actions.end(world, org, session_id, agent_id)
            else:
                return Response("unknown action", status_code=404)
        except agent_actions.AgentError as error:
            return RedirectResponse(
                console_url(org, agent, session_id) + "&" + urlencode({"error": error.message}),
                status_code=303,
            )
        return RedirectResponse(console_url(org, agent, session_id), status_code=303)

    return [
        Route("/__sim/console", page),
        Route("/__sim/console/fragments/sessions", sessions_fragment),
        Route("/__sim/console/fragments/transcript", transcript_fragment),
        Route("/__sim/console/ui/{action}", ui_action, methods=["POST"]),
        Route(f"{API}/orgs", orgs),
        Route(f"{API}/orgs/{{org_id}}/agents", agents),
        Route(f"{API}/orgs/{{org_id}}/agents/{{user_id}}/presence", presence, methods=["PUT"]),
        Route(f"{API}/orgs/{{org_id}}/sessions", sessions),
        Route(f"{API}/orgs/{{org_id}}/sessions/{{session_id}}", session),
        Route(f"{API}/orgs/{{org_id}}/sessions/{{session_id}}/entries", session_entries),
        Route(f"{API}/orgs/{{org_id}}/sessions/{{session_id}}/events", session_events),
        Route(f"{API}/orgs/{{org_id}}/sessions/{{session_id}}/accept", accept, methods=["POST"]),
        Route(f"{API}/orgs/{{org_id}}/sessions/{{session_id}}/reply", reply, methods=["POST"]),
        Route(f"{API}/orgs/{{org_id}}/sessions/{{session_id}}/typing", typing, methods=["POST"]),
        Route(f"{API}/orgs/{{org_id}}/sessions/{{session_id}}/end", end, methods=["POST"]),
        Route(f"{API}/orgs/{{org_id}}/conversations", conversations),
        Route(f"{API}/orgs/{{org_id}}/conversations/{{conversation_id}}", conversation),
        Route(f"{API}/orgs/{{org_id}}/acknowledgements", acknowledgements),
        Route(f"{API}/orgs/{{org_id}}/delivery-failures", delivery_failures),
        Route(f"{API}/orgs/{{org_id}}/capabilities", capabilities),
        Route(f"{API}/orgs/{{org_id}}/events", events),
        Route(f"{API}/orgs/{{org_id}}/requests", requests_log),
        Route(f"{API}/orgs/{{org_id}}/routes", route_log),
        Route(f"{API}/scrt/error-status", error_status, methods=["GET", "PUT"]),
        Route(f"{API}/scrt/upload-result", upload_result, methods=["GET", "PUT"]),
    ]
