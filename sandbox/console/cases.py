"""The simulated Service Console's Cases: a list per agent and queue, and a Case record page.

Pages: ``/__sim/console/cases?org=&agent=`` lists the open Cases the agent owns and those waiting in a queue
(Omni-Channel routes a Case to its owner queue; an agent accepts it from there, as with "Automatically accept
work requests" off); ``/__sim/console/cases/{case id}?org=&agent=`` is the Case record page: its details,
Status and Owner to change, Close, the feed (FeedItems, CaseComments, Files) and the Switchboard Case chat
panel framed through the Canvas launcher (``/__sim/canvas/launch`` with the Case as the record), as the
Canvas component on a Lightning record page frames it.

Actions (form posts that redirect back): ``/__sim/console/cases/ui/{accept|status|owner|close}``. Each saves
the Case as an agent's save does, so its Change Data Capture event follows (sandbox/pubsub/cdc.py).
JSON for tests: ``GET /__sim/console/api/orgs/{org}/cases/{case}`` (the Case, feed, comments, files).
"""

from __future__ import annotations

from urllib.parse import urlencode, urljoin

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..salesforce import agent as agent_actions
from ..salesforce.canvas import canvas_app
from ..salesforce.case_records import files_of
from ..salesforce.ids import to18
from ..salesforce.org import Org, sf_datetime
from ..templating import templates

#: Case.Status's default values in a new org (Setup → Case Statuses); Closed is the closed one.
STATUSES = ("New", "Working", "Escalated", "Closed")
CLOSED = {"Closed"}


def save_case(org: Org, case_id: str, agent_id: str, values: dict) -> dict:
    """An agent's save of a Case: the values, what Salesforce derives from Status, the audit fields."""
    row = org.records.get("Case", case_id)
    if row is None:
        raise agent_actions.AgentError(404, f"no Case {case_id!r}")
    values = dict(values)
    if "Status" in values:
        if values["Status"] not in STATUSES:
            raise agent_actions.AgentError(400, f"{values['Status']!r} is not a Case status")
        closed = values["Status"] in CLOSED
        values["IsClosed"] = closed
        values["ClosedDate"] = (row.get("ClosedDate") or sf_datetime()) if closed else None
    values["LastModifiedById"] = agent_id
    return org.records.update("Case", row["Id"], values)


def queues(org: Org) -> list[dict]:
    return [g for g in org.records.all("Group") if g.get("Type") in ("Queue", None)]


def case_json(org: Org, row: dict) -> dict:
    owner = org.records.find(row.get("OwnerId") or "")
    contact = org.records.get("Contact", row.get("ContactId") or "")
    return {
        "record": dict(row),
        "owner": (owner[1].get("Name") if owner else "") or "",
        "ownerIsQueue": bool(owner and owner[0] == "Group"),
        "contact": (contact or {}).get("Name") or "",
    }


def feed_of(org: Org, case_id: str) -> list[dict]:
    """The Case's feed, oldest first: posts and comments together, as the Case's activity reads."""
    items = [
        {"kind": "post", "body": r.get("Body") or "", "at": r["CreatedDate"], "id": r["Id"]}
        for r in org.records.filter("FeedItem", ParentId=case_id)
    ]
    items += [
        {"kind": "comment", "body": r.get("CommentBody") or "", "at": r["CreatedDate"], "id": r["Id"]}
        for r in org.records.filter("CaseComment", ParentId=case_id)
    ]
    return sorted(items, key=lambda item: (item["at"], item["id"]))


def routes(world) -> list:
    def context_of(request: Request) -> tuple[Org | None, dict | None, dict]:
        params = request.query_params
        org = world.orgs.get(params.get("org", ""))
        if org is None and len(world.orgs.all()) == 1:
            org = world.orgs.all()[0]
        agent = org.records.get("User", params.get("agent", "")) if org else None
        agent = agent if agent and agent.get("IsAgent") else None
        context = {
            "request": request,
            "orgs": world.orgs.all(),
            "org": org,
            "agent": agent,
            "cases_url": cases_url,
        }
        if org is not None:
            context["agents"] = agent_actions.agents(org)
        context["flash"] = params.get("error")
        return org, agent, context

    def cases_url(org: Org | None, agent: dict | None, case_id: str = "") -> str:
        params = urlencode({"org": org.org_id if org else "", "agent": agent["Id"] if agent else ""})
        return f"/__sim/console/cases{'/' + case_id if case_id else ''}?{params}"

    def panel_url(request: Request, org: Org, agent: dict, case_id: str) -> str:
        app = canvas_app(org)
        target = request.query_params.get("panel") or (
            urljoin(app.canvas_url, "case/") if app is not None and app.canvas_url else ""
        )
        query = {"org": org.org_id, "user": agent["Username"], "record": case_id, "location": "Aura"}
        if target:
            query["url"] = target
        return "/__sim/canvas/launch?" + urlencode(query)

    async def list_page(request: Request) -> Response:
        org, agent, context = context_of(request)
        if org is not None:
            rows = [case_json(org, r) for r in org.records.all("Case")]
            rows.sort(key=lambda c: c["record"].get("CaseNumber") or "")
            context["mine"] = [
                c
                for c in rows
                if agent and c["record"]["OwnerId"] == agent["Id"] and not c["record"]["IsClosed"]
            ]
            context["queued"] = [c for c in rows if c["ownerIsQueue"] and not c["record"]["IsClosed"]]
            context["closed"] = [c for c in rows if c["record"]["IsClosed"]][-10:][::-1]
        return templates.TemplateResponse(request, "console/cases.html", context)

    async def case_page(request: Request) -> Response:
        org, agent, context = context_of(request)
        row = org.records.get("Case", request.path_params["case_id"]) if org else None
        if org is None or row is None:
            return Response("No such Case.", status_code=404)
        context.update(
            case=case_json(org, row),
            feed=feed_of(org, row["Id"]),
            files=files_of(org, row["Id"]),
            statuses=STATUSES,
            owners=[*queues(org), *agent_actions.agents(org)],
            panel=panel_url(request, org, agent, row["Id"]) if agent else "",
        )
        return templates.TemplateResponse(request, "console/case.html", context)

    async def ui_action(request: Request) -> Response:
        form = await request.form()
        org = world.orgs.get(str(form.get("org", "")))
        if org is None:
            return RedirectResponse("/__sim/console/cases", status_code=303)
        agent = org.records.get("User", str(form.get("agent", "")))
        if agent is None or not agent.get("IsAgent"):
            return RedirectResponse(cases_url(org, None), status_code=303)
        case_id = str(form.get("case", ""))
        action = request.path_params["action"]
        try:
            if action == "accept":  # Omni-Channel: the agent takes the Case from its queue
                save_case(org, case_id, agent["Id"], {"OwnerId": agent["Id"], "Status": "Working"})
            elif action == "status":
                save_case(org, case_id, agent["Id"], {"Status": str(form.get("status", ""))})
            elif action == "owner":
                owner = str(form.get("owner", ""))
                if org.records.find(owner) is None:
                    raise agent_actions.AgentError(400, "no such user or queue")
                save_case(org, case_id, agent["Id"], {"OwnerId": to18(owner)})
            elif action == "close":
                save_case(org, case_id, agent["Id"], {"Status": "Closed"})
            else:
                return Response("unknown action", status_code=404)
        except agent_actions.AgentError as error:
            back = cases_url(org, agent, case_id) + "&" + urlencode({"error": error.message})
            return RedirectResponse(back, status_code=303)
        return RedirectResponse(cases_url(org, agent, case_id), status_code=303)

    async def case_api(request: Request) -> Response:
        org = world.orgs.get(request.path_params["org_id"])
        row = org.records.get("Case", request.path_params["case_id"]) if org else None
        if org is None or row is None:
            return JSONResponse({"error": "no such org or Case"}, status_code=404)
        if request.method == "POST":  # {"agent", "Status"?, "OwnerId"?}: an agent's save, for e2e tests
            body = await request.json()
            try:
                values = {k: body[k] for k in ("Status", "OwnerId") if k in body}
                row = save_case(org, row["Id"], str(body.get("agent") or ""), values)
            except agent_actions.AgentError as error:
                return JSONResponse({"error": error.message}, status_code=error.status)
        data = case_json(org, row)
        data.update(
            feed=feed_of(org, row["Id"]),
            files=[{"Title": f["Title"], "Id": f["Id"]} for f in files_of(org, row["Id"])],
        )
        return JSONResponse(data)

    return [
        Route("/__sim/console/cases", list_page),
        Route("/__sim/console/cases/ui/{action}", ui_action, methods=["POST"]),
        Route("/__sim/console/cases/{case_id}", case_page),
        Route("/__sim/console/api/orgs/{org_id}/cases/{case_id}", case_api, methods=["GET", "POST"]),
    ]
